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
async function readHome(folder: string): Promise<z.infer<typeof Home> | null> {
	try {
		const text = await readStateFile(path.join(stateDir(folder), 'home.json'));
		return text === null ? null : Home.parse(JSON.parse(text));
	} catch {
		return null;
	}
}

/** Refuses a folder whose UUID was first seen in another folder that still holds it (see above); reads only. */
export async function assertOwnUuid(folder: string, uuid: string): Promise<void> {
	const home = await readHome(folder);
	if (!home || home.uuid !== uuid) return;
	const here = await realpath(folder);
	if (home.folder === here) return;
	const original = await readVmFile(home.folder).catch(() => null);
	if (original?.uuid === uuid && (await realpath(home.folder).catch(() => null)) === home.folder) {
		throw new SnapdeckError(
			'refused',
			`${here} is a copy of the VM in ${home.folder}: both have uuid ${uuid}, and one identity's backups would mix with the other's`,
			`give the copy a UUID of its own: remove "uuid" from ${path.join(here, 'vm.json')} (snapdeck then derives one from its folder), or set a new one`,
		);
	}
}

/**
 * Records where this folder's UUID is (after assertOwnUuid passed), when snapdeck is about to
 * change the VM or back it up: read-only commands write nothing into a VM's folder. Best effort:
 * a folder that cannot take it (read-only, a state folder that is a link) is checked no further.
 */
export async function recordHome(folder: string, uuid: string): Promise<void> {
	const here = await realpath(folder).catch(() => null);
	if (here === null) return;
	const home = await readHome(folder);
	if (home?.uuid === uuid && home.folder === here) return;
	await stateFolder(stateDir(folder), `the state folder of ${path.basename(folder)}`)
		.then(() => writeJsonAtomic(path.join(stateDir(folder), 'home.json'), {uuid, folder: here}))
		.catch(() => undefined);
}
