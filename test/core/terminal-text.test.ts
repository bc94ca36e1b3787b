import {describe, expect, it} from 'vitest';
import {hasControlCharacters, safeText} from '../../source/core/terminal-text.js';

describe('safeText: text from outside on its way to a terminal', () => {
	it('shows escape sequences, BEL, carriage returns and bidirectional overrides visibly, never as themselves', () => {
		const title = 'web\u001b]0;owned\u0007 server';
		expect(safeText(title)).toBe('web\\x1b]0;owned\\x07 server');
		expect(safeText('\u001b[2J\u001b[31mred')).toBe('\\x1b[2J\\x1b[31mred');
		expect(safeText('ok\rFAILED')).toBe('ok\\rFAILED');
		expect(safeText('\u009b31m')).toBe('\\x9b31m');
		expect(safeText('invoice\u202egpj.exe')).toBe('invoice\\u202egpj.exe');
		expect(safeText('a\u0000b\u007fc')).toBe('a\\x00b\\x7fc');
		for (const text of [title, '\u001b[2J', 'ok\rFAILED', '\u009b31m', 'x\u202ey']) {
			expect(safeText(text)).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202e]/);
		}
	});

	it('keeps a line of its own on one line (a name with a line break shows \\n); with lines, breaks and tabs stay', () => {
		expect(safeText('evil\nname\tx')).toBe('evil\\nname\\tx');
		expect(safeText('line one\nline\ttwo\u001b[K', {lines: true})).toBe('line one\nline\ttwo\\x1b[K');
	});

	it('leaves ordinary text, unicode letters and emoji as they are', () => {
		for (const text of ['web1', 'before the upgrade: ok', 'Grüße, 東京 ✓ ▸ └─', 'café 🚀'])
			expect(safeText(text)).toBe(text);
		expect(hasControlCharacters('web1')).toBe(false);
		expect(hasControlCharacters('a\u001bb')).toBe(true);
		expect(hasControlCharacters('a\u001bb')).toBe(true);
	});
});
