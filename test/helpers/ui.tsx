import {render} from 'ink-testing-library';
import {useState, type ReactElement} from 'react';
import {expect} from 'vitest';
import type {Ports} from '../../source/service/ports.js';
import {App} from '../../source/ui/app.js';
import {Root} from '../../source/ui/run.js';
import {buildKeymap, type Command, type Keymap} from '../../source/ui/keymap.js';
import type {MessageTtl} from '../../source/ui/messages.js';
import {ThemeContext, themeFor} from '../../source/ui/theme.js';
import {afterEachTest} from './cleanup.js';

const RAW: Record<string, string> = {
	up: '\x1b[A',
	down: '\x1b[B',
	left: '\x1b[D',
	right: '\x1b[C',
	enter: '\r',
	escape: '\x1b',
	tab: '\t',
	'shift+tab': '\x1b[Z',
	backspace: '\x7f',
	delete: '\x1b[3~',
	pageup: '\x1b[5~',
	pagedown: '\x1b[6~',
	home: '\x1b[H',
	end: '\x1b[F',
};
/** What the terminal sends for a key spec. */
export const rawKey = (spec: string) =>
	RAW[spec] ?? (spec.startsWith('ctrl+') ? String.fromCharCode(spec.charCodeAt(5) - 96) : spec);

export const FIXED_NOW = new Date('2026-11-25T12:00:00Z');
export const stripAnsi = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, '');

const mounted: Array<() => void> = [];
// After each test: the apps it rendered are unmounted.
afterEachTest('apps', 0, () => {
	for (const unmount of mounted.splice(0)) unmount();
});

/** Renders the app at 80x24, as an operator's SSH terminal would be, and drives it by keymap commands. */
export function renderApp(
	service: Ports,
	options: {
		keymap?: Keymap;
		noColor?: boolean;
		loadKeymap?: () => Promise<Keymap>;
		refreshMs?: number;
		messageTtl?: MessageTtl;
	} = {},
) {
	const keymap = options.keymap ?? buildKeymap();
	return drive(
		<ThemeContext.Provider value={themeFor(options.noColor ?? true)}>
			<App
				service={service}
				keymap={keymap}
				now={() => FIXED_NOW}
				{...(options.loadKeymap ? {loadKeymap: options.loadKeymap} : {})}
				{...(options.refreshMs ? {refreshMs: options.refreshMs} : {})}
				{...(options.messageTtl ? {messageTtl: options.messageTtl} : {})}
			/>
		</ThemeContext.Provider>,
		keymap,
	);
}

/** The app on several connections, switched with the connection key, as `runUi` does. */
export function renderAppOn(services: readonly Ports[]) {
	const keymap = buildKeymap();
	function Switching() {
		const [index, setIndex] = useState(0);
		return (
			<App
				key={index}
				service={services[index]!}
				keymap={keymap}
				now={() => FIXED_NOW}
				connections={{index, count: services.length, next: () => setIndex(current => (current + 1) % services.length)}}
			/>
		);
	}
	return drive(
		<ThemeContext.Provider value={themeFor(true)}>
			<Switching />
		</ThemeContext.Provider>,
		keymap,
	);
}

/** What `snapdeck` shows from its first frame on: the starting frame until `load` gives the services, then the app. */
export function renderStart(
	title: string,
	load: () => Promise<readonly Ports[]>,
	onLoadError: (error: unknown) => void = () => undefined,
) {
	return drive(
		<ThemeContext.Provider value={themeFor(true)}>
			<Root title={title} load={load} options={{}} onLoadError={onLoadError} />
		</ThemeContext.Provider>,
		buildKeymap(),
	);
}

function drive(element: ReactElement, keymap: Keymap) {
	const instance = render(element);
	/** The terminal changes size, as a resized window tells the app. */
	const resize = (columns: number, rows: number) => {
		Object.defineProperty(instance.stdout, 'columns', {value: columns, configurable: true});
		Object.defineProperty(instance.stdout, 'rows', {value: rows, configurable: true});
		instance.stdout.emit('resize');
	};
	resize(80, 24);
	mounted.push(instance.unmount);
	const frame = () => stripAnsi(instance.lastFrame() ?? '');
	return {
		...instance,
		keymap,
		frame,
		resize,
		/** Presses the first key the keymap binds to `command`. */
		press: (command: Command) => instance.stdin.write(rawKey(keymap.keys[command][0]!)),
		type: (text: string) => instance.stdin.write(text),
		/** Whether the app has stopped reading keys: ink let go of the terminal's input, as it does on exit. */
		exited: () => instance.stdin.listenerCount('readable') === 0,
		/** Waits until the app has exited (see exited). */
		async waitForExit(timeoutMs = 20_000) {
			const deadline = Date.now() + timeoutMs;
			while (instance.stdin.listenerCount('readable') > 0) {
				if (Date.now() > deadline) expect.fail(`the app never exited; last frame:\n${frame()}`);
				await new Promise(resolve => setTimeout(resolve, 20));
			}
		},
		/** Waits until the frame satisfies `predicate` (the app loads and runs jobs asynchronously). */
		async waitFor(predicate: (frame: string) => boolean, what: string, timeoutMs = 20_000) {
			const deadline = Date.now() + timeoutMs;
			while (!predicate(frame())) {
				if (Date.now() > deadline) expect.fail(`the screen never showed ${what}; last frame:\n${frame()}`);
				await new Promise(resolve => setTimeout(resolve, 20));
			}
			return frame();
		},
	};
}
