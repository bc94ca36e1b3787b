import type {Ports} from '../service/ports.js';

/**
 * Runs `load` with globalThis.fetch hidden. Ink's layout engine (yoga, WebAssembly built with
 * emscripten) loads its embedded wasm through fetch() when fetch exists: in Node that first loads
 * undici (~15 ms) and then fetches a data: URL; without fetch it decodes the same bytes directly.
 * Measured with --cpu-prof on the first frame.
 */
async function withoutFetch<T>(load: () => Promise<T>): Promise<T> {
	const descriptor = Object.getOwnPropertyDescriptor(globalThis, 'fetch');
	if (!descriptor?.configurable) return load();
	delete (globalThis as {fetch?: unknown}).fetch;
	try {
		return await load();
	} finally {
		Object.defineProperty(globalThis, 'fetch', descriptor);
	}
}

/**
 * The UI, loaded only when it opens: the other commands never load React or Ink. This module loads
 * nothing else: the first frame (`title`, what is known of the connections so far) is drawn before
 * `load` brings in the configuration, the adapters and the service (zod, execa, the XML parser),
 * which took ~60 ms of the start before (bench/ui-pty.mjs).
 */
export async function openUi(title: string, load: () => Promise<readonly Ports[]>): Promise<number> {
	// Before Ink (and its colour library) load: NO_COLOR means no colour escape at all.
	if ((process.env['NO_COLOR'] ?? '') !== '') process.env['FORCE_COLOR'] = '0';
	const {runUi} = await withoutFetch(() => import('../ui/run.js'));
	const loadKeymapOverrides = async () => (await (await import('../service/session.js')).readSettings()).config.keymap;
	return runUi(title, load, {loadKeymapOverrides});
}
