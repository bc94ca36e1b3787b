import {execFileSync} from 'node:child_process';
import {rmSync} from 'node:fs';
import {TEST_CONFIG_DIR, TEST_JOURNAL, TEST_RESTIC_CACHE} from '../../vitest.config.js';

/** The end-to-end tests drive bin/snapdeck.js, which runs the bundle: build it so it is never stale. */
export default function setup() {
	execFileSync(process.execPath, ['scripts/bundle.mjs'], {stdio: 'inherit'});
	return () => {
		rmSync(TEST_JOURNAL, {force: true});
		rmSync(`${TEST_JOURNAL}.repositories.json`, {force: true}); // source/backup/checkpoints.ts
		rmSync(TEST_JOURNAL.replace(/\.jsonl$/, '.notified'), {recursive: true, force: true}); // source/service/deliver-notifications.ts
		rmSync(TEST_JOURNAL.replace(/\.jsonl$/, '.schedule.json'), {force: true}); // source/service/schedule-state.ts
		rmSync(TEST_CONFIG_DIR, {recursive: true, force: true});
		rmSync(TEST_RESTIC_CACHE, {recursive: true, force: true});
	};
}
