import os from 'node:os';
import {Box, useApp} from 'ink';
import {Text} from './components/text.js';
import {useReducer, useRef} from 'react';
import type {Ports} from '../service/ports.js';
import {HelpBar} from './components/help-bar.js';
import {TooSmall} from './components/too-small.js';
import {MessagesPanel} from './components/jobs-panel.js';
import {arrangeFrame, type Frame} from './frame-layout.js';
import {useAppData} from './hooks/use-app-data.js';
import {useAppKeys} from './hooks/use-app-keys.js';
import {keysOverlay, usePlanningHold, usePlansOnTop, useQuitWhenStopped} from './hooks/use-job-overlays.js';
import {useMessages} from './hooks/use-messages.js';
import type {MessageTtl} from './messages.js';
import {isActive} from './hooks/use-jobs.js';
import {useTerminalSize} from './hooks/use-terminal-size.js';
import {displayKey, type Context, type Keymap} from './keymap.js';
import {coversBody, overlayContext, OverlayView} from './overlays/overlay-registry.js';
import {SCREENS} from './screens/screen-registry.js';
import type {ScreenBinding, ScreenContext} from './screens/screen.js';
import {initialState, reduce} from './state.js';
import {useTheme} from './theme.js';
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
 * The app: routes a key to the open overlay or else the current screen (screens/), and draws the
 * header, the body (the screen, or the overlay over it), the jobs, the status line and the keys.
 */
export function App({
	service,
	keymap: initialKeymap,
	loadKeymap,
	connections,
	onForceQuit,
	refreshMs = AUTO_REFRESH_MS,
	messageTtl,
	now = () => new Date(),
}: AppProps) {
	const {exit} = useApp();
	const {columns, rows: terminalRows} = useTerminalSize();
	const [state, dispatch] = useReducer(reduce, initialState);
	const {force, shared} = useAppData(
		{service, keymap: initialKeymap, loadKeymap, refreshMs, now},
		state.filter,
		dispatch,
	);
	const {keymap, jobs} = shared;

	usePlansOnTop(state.overlay?.kind, jobs, dispatch);
	usePlanningHold(state.overlay, jobs, dispatch);
	const running = jobs.jobs.filter(isActive).length;
	useQuitWhenStopped(state.overlay, running, exit, keymap, dispatch);

	// Keys go to the planning hold from the render in which a change appears (see keysOverlay).
	const keyOverlay = keysOverlay(state.overlay, jobs);
	const context = keyOverlay ? overlayContext(keyOverlay, jobs) : state.screen;
	const messages = useMessages(jobs.jobs, messageTtl);
	const frame = arrangeFrame({state, jobs, keymap, running, messages: messages.entries, columns, terminalRows});
	const binding = useRef<ScreenBinding>({rows: [], vm: undefined, commands: {}});
	const bind = (next: ScreenBinding) => {
		binding.current = next;
	};
	const screenContext: ScreenContext = {
		...shared,
		service,
		now,
		width: columns,
		height: frame.bodyHeight,
		state,
		dispatch,
		bind,
	};
	useAppKeys(
		keyOverlay === state.overlay ? screenContext : {...screenContext, state: {...state, overlay: keyOverlay}},
		{
			context,
			frame,
			binding,
			running,
			force,
			clearMessages: messages.clear,
			connections,
			exit,
			forceQuit: onForceQuit ?? exit,
		},
	);
	return (
		<AppFrame
			screenContext={screenContext}
			frame={frame}
			context={context}
			connections={connections}
			running={running}
		/>
	);
}

/** What the app draws: the header, the body (the screen, or the overlay over it), the jobs' messages, the status line and the keys. */
function AppFrame({
	screenContext,
	frame,
	context,
	connections,
	running,
}: {
	screenContext: ScreenContext;
	frame: Frame;
	context: Context;
	connections: AppProps['connections'];
	running: number;
}) {
	const theme = useTheme();
	const {service, keymap, state, jobs, vms} = screenContext;
	const {columns, rows, bodyHeight, geometry, pagerCovers} = frame;
	if (frame.tooSmall)
		return (
			<TooSmall
				columns={columns}
				rows={frame.terminalRows}
				quitKey={running > 0 ? null : displayKey(keymap.keys.quit[0] ?? '')}
				notice={state.notice}
			/>
		);
	const screen = SCREENS[state.screen];
	const covered = coversBody(state.overlay);
	return (
		<Box flexDirection="column" width={columns} height={rows}>
			{!pagerCovers && (
				<Header
					uri={`${service.connection.uri}${connections ? ` (${connections.index + 1}/${connections.count})` : ''}`}
					where={screen.title(state, vms.length)}
					width={columns}
				/>
			)}
			<Box flexDirection="column" height={pagerCovers ? geometry.height : bodyHeight} overflow="hidden">
				{covered && state.overlay && (
					<OverlayView
						overlay={state.overlay}
						jobs={jobs}
						keymap={keymap}
						repository={vm => service.repository?.vmDir(vm) ?? ''}
						height={bodyHeight}
						width={columns}
						geometry={geometry}
						notice={state.notice}
						screen={{context: state.screen, label: screen.label}}
					/>
				)}
				<screen.Component key={state.screen} context={screenContext} visible={!covered} />
			</Box>
			{(!pagerCovers || frame.pagerKind === 'view') && <MessagesPanel rows={frame.messageLines} />}
			{!pagerCovers &&
				frame.statusLines.map((line, index) => (
					<Text key={index} wrap="truncate-end" color={frame.statusWarns ? theme.warn : theme.muted}>
						{line || ' '}
					</Text>
				))}
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
	if (fits(`snapdeck ${uri} on ${host} · ${where}`))
		return (
			<Text wrap="truncate-end">
				<Text bold color={theme.accent}>
					snapdeck
				</Text>{' '}
				{uri} <Text color={theme.muted}>on {host}</Text> · {where}
			</Text>
		);
	if (fits(`snapdeck ${uri} · ${where}`))
		return (
			<Text wrap="truncate-end">
				<Text bold color={theme.accent}>
					snapdeck
				</Text>{' '}
				{uri} · {where}
			</Text>
		);
	return (
		<Text wrap="truncate-end">
			<Text bold color={theme.accent}>
				snapdeck
			</Text>{' '}
			· {where} <Text color={theme.muted}>· {uri}</Text>
		</Text>
	);
}
