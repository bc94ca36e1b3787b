import {hostname} from 'node:os';
import {readdir} from 'node:fs/promises';
import path from 'node:path';
import {pointChain, type BackupPoint} from '../core/backup-manifest.js';
import {SnapdeckError} from '../core/errors.js';
import {checkOutsideJson} from '../core/outside-json.js';
import {Receipt, SNAPDECK_VERSION, type ReceiptBody} from '../core/receipt.js';
import {writeJsonAtomic} from '../adapters/state/atomic-file.js';
import {ownPublicKey, receiptValid, signReceipt} from '../adapters/state/receipt-key.js';
import {readSmallFile, stateFolder} from '../adapters/safe-fs.js';
import type {Repository} from './repository.js';

/** Where a VM's receipts are, in its folder of the repository. */
export const RECEIPTS = 'receipts';

/**
 * Writes a signed receipt for what was just proved of `point` (a restore test, a boot test, an
 * audit), beside it in the repository. A receipt that cannot be written is a warning, not a failure
 * of what it proves (the proof stands in the manifest).
 */
export async function writeReceipt(
	repo: Repository,
	vm: string,
	point: BackupPoint,
	proved: ReceiptBody['proved'],
	how: string,
	startedAt: Date,
	now = new Date(),
): Promise<string> {
	const manifest = await repo.read(vm);
	const body: ReceiptBody = {
		kind: 'snapdeck-restore-receipt',
		version: 1,
		vm,
		identity: manifest.identity ?? point.identity,
		point: point.id,
		files: pointChain(manifest, point.id).flatMap(member =>
			member.files.map(file => ({file: file.file, sha256: file.sha256})),
		),
		proved,
		how,
		startedAt: startedAt.toISOString(),
		at: now.toISOString(),
		snapdeck: SNAPDECK_VERSION,
		host: hostname(),
		repository: repo.root,
	};
	const signed = await signReceipt(body);
	const dir = await stateFolder(path.join(repo.vmDir(vm), RECEIPTS), `the receipts of ${vm}'s backups`);
	const file = path.join(dir, `${body.at.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${point.id}-${proved}.json`);
	await writeJsonAtomic(file, signed);
	return file;
}

/** A receipt is a few KiB; a file many times that is something else (and is not read into memory whole). */
const RECEIPT_MAX_BYTES = 1024 * 1024;

/** What a receipt is, for the one who gave snapdeck something else. */
const RECEIPT_IS =
	"a receipt is the signed .json file a passing 'verify --restore-test', 'verify --boot' or 'backup --audit' writes into the VM's receipts/ folder of the repository ('snapdeck receipts VM' lists them)";

/**
 * A receipt file, checked against the schema (a file from outside: the repository, a copy someone
 * sent). What is wrong is told without any of its content: the file names it.
 */
export async function readReceipt(file: string): Promise<Receipt> {
	const notReceipt = (why: string) =>
		new SnapdeckError('input', `${file} is not a snapdeck receipt: ${why}`, RECEIPT_IS);
	const text = await readSmallFile(file, RECEIPT_MAX_BYTES, notReceipt);
	if (text === null) throw new SnapdeckError('not-found', `there is no receipt ${file}`);
	return checkOutsideJson(text, Receipt, 'a receipt', notReceipt);
}

/** A VM's receipts, oldest first, each with its file; unreadable ones named with why. */
export async function listReceipts(
	repo: Repository,
	vm: string,
): Promise<Array<{file: string; receipt: Receipt | null; problem?: string}>> {
	const dir = path.join(repo.vmDir(vm), RECEIPTS);
	const names = (await readdir(dir).catch(() => [] as string[])).filter(name => name.endsWith('.json')).sort();
	return Promise.all(
		names.map(async name => {
			const file = path.join(dir, name);
			return readReceipt(file).then(
				receipt => ({file, receipt}),
				(error: Error) => ({file, receipt: null, problem: error.message}),
			);
		}),
	);
}

/**
 * What the receipts this user's key signed prove of the VM (a receipt in the repository is a file
 * from outside: one that does not verify proves nothing): when the newest was signed, and which
 * points they prove. Null when none does.
 */
export async function provedRestores(repo: Repository, vm: string): Promise<{at: string; points: string[]} | null> {
	const key = await ownPublicKey();
	if (key === null) return null;
	const valid = (await listReceipts(repo, vm)).flatMap(entry =>
		entry.receipt && receiptValid(entry.receipt, key).ok ? [entry.receipt.receipt] : [],
	);
	if (valid.length === 0) return null;
	const at = valid
		.map(receipt => receipt.at)
		.reduce((newest, time) => (Date.parse(time) > Date.parse(newest) ? time : newest));
	return {at, points: [...new Set(valid.map(receipt => receipt.point))]};
}
