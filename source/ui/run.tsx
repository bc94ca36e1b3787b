import {render} from 'ink';
import {useState} from 'react';
import type {Service} from '../service/service.js';
import {App} from './app.js';
import {ErrorBoundary} from './error-boundary.js';
import {buildKeymap} from './keymap.js';
import {noColorRequested, ThemeContext, themeFor} from './theme.js';

const ENTER_ALTERNATE_SCREEN = '\x1b[?1049h\x1b[H';
const LEAVE_ALTERNATE_SCREEN = '\x1b[?25h\x1b[?1049l';

export interface UiOptions {
	/** Read after the first frame is on screen (the configuration library is not small). */
	readonly loadKeymapOverrides?: () => Promise<Readonly<Record<string, readonly string[]>> | undefined>;
}

/**
 * Opens the UI on the alternate screen and gives the terminal back as it was on quit, Ctrl-C,
 * SIGTERM, SIGHUP (the SSH connection dropped) and crashes.
 */
/** The app on one of several connections; the connection command switches to the next. */
function Connections({services, options}: {services: readonly Service[]; options: UiOptions}) {
	const [index, setIndex] = useState(0);
	const [keymap] = useState(() => buildKeymap());
	return (
		<App
			key={index} service={services[index]!} keymap={keymap}
			loadKeymap={options.loadKeymapOverrides && (async () => buildKeymap(await options.loadKeymapOverrides!()))}
			connections={services.length > 1 ? {index, count: services.length, next: () => setIndex(current => (current + 1) % services.length)} : undefined}
		/>
	);
}

export async function runUi(services: readonly Service[], options: UiOptions = {}): Promise<number> {
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
	const instance = render(
		<ThemeContext.Provider value={themeFor(noColorRequested())}>
			<ErrorBoundary onError={error => { failure = error; instance.unmount(); }}>
				<Connections services={services} options={options} />
			</ErrorBoundary>
		</ThemeContext.Provider>,
		// Ctrl-C is a key of the keymap (quit), so it goes through the same path as 'q'. Progress is
		// throttled where it is produced (use-jobs: 4 updates a second); the frame rate cap only
		// bounds bursts, and at 10 fps it made every keystroke within 100 ms of the last frame wait
		// for the next slot (measured: 111 ms a keystroke; bench/ui-pty.mjs).
		{exitOnCtrlC: false, incrementalRendering: true, maxFps: 60, patchConsole: true},
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
	if (failure) {
		process.stderr.write(`snapdeck: the UI stopped on an internal error: ${(failure as Error).message}\n`);
		return 1;
	}
	return 0;
}
