import os from 'node:os';
import {Box, render, useApp} from 'ink';
import {Text} from './components/text.js';
import {useEffect, useRef, useState} from 'react';
import type {Jobs, Ports} from '../service/ports.js';
import {App} from './app.js';
import {HelpBar} from './components/help-bar.js';
import {ErrorBoundary} from './error-boundary.js';
import {useKeypresses} from './hooks/use-keypresses.js';
import {useTerminalSize} from './hooks/use-terminal-size.js';
import {buildKeymap, type Keymap} from './keymap.js';
import {noColorRequested, ThemeContext, themeFor, useTheme} from './theme.js';
import {asciiRequested, asciiStream} from './ascii.js';
import {safeText} from '../core/terminal-text.js';

const ENTER_ALTERNATE_SCREEN = '\x1b[?1049h\x1b[H';
const LEAVE_ALTERNATE_SCREEN = '\x1b[?25h\x1b[?1049l';

export interface UiOptions {
	/** Read after the first frame is on screen (the configuration library is not small). */
	readonly loadKeymapOverrides?: () => Promise<Readonly<Record<string, readonly string[]>> | undefined>;
}

/**
 * The first frame, drawn while the configuration, the adapters and the service load: the same
 * header, footer and height as the app's, so that the app replaces only the lines that differ.
 */
function Starting({title, keymap}: {title: string; keymap: Keymap}) {
	const {exit} = useApp();
	const theme = useTheme();
	const {columns, rows: terminalRows} = useTerminalSize();
	useKeypresses(spec => {
		if (keymap.commandFor('starting', spec) === 'quit') exit();
	});
	return (
		<Box flexDirection="column" width={columns} height={Math.max(3, terminalRows - 1)}>
			<Text wrap="truncate-end">
				<Text bold color={theme.accent}>
					snapdeck
				</Text>{' '}
				{title} <Text color={theme.muted}>on {os.hostname()}</Text> · starting
			</Text>
			<Text color={theme.muted}>{title === '' ? 'reading the configuration…' : `connecting to ${title}…`}</Text>
			<Box flexGrow={1} />
			<Text> </Text>
			<HelpBar keymap={keymap} context="starting" width={columns} />
		</Box>
	);
}

/** The starting frame until `load` gives the services, then the app on one of them. */
export function Root({
	title,
	load,
	options,
	onLoadError,
}: {
	title: string;
	load: () => Promise<readonly Ports[]>;
	options: UiOptions;
	onLoadError: (error: unknown) => void;
}) {
	const [keymap] = useState(() => buildKeymap());
	const [services, setServices] = useState<readonly Ports[] | null>(null);
	// Loaded once, with the props of the first render: a later render does not connect again.
	const first = useRef({load, onLoadError});
	useEffect(() => {
		first.current.load().then(setServices, first.current.onLoadError);
	}, []);
	return services === null ? (
		<Starting title={title} keymap={keymap} />
	) : (
		<Connections services={services} options={options} keymap={keymap} />
	);
}

/**
 * Leaves without waiting for jobs to reach a safe point: this process's locks are released, its
 * child processes go with it, and the terminal is restored by the exit handler.
 */
function forceQuit(service: Jobs): void {
	service.releaseHeldLocks();
	process.exit(130);
}

/** The app on one of several connections; the connection command switches to the next. */
function Connections({services, options, keymap}: {services: readonly Ports[]; options: UiOptions; keymap: Keymap}) {
	const [index, setIndex] = useState(0);
	return (
		<App
			key={index}
			service={services[index]!}
			keymap={keymap}
			onForceQuit={() => forceQuit(services[index]!)}
			loadKeymap={options.loadKeymapOverrides && (async () => buildKeymap(await options.loadKeymapOverrides!()))}
			connections={
				services.length > 1
					? {index, count: services.length, next: () => setIndex(current => (current + 1) % services.length)}
					: undefined
			}
		/>
	);
}

/**
 * Opens the UI on the alternate screen and gives the terminal back as it was on quit, Ctrl-C,
 * SIGTERM, SIGHUP (the SSH connection dropped) and crashes. `load` runs after the first frame; what
 * it throws (an unknown connection, say) closes the UI and is thrown from here, for the caller to report.
 */
export async function runUi(
	title: string,
	load: () => Promise<readonly Ports[]>,
	options: UiOptions = {},
): Promise<number> {
	const stdout = process.stdout;
	let restored = false;
	const restore = () => {
		if (restored) return;
		restored = true;
		stdout.write(LEAVE_ALTERNATE_SCREEN);
	};
	stdout.write(ENTER_ALTERNATE_SCREEN);
	process.on('exit', restore);

	let failure: Error | null = null;
	let loadError: unknown = null;
	const instance = render(
		<ThemeContext.Provider value={themeFor(noColorRequested())}>
			<ErrorBoundary
				onError={error => {
					failure = error;
					instance.unmount();
				}}
			>
				<Root
					title={title}
					load={load}
					options={options}
					onLoadError={error => {
						loadError = error;
						instance.unmount();
					}}
				/>
			</ErrorBoundary>
		</ThemeContext.Provider>,
		// Ctrl-C is a key of the keymap (quit), so it goes through the same path as 'q'. Progress is
		// throttled where it is produced (use-jobs: 4 updates a second); the frame rate cap only
		// bounds bursts, and at 10 fps it made every keystroke within 100 ms of the last frame wait
		// for the next slot (measured: 111 ms a keystroke; bench/ui-pty.mjs).
		{
			exitOnCtrlC: false,
			incrementalRendering: true,
			maxFps: 60,
			patchConsole: true,
			stdout: asciiRequested() ? asciiStream(stdout) : stdout,
		},
	);
	const stop = () => instance.unmount();
	const crash = (error: unknown) => {
		failure = error instanceof Error ? error : new Error(String(error));
		instance.unmount();
	};
	process.on('SIGTERM', stop);
	process.on('SIGHUP', stop);
	process.on('uncaughtException', crash);
	process.on('unhandledRejection', crash);
	try {
		await instance.waitUntilExit();
	} finally {
		process.off('SIGTERM', stop);
		process.off('SIGHUP', stop);
		process.off('uncaughtException', crash);
		process.off('unhandledRejection', crash);
		restore();
	}
	if (loadError !== null) throw loadError;
	if (failure) {
		process.stderr.write(`snapdeck: the UI stopped on an internal error: ${safeText((failure as Error).message)}\n`);
		return 1;
	}
	return 0;
}
