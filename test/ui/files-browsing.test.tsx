import {afterEach, describe, expect, it, vi} from 'vitest';
import {BackupPoint} from '../../source/core/backup-manifest.js';
import {SnapdeckError} from '../../source/core/errors.js';
import type {GuestEntry} from '../../source/core/guest-files.js';
import type {Ports} from '../../source/service/ports.js';
import {BROWSE_IDLE_MS} from '../../source/ui/hooks/use-file-listing.js';
import {memoryLab} from '../helpers/memory-lab.js';
import {renderApp} from '../helpers/ui.js';

const POINT = '20261125T110000Z';

const entry = (name: string, type: 'file' | 'directory'): GuestEntry => ({
	name,
	escapedName: name,
	type,
	mode: type === 'directory' ? 'drwxr-xr-x' : '-rw-r--r--',
	size: 4096,
	uid: 0,
	gid: 0,
});

/** The folders of the fake point. */
const TREE: Record<string, GuestEntry[]> = {
	'/': [entry('aa', 'directory'), entry('bb', 'directory'), entry('ff', 'file')],
	'/aa': [entry('inner', 'file')],
	'/bb': [entry('other', 'file')],
};

/**
 * The files of one backup point of f1, as libguestfs would give them, with what the real ones
 * do to the VM's backups: a browser and an extraction each lock them (a second is refused while
 * one holds them). A listing or an extraction of a path in `held` waits until let go.
 */
function fakeFiles() {
	const lab = memoryLab('f1');
	const calls: string[] = [];
	const held = new Map<string, {wait: Promise<void>; go: () => void}>();
	let holder: string | null = null;
	const lock = (who: string) => {
		if (holder !== null)
			throw new SnapdeckError('failed', `the backups of 'f1' are locked by ${holder} (another snapdeck runs it)`);
		holder = who;
	};
	const gate = async (what: string) => await held.get(what)?.wait;
	const point = BackupPoint.parse({
		id: POINT,
		kind: 'full',
		createdAt: '2026-11-25T11:00:00Z',
		parent: null,
		state: 'complete',
		files: [
			{
				disk: 'vda',
				file: `vda/${POINT}.qcow2`,
				backing: null,
				virtualSize: 1 << 20,
				size: 1 << 20,
				sha256: '0'.repeat(64),
			},
		],
		bitmap: null,
		definition: {},
	});
	const service: Ports = {
		...lab.service,
		backups: async () => [point],
		browseFiles: async () => {
			lock('the browsing');
			calls.push('open');
			let open = true;
			return {
				list: async (path?: string) => {
					calls.push(`list ${path}`);
					await gate(path ?? '');
					if (!open) throw new SnapdeckError('failed', 'the browsing has ended');
					return {kind: 'entries' as const, device: '/dev/sda', path: path ?? '/', entries: TREE[path ?? '/'] ?? []};
				},
				close: async () => {
					if (open) calls.push('close');
					if (open) holder = null;
					open = false;
				},
				get open() {
					return open;
				},
			};
		},
		extractFiles: async (_vm, options) => {
			lock('the extraction');
			calls.push(`extract ${options.path}`);
			try {
				await gate(`extract ${options.path}`);
			} finally {
				holder = null;
			}
			return {
				device: '/dev/sda',
				path: options.path ?? '/',
				written: `/tmp/out${options.path}`,
				copied: 1,
				bytes: 1,
				skipped: [],
			} as never;
		},
	};
	return {
		service,
		calls,
		/** Holds the listing (or `extract PATH`) of `what` until the function returned is called. */
		hold(what: string) {
			let go = () => {};
			const wait = new Promise<void>(resolve => (go = resolve));
			held.set(what, {wait, go});
			return () => {
				held.delete(what);
				go();
			};
		},
	};
}

