import os from 'node:os';
import {Box, useApp} from 'ink';
import {Text} from './components/text.js';
import {useEffect, useMemo, useReducer, useRef, useState} from 'react';
import {worstOf, type Severity} from '../core/health.js';
import type {Ports} from '../service/ports.js';
import {makeActions} from './actions.js';
import {HelpBar} from './components/help-bar.js';
import {MIN_COLUMNS, MIN_ROWS, TooSmall} from './components/too-small.js';
import {MessagesPanel} from './components/jobs-panel.js';
import {useMessages} from './hooks/use-messages.js';
import {fit, wrapWhole} from './layout.js';
import {messageCap, messageRows, type MessageEntry, type MessageTtl} from './messages.js';
import {useFollow, useHealth, useInventory, useShownVms} from './hooks/use-inventory.js';
import {isActive, useJobs} from './hooks/use-jobs.js';
import {useKeypresses} from './hooks/use-keypresses.js';
import {useRefresh} from './hooks/use-refresh.js';
import {useTerminalSize} from './hooks/use-terminal-size.js';
import {routeKey} from './route-key.js';
import {displayKey, type Keymap} from './keymap.js';
import {coversBody, overlayContext, overlayStatus, OverlayView, pagerOf} from './overlays/overlay-registry.js';
import {pagerGeometry} from './pager.js';
import {SCREENS} from './screens/screen-registry.js';
import type {ScreenBinding, ScreenContext} from './screens/screen.js';
import {initialState, reduce, type UiAction} from './state.js';
import {useTheme} from './theme.js';
import {errorMessage} from '../core/errors.js';
import {safeText} from '../core/terminal-text.js';

export interface AppProps {
	readonly service: Ports;
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
	/** How long an ended job's message stays under the view. */
	readonly messageTtl?: MessageTtl;
}


/** Another snapdeck, or virsh, changes VMs too: the screen follows by itself this often. */
export const AUTO_REFRESH_MS = 5000;

/**
 * The keymap: the table given, then the configuration's, read once the VM list has its first
 * answer (loading the configuration library before it held the list back, ~35 ms, --cpu-prof of
 * the start); a configuration that cannot be used is said, and the table given stays.
 */
function useConfiguredKeymap(initial: Keymap, load: AppProps['loadKeymap'], listed: boolean, dispatch: (action: UiAction) => void): Keymap {
	const [keymap, setKeymap] = useState(initial);
	const asked = useRef(false);
	useEffect(() => {
		if (!listed || asked.current) return;
		asked.current = true;
		load?.().then(setKeymap, (error: unknown) => dispatch({type: 'notice', text: `configuration not used: ${errorMessage(error)}`}));
	}, [listed, load, dispatch]);
	return keymap;
}

/**
 * A plan waiting for an answer comes over whatever is open; while quitting, it is declined. Only
 * a new plan does this: the overlay is read through a ref, so opening another does not repeat it.
 */
function usePlansOnTop(overlay: string | undefined, jobs: ReturnType<typeof useJobs>, dispatch: (action: UiAction) => void): void {
	const overlayKind = useRef(overlay);
	overlayKind.current = overlay;
	const {confirmation, answer} = jobs;
	useEffect(() => {
		if (!confirmation) return;
		if (overlayKind.current === 'quitting') answer(false);
		else dispatch({type: 'confirm', jobId: confirmation.jobId});
	}, [confirmation, answer, dispatch]);
}

/**
 * The app: routes a key to the open overlay or else the current screen (screens/), and draws the
 * header, the body (the screen, or the overlay over it), the jobs, the status line and the keys.
 */
