import {describe, expect, it} from 'vitest';
import {escapeName, unescapeName} from '../../source/core/guest-names.js';

describe('guest names as bytes', () => {
	it('shows every name as one printable line, and reads that line back to the same bytes', () => {
		const cases: Array<[Buffer, string]> = [
			[Buffer.from('/etc/hosts'), '/etc/hosts'],
			[Buffer.from([0x63, 0x61, 0x66, 0xe9]), 'caf\\xe9'],
			[Buffer.from('café'), 'café'],
			[Buffer.from('new\nline'), 'new\\nline'],
			[Buffer.from('esc\x1b[2J'), 'esc\\x1b[2J'],
			[Buffer.from('back\\slash \\xe9'), 'back\\\\slash \\\\xe9'],
			[Buffer.from('c1\u0085 rtl\u202e'), 'c1\\u0085 rtl\\u202e'],
			// An overlong encoding, a lone continuation byte, a surrogate and a cut sequence are bytes, not text.
			[Buffer.from([0xc0, 0xaf, 0x80, 0xed, 0xa0, 0x80, 0xe2, 0x82]), '\\xc0\\xaf\\x80\\xed\\xa0\\x80\\xe2\\x82'],
			[Buffer.from('emoji 😀'), 'emoji 😀'],
		];
		for (const [bytes, shown] of cases) {
			expect(escapeName(bytes)).toBe(shown);
			expect(unescapeName(shown)).toEqual(bytes);
		}
		// Every byte value, in any order: one line, and the same bytes back.
		const all = Buffer.from(Array.from({length: 1024}, (_, index) => (index * 37 + (index >> 8)) & 0xff));
		const line = escapeName(all);
		expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
		expect(unescapeName(line)).toEqual(all);
	});

	it('refuses a backslash that begins no escape, rather than guess', () => {
		expect(() => unescapeName('C:\\Windows')).toThrow(/a backslash in a guest path begins an escape/);
		expect(() => unescapeName('bad\\x4')).toThrow(/begins an escape/);
	});
});
