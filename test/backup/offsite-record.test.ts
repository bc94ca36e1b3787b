import {readFile} from 'node:fs/promises';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {recordCopy, recordOf, readOffsiteState} from '../../source/backup/offsite-record.js';
import {Repository} from '../../source/backup/repository.js';
import {tempDir} from '../helpers/lab.js';

describe("this host's record of its off-site copies (.snapdeck/offsite.json in the repository)", () => {
	it("keeps a target's repository string without its user and password, and still finds the target's record by the whole string", async () => {
		const repo = new Repository(await tempDir());
		const target = {repository: 'rest:https://alice:s3cret@backup.example.org:8000/web1', name: null};
		const snapshot = 'a'.repeat(64);
		await recordCopy(repo, 'web1', target, {
			at: '2026-12-04T00:00:00.000Z',
			point: '20261204T000000Z',
			snapshot,
			uploaded: 1,
		});
		const text = await readFile(path.join(repo.vmDir('web1'), '.snapdeck', 'offsite.json'), 'utf8');
		expect(text).not.toContain('s3cret');
		expect(text).not.toContain('alice');
		expect((await readOffsiteState(repo, 'web1')).targets[0]!.repository).toBe(
			'rest:https://***@backup.example.org:8000/web1',
		);
		expect((await recordOf(repo, 'web1', target))?.snapshots.has(snapshot)).toBe(true);
	});
});
