import {readdir, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import {describe, expect, it} from 'vitest';
import {labWithVm, tempDir} from '../helpers/lab.js';
import {terminal} from '../helpers/terminal.js';

const BIN = path.resolve('bin/snapdeck');

describe('snapdeck in a real terminal', () => {
	it('takes and reverts a snapshot with keys only, then gives the terminal back', async () => {
		const lab = await labWithVm('pty1');
		await lab.write(0xa1, 1);
		const tty = await terminal(
			`echo BEFORE-MARKER; NO_COLOR=1 ${BIN} --connect local:${lab.root}; echo EXIT=$?; exec sleep 600`,
		);
		await tty.waitFor(screen => screen.includes('pty1') && screen.includes('stopped'), 'the VM list');
		expect(await tty.alternateScreenOn()).toBe(true);

		await tty.keys('Enter');
		await tty.waitFor(screen => screen.includes('no snapshots yet'), 'the empty tree');
		await tty.keys('t');
		await tty.waitFor(screen => screen.includes('Take a snapshot of pty1'), 'the take dialog');
		await tty.keys('Enter');
		await tty.waitFor(screen => screen.includes('Proceed?'), 'the plan');
		await tty.keys('y');
		await tty.waitFor(screen => screen.includes('◀ you are here'), 'the new snapshot');

		await lab.write(0xb2, 1);
		await tty.keys('r');
		await tty.waitFor(
			screen => screen.includes('Type pty1 to proceed') && screen.includes('Plan: revert pty1'),
			'the revert plan',
		);
		await tty.keys('pty1', 'Enter');
		const done = await tty.waitFor(screen => /✓ revert pty1 to '.*' done/.test(screen), 'the revert done');
		expect(await lab.reads(0xa1, 1)).toBe(true);
		// Only changed lines are rewritten: the screen must still be exactly the app's frame, at the
		// top, with nothing left over from the dialogs before it (no stale or shifted lines).
		const lines = done.split('\n');
		expect(lines[0]).toMatch(/^snapdeck local:/);
		expect(done).not.toMatch(/confirming|Proceed\?|y yes/);
		expect(lines.filter(line => line.includes('? help'))).toHaveLength(1);

		await tty.keys('q');
		const after = await tty.waitFor(screen => screen.includes('EXIT=0'), 'snapdeck exiting');
		expect(after).toContain('BEFORE-MARKER');
		expect(after).not.toContain('snapdeck local:');
		expect(await tty.alternateScreenOn()).toBe(false);
	});

	it.each([
		['LANG=C', 'LANG=C'],
		['TERM=dumb', 'TERM=dumb'],
	])('draws in ASCII with %s: borders, marks, the tree and cut lines, and still lines up', async (_name, setting) => {
		const lab = await labWithVm('ascii1');
		await lab.take('s1');
		await lab.take('a-snapshot-with-a-long-name-that-the-tree-cuts-at-eighty-columns');
		const tty = await terminal(`export ${setting}; NO_COLOR=1 ${BIN} --connect local:${lab.root}; exec sleep 600`);
		const list = await tty.waitFor(screen => screen.includes('ascii1') && screen.includes('stopped'), 'the VM list');
		await tty.keys('Enter');
		const tree = await tty.waitFor(screen => screen.includes('ascii1: 2 snapshots'), 'the tree');
		await tty.keys('?');
		const help = await tty.waitFor(screen => screen.includes('take snapshot'), 'the help screen');
		for (const screen of [list, tree, help]) expect(screen.replace(/[\x00-\x7F]/g, '')).toBe('');
		expect(tree).toMatch(/^> +s1 /m);
		expect(tree).toMatch(/`- a-snapshot-with/);
		expect(tree).toContain('< you are here');
		expect(help).toMatch(/^\+-{10,}\+$/m);
		// Each line still ends where the app put it: the right border in the last column.
		expect(
			help
				.split('\n')
				.filter(line => line.startsWith('|'))
				.every(line => line.length === 80 && line.endsWith('|')),
		).toBe(true);
	});

	it.each([
		[40, 12],
		[200, 60],
	])(
		'resized from 80x24 to %sx%s, the screen is exactly what a UI started at that size draws: no stale cell',
		async (columns, rows) => {
			const lab = await labWithVm(`size${columns}`);
			await lab.take('s1');
			const command = `NO_COLOR=1 ${BIN} --connect local:${lab.root}; exec sleep 600`;
			const resized = await terminal(command);
			await resized.waitFor(
				screen => screen.includes(`size${columns}`) && screen.includes('stopped'),
				'the VM list at 80x24',
			);
			await resized.keys('?');
			await resized.waitFor(screen => screen.includes('take snapshot'), 'the help screen');
			await resized.keys('Escape');
			await resized.waitFor(screen => !screen.includes('take snapshot'), 'the help gone');
			await resized.resize(columns, rows);
			const fresh = await terminal(command, [columns, rows]);
			// Settled: the VM listed with its health badge (no backup: a warning).
			const want = await fresh.waitFor(
				screen => screen.includes(`! size${columns}`),
				`a UI started at ${columns}x${rows}, settled`,
			);
			// The resized one settles on the same screen, cell for cell.
			await resized.waitFor(
				screen => screen === want,
				`the resized UI drawing exactly the fresh one's screen:\n${want}`,
			);
		},
	);

	it.each([
		[40, 12],
		[200, 60],
	])(
		'? over a running job, then resized to %sx%s while it runs: once it ends, the screen is exactly what a UI started at that size draws for the same job',
		async (columns, rows) => {
			const lab = await labWithVm(`job${columns}`);
			const repo = await tempDir();
			const {sessionPorts} = await import('../../source/service/session-ports.js');
			const point = await sessionPorts(lab.hypervisor, {repository: repo}).backup(`job${columns}`, {
				mode: 'full',
				command: 'test',
			});
			// The verify's qemu-img check takes 3 s: time to open the help and resize while it runs.
			const script = path.join(repo, 'slow-qemu-img');
			await writeFile(script, '#!/bin/sh\nif [ "$1" = check ]; then sleep 3; fi\nexec qemu-img "$@"\n', {mode: 0o755});
			const command = (slow: boolean) =>
				`NO_COLOR=1 ${slow ? `SNAPDECK_QEMU_IMG=${script} ` : ''}${BIN} --connect local:${lab.root} --repo ${repo}; exec sleep 600`;
			const verified = (screen: string) =>
				screen.includes(`verify job${columns} ${point.id}`) && /✓ verify \S+ \S+ done/.test(screen);
			const resized = await terminal(command(true));
			await resized.waitFor(
				screen => screen.includes(`job${columns}`) && screen.includes('stopped'),
				'the VM list at 80x24',
			);
			await resized.keys('B');
			await resized.waitFor(screen => screen.includes(`job${columns}: 1 backup point`), 'the backup points');
			await resized.keys('v');
			await resized.waitFor(screen => /verify \S+ \S+ running/.test(screen), 'the verify running');
			await resized.keys('?');
			await resized.waitFor(
				screen => screen.includes('Keys on the backup points') && /verify \S+ \S+ running/.test(screen),
				'the help over the running job',
			);
			await resized.resize(columns, rows);
			await resized.waitFor(verified, 'the verify done, under the help');

			const fresh = await terminal(command(false), [columns, rows]);
			await fresh.waitFor(
				screen => screen.includes(`job${columns}`) && screen.includes('stopped'),
				`a UI started at ${columns}x${rows}`,
			);
			await fresh.keys('B');
			await fresh.waitFor(screen => screen.includes(`job${columns}: 1 backup point`), 'its backup points');
			await fresh.keys('v');
			await fresh.waitFor(verified, 'its verify done');
			await fresh.keys('?');
			const help = await fresh.waitFor(screen => screen.includes('Keys on the backup points'), 'its help');
			await resized.waitFor(
				screen => screen === help,
				`the resized UI's help drawing exactly the fresh one's:\n${help}`,
			);
			await fresh.keys('Escape');
			await resized.keys('Escape');
			const want = await fresh.waitFor(screen => !screen.includes('Keys on'), 'its help closed');
			await resized.waitFor(
				screen => screen === want,
				`the resized UI drawing exactly the fresh one's screen:\n${want}`,
			);
		},
	);

	it('gives the terminal back on Ctrl-C', async () => {
		const lab = await labWithVm('pty3');
		const tty = await terminal(`echo BEFORE-MARKER; ${BIN} --connect local:${lab.root}; echo EXIT=$?; exec sleep 600`);
		await tty.waitFor(screen => screen.includes('pty3'), 'the VM list');
		await tty.keys('C-c');
		const after = await tty.waitFor(screen => screen.includes('EXIT=0'), 'snapdeck exiting');
		expect(after).toContain('BEFORE-MARKER');
		expect(await tty.alternateScreenOn()).toBe(false);
	});

	it.each(['TERM', 'HUP'])('gives the terminal back on SIG%s too (HUP: the SSH connection dropped)', async signal => {
		const lab = await labWithVm('pty2');
		const tty = await terminal(`echo BEFORE-MARKER; ${BIN} --connect local:${lab.root}; echo EXIT=$?; exec sleep 600`);
		await tty.waitFor(screen => screen.includes('pty2'), 'the VM list');
		await execa('pkill', [`-${signal}`, '-f', '--', `^node ${BIN}\\.js --connect local:${lab.root}$`]);
		const after = await tty.waitFor(screen => /EXIT=\d+/.test(screen), 'snapdeck exiting');
		expect(after).toContain('BEFORE-MARKER');
		expect(await tty.alternateScreenOn()).toBe(false);
	});

	describe('quit while a job runs', () => {
		/** A qemu-img whose 'create' (the first step of a take) takes 3 s, the next safe point after it; `stubborn`: 30 s, deaf to signals. */
		async function slowTake(name: string, stubborn: boolean) {
			const lab = await labWithVm(name);
			const script = path.join(await tempDir(), 'slow-qemu-img');
			await writeFile(
				script,
				`#!/bin/sh\nif [ "$1" = create ]; then ${stubborn ? 'trap "" TERM INT HUP; exec sleep 30' : 'exec sleep 3'}; fi\nexec qemu-img "$@"\n`,
				{mode: 0o755},
			);
			const tty = await terminal(
				`NO_COLOR=1 SNAPDECK_QEMU_IMG=${script} ${BIN} --connect local:${lab.root}; echo EXIT=$?; exec sleep 600`,
			);
			await tty.waitFor(screen => screen.includes(name), 'the VM list');
			await tty.keys('t');
			await tty.waitFor(screen => screen.includes(`Take a snapshot of ${name}`), 'the take dialog');
			await tty.keys('Enter');
			await tty.waitFor(screen => screen.includes('Proceed?'), 'the plan');
			await tty.keys('y');
			await tty.waitFor(screen => /running \[1\/2\] vda: create overlay/.test(screen), 'the job running');
			return {lab, tty, script};
		}

		it('asks first; n stays; yes cancels the job at a safe point, then quits', async () => {
			const {lab, tty, script} = await slowTake('pty4', false);
			await tty.keys('q');
			await tty.waitFor(
				screen =>
					screen.includes('1 job running. Cancel it and quit? y/n') && screen.includes('y yes  n/Esc no  q/^C quit'),
				'the question',
			);
			await tty.keys('n');
			await tty.waitFor(screen => !screen.includes('1 job running.'), 'the question gone');
			await tty.keys('C-c');
			await tty.waitFor(screen => screen.includes('1 job running.'), 'the question again');
			await tty.keys('y');
			const after = await tty.waitFor(screen => screen.includes('EXIT=0'), 'snapdeck exiting once the job stopped');
			expect(after).not.toContain('snapdeck local:');
			expect(await tty.alternateScreenOn()).toBe(false);
			// The cancelled take was rolled back: nothing changed, nothing locked.
			expect((await lab.vmFile()).snapshots).toEqual([]);
			expect(await readdir(path.join(lab.folder, '.snapdeck'))).not.toContain('lock');
			await execa('pkill', ['-f', script], {reject: false});
		});

		it('a second Ctrl-C while a job will not stop quits at once, releasing the lock; recover finishes the job', async () => {
			const {lab, tty, script} = await slowTake('pty5', true);
			await tty.keys('C-c');
			await tty.waitFor(screen => screen.includes('1 job running.'), 'the question');
			await tty.keys('y');
			await tty.waitFor(screen => screen.includes('cancelling 1 job… q again: quit now'), 'the job being cancelled');
			await tty.keys('C-c');
			const after = await tty.waitFor(screen => screen.includes('EXIT=130'), 'snapdeck quitting at once');
			expect(after).not.toContain('snapdeck local:');
			expect(await tty.alternateScreenOn()).toBe(false);
			await execa('pkill', ['-f', script], {reject: false});
			const state = await readdir(path.join(lab.folder, '.snapdeck'));
			expect(state).not.toContain('lock');
			expect(state).toContain('pending.json');
			expect((await execa(BIN, ['recover', 'pty5', '--connect', `local:${lab.root}`], {reject: false})).exitCode).toBe(
				0,
			);
			expect((await lab.vmFile()).current).not.toBeNull();
		});
	});
});
