import {execa} from 'execa';
import {expect} from 'vitest';
import {afterEachTest} from './cleanup.js';

const sockets: string[] = [];
// After each test: the tmux server, the shell and snapdeck in it all go, even when it failed; and
// they are gone before the test's folders are removed (a snapdeck stopped mid-job still tidies its files).
afterEachTest('terminals', 1, async () => {
	for (const socket of sockets.splice(0)) {
		const panes = await execa('tmux', ['-L', socket, 'list-panes', '-a', '-F', '#{pane_pid}'], {reject: false});
		const sessions = panes.stdout.split('\n').filter(Boolean);
		const pids =
			sessions.length === 0
				? []
				: (await execa('pgrep', ['-s', sessions.join(',')], {reject: false})).stdout
						.split('\n')
						.filter(Boolean)
						.map(Number);
		await execa('tmux', ['-L', socket, 'kill-server'], {reject: false});
		const deadline = Date.now() + 15_000;
		while (pids.some(alive) && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 50));
	}
});

const alive = (pid: number) => {
	try {
		process.kill(pid, 0);
		return true;
	} catch {
		return false;
	}
};

/**
 * A real terminal, 80x24 unless asked, in a private tmux server, running `command` in bash. CI=true
 * is set in it on purpose: Ink draws nothing until exit when it sees a CI variable, and an
 * operator's session may well have one.
 */
export async function terminal(command: string, size: [columns: number, rows: number] = [80, 24]) {
	const socket = `snapdeck-test-${process.pid}-${sockets.length}-${Date.now()}`;
	sockets.push(socket);
	const tmux = (...args: string[]) => execa('tmux', ['-L', socket, ...args]);
	// A UTF-8 locale, as an operator's terminal has (CI's env -i has none); a test may set another.
	await tmux(
		'new-session',
		'-d',
		'-x',
		String(size[0]),
		'-y',
		String(size[1]),
		'bash',
		'--norc',
		'--noprofile',
		'-c',
		`export CI=true LANG=C.UTF-8; ${command}`,
	);
	const screen = async () => (await tmux('capture-pane', '-p')).stdout;
	return {
		screen,
		keys: (...keys: string[]) => tmux('send-keys', ...keys),
		resize: (columns: number, rows: number) => tmux('resize-window', '-x', String(columns), '-y', String(rows)),
		alternateScreenOn: async () => (await tmux('display-message', '-p', '#{alternate_on}')).stdout.trim() === '1',
		/** The pane's title, as an OSC 0 or 2 sequence written to the terminal sets it. */
		title: async () => (await tmux('display-message', '-p', '#{pane_title}')).stdout.trim(),
		async waitFor(predicate: (screen: string) => boolean, what: string, timeoutMs = 20_000) {
			const deadline = Date.now() + timeoutMs;
			for (;;) {
				const text = await screen();
				if (predicate(text)) return text;
				if (Date.now() > deadline) expect.fail(`the terminal never showed ${what}:\n${text}`);
				await new Promise(resolve => setTimeout(resolve, 50));
			}
		},
	};
}
