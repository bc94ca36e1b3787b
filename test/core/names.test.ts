import {describe, expect, it} from 'vitest';
import {assertValidName} from '../../source/core/names.js';

describe('assertValidName', () => {
	it.each(['web1', 'pre-upgrade', 'nightly_2026.11.25', 'A', '9lives'])('accepts %j', name => {
		expect(assertValidName('snapshot', name)).toBe(name);
	});

	it.each([
		['with space', 'whitespace'],
		["quo'te", '"\'"'],
		['semi;colon', '";"'],
		['$(reboot)', '"$"'],
		['a$(reboot)', '"$"'],
		['../etc', "starts with '.'"],
		['a/../b', 'path separator'],
		['-rf', "starts with '-'"],
		['snäpshot', '"ä"'],
		['', 'empty'],
		['x'.repeat(65), '65 characters'],
	])('refuses %j, saying why', (name, why) => {
		expect(() => assertValidName('snapshot', name)).toThrowError(why);
	});
});
