import os from 'node:os';
import {Box, Text, useApp} from 'ink';
import {useCallback, useEffect, useMemo, useReducer, useRef, useState} from 'react';
import {worstOf, type Severity} from '../core/health.js';
import type {Service} from '../service/service.js';
import {makeActions} from './actions.js';
import {HelpBar} from './components/help-bar.js';
import {JobsPanel, jobsPanelHeight} from './components/jobs-panel.js';
import {useFollow, useHealth, useInventory} from './hooks/use-inventory.js';
import {isActive, useJobs} from './hooks/use-jobs.js';
import {useKeypresses} from './hooks/use-keypresses.js';
import {useTerminalSize} from './hooks/use-terminal-size.js';
import {globalCommands, unavailableHere} from './global-keys.js';
import {displayKey, type Keymap} from './keymap.js';
import {coversBody, overlayContext, overlayKey, OverlayView, quitQuestion} from './overlays.js';
import {SCREENS} from './screens/index.js';
import type {ScreenBinding, ScreenContext} from './screens/screen.js';
import {cursorRow, initialState, reduce} from './state.js';
import {withCursor} from './text-edit.js';
import {useTheme} from './theme.js';

export interface AppProps {
	readonly service: Service;
	readonly keymap: Keymap;
	/** The clock for snapshot ages and default names; tests pass a fixed one. */
	readonly now?: () => Date;
	/** The keymap with the configuration's overrides, loaded after the first frame; `keymap` until then. */
	readonly loadKeymap?: () => Promise<Keymap>;
	/** Where several connections are open: which one this is, and the switch to the next. */
	readonly connections?: {readonly index: number; readonly count: number; readonly next: () => void};
	/** Leaves at once, without waiting for jobs to stop (a second quit while they are being cancelled). */
	readonly onForceQuit?: () => void;
	/** How often the inventory and the open view are read again on their own (health: six times less often). */
	readonly refreshMs?: number;
}

/** Below this, no screen can show a plan or a list usefully: the UI asks for a larger terminal. */
export const MIN_COLUMNS = 40;
export const MIN_ROWS = 12;

/** Another snapdeck, or virsh, changes VMs too: the screen follows by itself this often. */
export const AUTO_REFRESH_MS = 5000;
/** How long the adapter's change reports settle before the screen is read again. */
const CHANGE_SETTLE_MS = 150;

/**
 * The app: routes a key to the open overlay or else the current screen (screens/), and draws the
 * header, the body (the screen, or the overlay over it), the jobs, the status line and the keys.
 */