export function App({service, keymap: initialKeymap, loadKeymap, connections, onForceQuit, refreshMs = AUTO_REFRESH_MS, messageTtl, now = () => new Date()}: AppProps) {
	const {exit} = useApp();
	const theme = useTheme();
	const {columns, rows: terminalRows} = useTerminalSize();
	// One row short of the terminal: output as tall as the terminal makes Ink clear and repaint the
	// whole screen on every frame (measured: ~700 bytes a progress update instead of one line's worth).
	const rows = Math.max(3, terminalRows - 1);
	const [state, dispatch] = useReducer(reduce, initialState);

	const {refresh, force} = useRefresh(service, refreshMs);
	const inventory = useInventory(service);
	const keymap = useConfiguredKeymap(initialKeymap, loadKeymap, inventory.data !== null || inventory.error !== null, dispatch);
	const health = useHealth(service, inventory.data !== null, now);
	useFollow(inventory, refresh);
	useFollow(health, refresh, 6);
	const jobs = useJobs(service, force);
	const actions = makeActions(service, jobs, dispatch, now, inventory.data);

	const vms = useShownVms(inventory.data, state.filter, jobs.jobs);
	const badges = useMemo(() => new Map<string, Severity>((health.data ?? []).map(vm => [vm.vm, worstOf(vm.findings)])), [health.data]);

	// A plan waiting for an answer comes over whatever is open; while quitting, it is declined. Only
	// a new plan does this: the overlay is read through a ref, so opening another does not repeat it.
	usePlansOnTop(state.overlay?.kind, jobs, dispatch);
	const running = jobs.jobs.filter(isActive).length;
	// Once every cancelled job has stopped at its safe point, the quit goes through; a question
	// about jobs that have all ended meanwhile is moot: it goes, and says so.
	const quitting = state.overlay?.kind === 'quitting' ? state.overlay.phase : null;
	useEffect(() => {
		if (quitting === 'cancelling' && running === 0) exit();
		if (quitting === 'asked' && running === 0) {
			dispatch({type: 'close'});
			dispatch({type: 'notice', text: `no job runs any more: ${displayKey(keymap.keys.quit[0] ?? '')} quits`});
		}
	}, [quitting, running, exit, keymap]);

	const screen = SCREENS[state.screen];
	const context = state.overlay ? overlayContext(state.overlay, jobs) : state.screen;
	const messages = useMessages(jobs.jobs, messageTtl);
	// The open overlay's own line (the filter being typed, the quit question), else the note, else the filter kept.
	const said = overlayStatus(state.overlay, {filter: state.filter, running, keymap});
	const status = said?.text ?? state.notice ?? (state.filter ? `filter: ${state.filter}` : ' ');
	// The jobs screen lists every job: the messages would say it twice.
	const {messageLines, statusLines, bodyHeight} = frameLayout(state.screen === 'jobs' ? [] : messages.entries, status, columns, rows, displayKey(keymap.keys.jobs[0] ?? ''));
	const binding = useRef<ScreenBinding>({rows: [], vm: undefined, commands: {}});
	const screenContext: ScreenContext = {
		service, keymap, now, width: columns, height: bodyHeight, state, dispatch, inventory, vms, health, badges, jobs, actions, refresh,
		bind: next => {
			binding.current = next;
		},
	};
	const tooSmall = columns < MIN_COLUMNS || terminalRows < MIN_ROWS;
	// A pager (a plan, a detail view, the help) in a small terminal covers all of it but the keys,
	// and, but for a plan (a decision, all its rows its own), the jobs' messages.
	const pagerKind = pagerOf(state.overlay, jobs);
	const geometry = pagerGeometry(columns, terminalRows, bodyHeight, rows - 1 - (pagerKind === 'plan' ? 0 : messageLines.length));
	const pagerCovers = pagerKind !== null && geometry.fullScreen;

	useKeypresses(spec => {
		// Nothing is acted on blind: in a terminal too small to show it, only quit works (and only with no job to ask about).
		if (tooSmall) {
			if (keymap.keys.quit.includes(spec) && running === 0) return exit();
			return dispatch({type: 'notice', text: `${displayKey(spec)} was not acted on: the terminal was too small to show it`});
		}
		routeKey(spec, {context, state, dispatch, keymap, jobs, actions, running, force, clearMessages: messages.clear, binding: binding.current, height: bodyHeight, width: columns, geometry, connections, exit, forceQuit: onForceQuit ?? exit, roleProblem: (role, doing) => service.roleProblem(role, doing)});
	});

	if (tooSmall) return <TooSmall columns={columns} rows={terminalRows} quitKey={running > 0 ? null : displayKey(keymap.keys.quit[0] ?? '')} notice={state.notice} />;
	const covered = coversBody(state.overlay);
	return (
		<Box flexDirection="column" width={columns} height={rows}>
			{!pagerCovers && (
				<Header uri={`${service.connection.uri}${connections ? ` (${connections.index + 1}/${connections.count})` : ''}`} where={screen.title(state, vms.length)} width={columns} />
			)}
			<Box flexDirection="column" height={pagerCovers ? geometry.height : bodyHeight} overflow="hidden">
				{covered && state.overlay && (
					<OverlayView overlay={state.overlay} jobs={jobs} keymap={keymap} repository={vm => service.repository?.vmDir(vm) ?? ''} height={bodyHeight} width={columns} geometry={geometry} notice={state.notice} screen={{context: state.screen, label: screen.label}} />
				)}
				<screen.Component key={state.screen} context={screenContext} visible={!covered} />
			</Box>
			{(!pagerCovers || pagerKind === 'view') && <MessagesPanel rows={messageLines} />}
			{!pagerCovers && statusLines.map((line, index) => <Text key={index} wrap="truncate-end" color={said?.warn || state.notice ? theme.warn : theme.muted}>{line || ' '}</Text>)}
			<HelpBar keymap={keymap} context={context} width={columns} />
		</Box>
	);
}

/**
 * Where the operator is, always: the connection, the host, the screen. Where that does not fit
 * (a phone's SSH client), the host goes first, then the screen comes before the connection.
 */
function Header({uri, where, width}: {uri: string; where: string; width: number}) {
	const theme = useTheme();
	const host = os.hostname();
	const fits = (text: string) => [...safeText(text)].length <= width;
	if (fits(`snapdeck ${uri} on ${host} · ${where}`)) return <Text wrap="truncate-end"><Text bold color={theme.accent}>snapdeck</Text> {uri} <Text color={theme.muted}>on {host}</Text> · {where}</Text>;
	if (fits(`snapdeck ${uri} · ${where}`)) return <Text wrap="truncate-end"><Text bold color={theme.accent}>snapdeck</Text> {uri} · {where}</Text>;
	return <Text wrap="truncate-end"><Text bold color={theme.accent}>snapdeck</Text> · {where} <Text color={theme.muted}>· {uri}</Text></Text>;
}

/** Rows the body keeps at least (the list's heading and three VMs) while a note or messages are shown. */
const MIN_BODY = 4;

/**
 * How the frame's rows are shared below the header: the messages (bounded, messages.ts), the
 * status line (a note wraps whole, on as many rows as the body can spare), the help bar, and the
 * body, which gets the rest, exactly.
 */
function frameLayout(entries: readonly MessageEntry[], status: string, columns: number, rows: number, jobsKey: string) {
	const messageLines = messageRows(entries, columns, messageCap(rows), jobsKey);
	const spare = Math.max(1, rows - 2 - MIN_BODY - messageLines.length);
	const wrapped = wrapWhole(status, columns, 2);
	const statusLines = wrapped.length <= spare ? wrapped : [...wrapped.slice(0, spare - 1), fit(wrapped.slice(spare - 1).join(' '), columns)];
	return {messageLines, statusLines, bodyHeight: Math.max(3, rows - 2 - messageLines.length - statusLines.length)};
}
