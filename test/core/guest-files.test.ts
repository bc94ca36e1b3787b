import {describe, expect, it} from 'vitest';
import {
	confinedParts,
	dataMode,
	deviceNumbers,
	droppedBits,
	entryType,
	modeString,
} from '../../source/core/guest-files.js';

describe('guest file entries', () => {
	it('shows modes as ls -l does, special bits included', () => {
		expect(modeString(0o104755)).toBe('-rwsr-xr-x');
		expect(modeString(0o102755)).toBe('-rwxr-sr-x');
		expect(modeString(0o041777)).toBe('drwxrwxrwt');
		expect(modeString(0o104644)).toBe('-rwSr--r--');
		expect(modeString(0o020666)).toBe('crw-rw-rw-');
		expect(modeString(0o060660)).toBe('brw-rw----');
		expect(modeString(0o010644)).toBe('prw-r--r--');
		expect(modeString(0o140755)).toBe('srwxr-xr-x');
		expect(modeString(0o120777)).toBe('lrwxrwxrwx');
		expect([0o100644, 0o040755, 0o120777, 0o020666, 0o060660, 0o010644, 0o140755, 0o0644].map(entryType)).toEqual([
			'file',
			'directory',
			'link',
			'char-device',
			'block-device',
			'fifo',
			'socket',
			'unknown',
		]);
	});

	it('reads device numbers as glibc does', () => {
		expect(deviceNumbers(0x0101)).toBe('1,1');
		expect(deviceNumbers(0x0803)).toBe('8,3');
		// major 259, minor 70000 (the large encoding)
		expect(deviceNumbers(Number(((259n & 0xfffn) << 8n) | (70000n & 0xffn) | ((70000n & ~0xffn) << 12n)))).toBe(
			'259,70000',
		);
	});

	it('copies permission bits only, and names what it drops', () => {
		expect(dataMode(0o104755)).toBe(0o755);
		expect(dataMode(0o100777)).toBe(0o777);
		// With a special bit dropped, write by group and others goes too: never more open than the guest had it.
		expect([0o041777, 0o104777, 0o102775, 0o106757].map(dataMode)).toEqual([0o755, 0o755, 0o755, 0o755]);
		expect(droppedBits(0o7755)).toEqual(['setuid', 'setgid', 'sticky']);
		expect(droppedBits(0o1777)).toEqual(['sticky', 'group and other write']);
		expect(droppedBits(0o666)).toEqual([]);
		expect(droppedBits(0o644)).toEqual([]);
	});

	it('keeps every archive name inside the folder it is extracted into', () => {
		expect(confinedParts('./')).toEqual([]);
		expect(confinedParts('./a/b/')).toEqual(['a', 'b']);
		expect(confinedParts('/etc/passwd')).toEqual(['etc', 'passwd']);
		expect(confinedParts('a/../../x')).toBeNull();
		expect(confinedParts('..')).toBeNull();
		expect(confinedParts('a/./b')).toEqual(['a', 'b']);
		expect(confinedParts('new\nline')).toEqual(['new\nline']);
	});
});