export function App({service, keymap: initialKeymap, loadKeymap, connections, onForceQuit, refreshMs = AUTO_REFRESH_MS, now = () => new Date()}: AppProps) {
	const {exit} = useApp();
	const theme = useTheme();
	const {columns, rows: terminalRows} = useTerminalSize();
	// One row short of the terminal: output as tall as the terminal makes Ink clear and repaint the
	// whole screen on every frame (measured: ~700 bytes a progress update instead of one line's worth).
	const rows = Math.max(3, terminalRows - 1);
	const [state, dispatch] = useReducer(reduce, initialState);
	const [keymap, setKeymap] = useState(initialKeymap);
	useEffect(() => {
		loadKeymap?.().then(setKeymap, (error: unknown) => dispatch({type: 'notice', text: `configuration not used: ${(error as Error).message}`}));
	}, [loadKeymap]);

	// Read again: `forced` on R and when a job ends, `tick` every refreshMs (a load at a time).
	const [refresh, setRefresh] = useState({tick: 0, forced: 0});
	const force = useCallback(() => setRefresh(current => ({...current, forced: current.forced + 1})), []);
	useEffect(() => {
		const tick = () => setRefresh(current => ({...current, tick: current.tick + 1}));
		const timer = setInterval(tick, refreshMs);
		// Where the adapter sees changes (a local lab's folders), a change is shown at once: a burst of them as one read.
		let soon: NodeJS.Timeout | undefined;
		const stop = service.watch(() => {
			clearTimeout(soon);
			soon = setTimeout(tick, CHANGE_SETTLE_MS);
		});
		return () => {
			clearInterval(timer);
			clearTimeout(soon);
			stop();
		};
	}, [refreshMs, service]);
	const inventory = useInventory(service);
	const health = useHealth(service, inventory.data !== null, now);
	useFollow(inventory, refresh);
	useFollow(health, refresh, 6);
	const jobs = useJobs(service, force);
	const actions = makeActions(service, jobs, dispatch, now, inventory.data);

	// A VM a job of this window is at work on is busy too, as one another snapdeck holds.
	const working = jobs.jobs.filter(job => isActive(job) && job.vm !== null).map(job => `${job.vm}\n${job.id}`).join('\t');
	const vms = useMemo(() => {
		const here = new Map(working ? working.split('\t').map(entry => entry.split('\n') as [string, string]) : []);
		const all = [...(inventory.data ?? [])].sort((a, b) => a.name.localeCompare(b.name)).map(vm => (here.has(vm.name) && !vm.busy ? {...vm, busy: `job ${here.get(vm.name)} here`} : vm));
		const needle = state.filter.toLowerCase();
		return needle ? all.filter(vm => vm.name.toLowerCase().includes(needle)) : all;
	}, [inventory.data, state.filter, working]);
	const badges = useMemo(() => new Map<string, Severity>((health.data ?? []).map(vm => [vm.vm, worstOf(vm.findings)])), [health.data]);

	// A plan waiting for an answer comes over whatever is open; while quitting, it is declined.
	useEffect(() => {
		if (!jobs.confirmation) return;
		if (state.overlay?.kind === 'quitting') jobs.answer(false);
		else dispatch({type: 'confirm', jobId: jobs.confirmation.jobId});
	}, [jobs.confirmation]);
	const running = jobs.jobs.filter(isActive).length;
	// Once every cancelled job has stopped at its safe point, the quit goes through.
	useEffect(() => {
		if (state.overlay?.kind === 'quitting' && state.overlay.phase === 'cancelling' && running === 0) exit();
	}, [state.overlay, running, exit]);

	const screen = SCREENS[state.screen];
	const context = state.overlay ? overlayContext(state.overlay, jobs) : state.screen;
	const bodyHeight = Math.max(3, rows - 3 - jobsPanelHeight(jobs.jobs, columns));
	const binding = useRef<ScreenBinding>({rows: [], vm: undefined, commands: {}});
	const screenContext: ScreenContext = {
		service, keymap, now, width: columns, height: bodyHeight, state, dispatch, inventory, vms, health, badges, jobs, actions, refresh,
		bind: next => {
			binding.current = next;
		},
	};
	const tooSmall = columns < MIN_COLUMNS || terminalRows < MIN_ROWS;

	useKeypresses(spec => {
		const command = keymap.commandFor(context, spec);
		// Nothing is acted on blind: in a terminal too small to show it, only quit works (and only with no job to ask about).
		if (tooSmall) {
			if (keymap.keys.quit.includes(spec) && running === 0) exit();
			return;
		}
		const say = (text: string | void) => dispatch({type: 'notice', text: text || null});
		say();
		if (state.overlay) {
			return say(overlayKey({overlay: state.overlay, command, spec, dispatch, jobs, actions, filter: state.filter, height: bodyHeight, width: columns, quit: {force: onForceQuit ?? exit}, keymap, screen: state.screen}));
		}
		if (command === undefined) return say(unavailableHere(spec, keymap, state.screen));
		const {rows: keys} = binding.current;
		const row = cursorRow(state.cursors[state.screen], keys);
		const page = Math.max(1, bodyHeight - 2);
		const moves = {up: row - 1, down: row + 1, pageUp: row - page, pageDown: row + page, top: 0, bottom: keys.length - 1} as const;
		if (command in moves) return dispatch({type: 'select', screen: state.screen, keys, row: moves[command as keyof typeof moves]});
		const act = binding.current.commands[command] ?? globalCommands({state, dispatch, jobs, running, force, vm: binding.current.vm, connections, exit})[command];
		return say(act ? act() : `${displayKey(spec)}: not available on ${screen.label}`);
	});

	if (tooSmall) {
		return (
			<Box flexDirection="column" width={columns} height={rows}>
				<Text wrap="wrap">snapdeck: the terminal is {columns}x{terminalRows}; it needs at least {MIN_COLUMNS}x{MIN_ROWS}.</Text>
				<Text wrap="wrap" color={theme.muted}>Enlarge it to go on{running > 0 ? ' (jobs keep running meanwhile)' : `, or ${displayKey(keymap.keys.quit[0] ?? '')} to quit`}.</Text>
			</Box>
		);
	}
	const covered = coversBody(state.overlay);
	const question = quitQuestion(state.overlay, running, keymap);
	const status = question ?? (state.overlay?.kind === 'filter' ? `filter: ${withCursor(state.filter, state.overlay.at)}` : state.notice ?? (state.filter ? `filter: ${state.filter}` : ' '));
	return (
		<Box flexDirection="column" width={columns} height={rows}>
			<Text wrap="truncate-end">
				<Text bold color={theme.accent}>snapdeck</Text> {service.hypervisor.uri}{connections ? ` (${connections.index + 1}/${connections.count})` : ''} <Text color={theme.muted}>on {os.hostname()}</Text> · {screen.title(state, vms.length)}
			</Text>
			{covered && state.overlay && (
				<OverlayView overlay={state.overlay} jobs={jobs} keymap={keymap} repository={vm => service.repository?.vmDir(vm) ?? ''} height={bodyHeight} width={columns} screen={{context: state.screen, label: screen.label}} />
			)}
			<screen.Component key={state.screen} context={screenContext} visible={!covered} />
			<Box flexGrow={1} />
			<JobsPanel jobs={jobs.jobs} width={columns} />
			<Text wrap="truncate-end" color={question || state.notice ? theme.warn : theme.muted}>{status}</Text>
			<HelpBar keymap={keymap} context={context} />
		</Box>
	);
}
