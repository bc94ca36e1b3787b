/**
 * One of the processes test/adapters/lock.test.ts races for stale locks: round by round it waits
 * until every worker is ready, tries the round's lock once, and while holding it counts who else
 * holds it. Prints one JSON line per round.
 */
import {mkdir, readdir, rm, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';
import {acquireLock} from '../../source/adapters/state/lock.js';
import {SnapdeckError} from '../../source/core/errors.js';

const [dir, id, workers, rounds] = [
	process.argv[2]!,
	process.argv[3]!,
	Number(process.argv[4]),
	Number(process.argv[5]),
];

for (let round = 0; round < rounds; round++) {
	const ready = path.join(dir, `ready-${round}`);
	await mkdir(ready, {recursive: true});
	await writeFile(path.join(ready, id), '');
	while ((await readdir(ready)).length < workers) await sleep(1);
	let got = false;
	let others = 0;
	let error: string | null = null;
	try {
		const release = await acquireLock(path.join(dir, `lock-${round}`), `round ${round}`, `worker ${id}`);
		got = true;
		const holding = path.join(dir, `hold-${round}`);
		await writeFile(path.join(holding, id), '');
		others = (await readdir(holding)).length - 1;
		await sleep(2);
		others = Math.max(others, (await readdir(holding)).length - 1);
		await rm(path.join(holding, id));
		await release();
	} catch (caught) {
		error = caught instanceof SnapdeckError ? caught.kind : String(caught);
	}
	process.stdout.write(`${JSON.stringify({round, got, others, error})}\n`);
}
