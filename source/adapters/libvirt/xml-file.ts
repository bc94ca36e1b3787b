import {randomBytes} from 'node:crypto';
import {lstat, readdir, rm, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {processAlive} from '../file-checks.js';

/** A temp file of withXmlFile: the pid of the snapdeck that wrote it, and a random part. */
const XML_FILE = /^snapdeck-xml-(\d{1,10})-[0-9a-f]{12}\.xml$/;
const sweptDirs = new Set<string>();

/**
 * Hands libvirt an XML document through a private temp file (0600, created, never opened through
 * a link), removed afterwards. A snapdeck killed while libvirt read one (kill -9 mid-`virsh
 * create`) could not remove it: the first call of each later snapdeck removes those of processes
 * that are gone, its own user's regular files only.
 */
export async function withXmlFile<T>(xml: string, work: (file: string) => Promise<T>): Promise<T> {
	const dir = os.tmpdir();
	if (!sweptDirs.has(dir)) {
		sweptDirs.add(dir);
		await removeDeadXmlFiles(dir);
	}
	const file = path.join(dir, `snapdeck-xml-${process.pid}-${randomBytes(6).toString('hex')}.xml`);
	await writeFile(file, xml, {mode: 0o600, flag: 'wx'});
	try {
		return await work(file);
	} finally {
		await rm(file, {force: true});
	}
}

async function removeDeadXmlFiles(dir: string): Promise<void> {
	const uid = process.getuid?.();
	for (const name of await readdir(dir).catch(() => [])) {
		const pid = Number(XML_FILE.exec(name)?.[1] ?? 0);
		if (pid === 0 || pid === process.pid || (await processAlive(pid))) continue;
		const file = path.join(dir, name);
		const found = await lstat(file).catch(() => null);
		if (found?.isFile() && found.uid === uid) await rm(file, {force: true});
	}
}
