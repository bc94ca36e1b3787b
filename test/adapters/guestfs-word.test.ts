import {describe, expect, it} from 'vitest';
import {word} from '../../source/adapters/guestfs.js';

describe('a guestfish word', () => {
	it('passes any name back byte for byte: line breaks, escape sequences, quotes, backslashes and UTF-8 as \\xHH', () => {
		expect(word('/etc/hosts')).toBe('"/etc/hosts"');
		expect(word('new\nline')).toBe('"new\\x0aline"');
		expect(word('esc\x1b[31m')).toBe('"esc\\x1b[31m"');
		expect(word('say "hi" \\o/')).toBe('"say \\x22hi\\x22 \\x5co/"');
		expect(word('é')).toBe('"\\xc3\\xa9"');
		expect(word(Buffer.from([0x61, 0xff]))).toBe('"a\\xff"');
		expect(() => word('a\0b')).toThrow(/NUL/);
	});
});
