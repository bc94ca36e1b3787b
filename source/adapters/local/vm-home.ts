import {realpath} from 'node:fs/promises';
import path from 'node:path';
import {z} from 'zod';
import {SnapdeckError} from '../../core/errors.js';
import {writeJsonAtomic} from '../state/atomic-file.js';
import {stateDir} from '../state/operation-store.js';
import {readStateFile, stateFolder} from '../safe-fs.js';
import {readVmFile} from './vm-file.js';

/** Where a VM's UUID was first seen on this host: `.snapdeck/home.json` in its folder. */
const Home = z.strictObject({uuid: z.string(), folder: z.string()});

/**
 * A VM's UUID (vm.json's "uuid") is its identity on this host: a copy of its folder (`cp -a` of a
 * lab) carries the same one, and would share its backups. The folder where the UUID was first seen
 * is kept beside it; a folder whose UUID was first seen elsewhere, where that folder still holds a
 * VM of the same UUID, is a copy: refused, with how to give it a UUID of its own. A folder that
 * was moved (the first one is gone) takes its UUID along.
 */
export async function assertOwnUuid(folder: string, uuid: string): Promise<void> {
	const here = await realpath(folder);
	const file = path.join(stateDir(folder), 'home.json');
	let home: z.infer<typeof Home> | null = null;
	try {
		const text = await readStateFile(file);
		home = text === null ? null : Home.parse(JSON.parse(text));
	} catch {
		home = null;
	}
	if (home && home.uuid === uuid && home.folder === here) return;
	if (home && home.uuid === uuid && home.folder !== here) {
		const original = await readVmFile(home.folder).catch(() => null);
		if (original?.uuid === uuid && (await realpath(home.folder).catch(() => null)) === home.folder) {
			throw new SnapdeckError('refused', `${here} is a copy of the VM in ${home.folder}: both have uuid ${uuid}, and one identity's backups would mix with the other's`,
				`give the copy a UUID of its own: remove "uuid" from ${path.join(here, 'vm.json')} (snapdeck then derives one from its folder), or set a new one`);
		}
	}
	// Best effort: a folder that cannot take it (read-only, a state folder that is a link) is checked no further.
	await stateFolder(stateDir(folder), `the state folder of ${path.basename(folder)}`)
		.then(() => writeJsonAtomic(file, {uuid, folder: here}))
		.catch(() => undefined);
}