async function toFiles(service: Ports) {
	const ui = renderApp(service);
	await ui.waitFor(frame => /▸ . f1/.test(frame), 'the VM list');
	ui.press('backups');
	await ui.waitFor(frame => frame.includes(POINT), 'the backup point');
	ui.press('files');
	return ui;
}

afterEach(() => {
	vi.restoreAllMocks();
});

describe("a point's files, while folders load", () => {
	it('keys pressed while a folder is read act on nothing of the folder before: Enter and x wait for its rows', async () => {
		const files = fakeFiles();
		const ui = await toFiles(files.service);
		await ui.waitFor(frame => /▸ d\S+ +\S+ +\S+ +aa\//.test(frame), 'the root folder, on aa');
		const letA = files.hold('/aa');
		// Into aa, then at once down, Enter and x: on the root's rows, those would be bb and ff.
		ui.press('open');
		await ui.waitFor(frame => frame.includes('reading /aa'), 'aa being read');
		ui.press('down');
		ui.press('open');
		ui.press('extract');
		ui.press('help');
		await ui.waitFor(frame => frame.includes('Keys on'), 'the help, after the keys');
		ui.press('dismiss');
		letA();
		const shown = await ui.waitFor(frame => frame.includes(': /aa (1 entries)'), 'aa listed');
		expect(shown).toMatch(/▸ -rw\S* +\S+ +\S+ +inner/);
		expect(files.calls).toEqual(['open', 'list /', 'list /aa']);
	});

	it('no idle timer is left running once the screen has gone, even when a folder was still being read', async () => {
		const idle = new Set<unknown>();
		const setTimer = globalThis.setTimeout;
		const clearTimer = globalThis.clearTimeout;
		vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
			const timer = setTimer(fn, ms);
			if (ms === BROWSE_IDLE_MS) idle.add(timer);
			return timer;
		}) as typeof setTimeout);
		vi.spyOn(globalThis, 'clearTimeout').mockImplementation(((timer?: Parameters<typeof clearTimeout>[0]) => {
			idle.delete(timer);
			clearTimer(timer);
		}) as typeof clearTimeout);
		const files = fakeFiles();
		const letRoot = files.hold('/');
		const ui = await toFiles(files.service);
		await ui.waitFor(frame => frame.includes('reading /'), 'the root being read');
		ui.press('back');
		await ui.waitFor(
			frame => frame.includes(`▸ ${POINT}`) || frame.includes('f1: 1 backup point'),
			'the backup points',
		);
		letRoot();
		await ui.waitFor(() => files.calls.includes('close'), 'the browser closed');
		await new Promise(resolve => setTimer(resolve, 100));
		expect(idle.size).toBe(0);
	});

	it('a folder opened while an extraction runs is read once it is done, not refused for the lock the extraction holds', async () => {
		const files = fakeFiles();
		const ui = await toFiles(files.service);
		await ui.waitFor(frame => /▸ d\S+ +\S+ +\S+ +aa\//.test(frame), 'the root folder, on aa');
		ui.press('down');
		ui.press('down');
		await ui.waitFor(frame => /▸ -rw\S* +\S+ +\S+ +ff/.test(frame), 'on ff');
		const letExtract = files.hold('extract /ff');
		ui.press('extract');
		await ui.waitFor(() => files.calls.includes('extract /ff'), 'the extraction running');
		ui.press('up');
		ui.press('up');
		await ui.waitFor(frame => /▸ d\S+ +\S+ +\S+ +aa\//.test(frame), 'on aa again');
		ui.press('open');
		const waiting = await ui.waitFor(
			frame => frame.includes('reading /aa once the extraction of /ff is done'),
			'aa waiting for the extraction',
		);
		expect(waiting).not.toContain('locked');
		letExtract();
		const shown = await ui.waitFor(frame => frame.includes(': /aa (1 entries)'), 'aa listed after the extraction');
		expect(shown).not.toContain('locked');
		expect(files.calls).toEqual(['open', 'list /', 'close', 'extract /ff', 'open', 'list /aa']);
	});
});
