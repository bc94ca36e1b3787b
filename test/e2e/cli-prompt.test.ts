import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {labWithVm} from '../helpers/lab.js';
import {terminal} from '../helpers/terminal.js';

const BIN = path.resolve('bin/snapdeck');

describe("the command line's confirmation in a terminal", () => {
	it('Ctrl-C at "Proceed? [y/N]" declines, as n does: nothing changed, said on a line of its own', async () => {
		const lab = await labWithVm('ask1');
		const tty = await terminal(
			`NO_COLOR=1 ${BIN} snapshot ask1 s1 --connect local:${lab.root}; echo EXIT=$?; exec sleep 600`,
		);
		await tty.waitFor(screen => screen.includes('Proceed? [y/N]'), 'the question');
		await tty.keys('C-c');
		const screen = await tty.waitFor(screen => screen.includes('EXIT='), 'the end of the command');
		// Not 'Aborted with Ctrl+C' glued to the question, and not a failure (exit 1).
		expect(screen).toMatch(/^Proceed\? \[y\/N\] *\n(?:.*\n)*cancelled: nothing was changed\nEXIT=0$/m);
		expect(screen).not.toContain('Aborted');
		expect((await lab.vmFile()).snapshots).toEqual([]);
	});
});
