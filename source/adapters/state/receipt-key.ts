import {
	createHash,
	createPrivateKey,
	createPublicKey,
	generateKeyPairSync,
	sign,
	verify,
	type KeyObject,
} from 'node:crypto';
import {chmod, readFile} from 'node:fs/promises';
import path from 'node:path';
import os from 'node:os';
import {userDir} from '../../core/user-dirs.js';
import {canonicalJson, type Receipt, type ReceiptBody} from '../../core/receipt.js';
import {SnapdeckError} from '../../core/errors.js';
import {makeDirs, readSmallFile, readStateFile} from '../safe-fs.js';
import {writeFileAtomic} from './atomic-file.js';

/** Where snapdeck keeps its receipt key: the configuration's folder (SNAPDECK_CONFIG_DIR, else ~/.config/snapdeck). */
export const receiptKeyFiles = () => {
	const dir = process.env['SNAPDECK_CONFIG_DIR'] ?? userDir('config', process.env, os.homedir());
	return {dir, privateKey: path.join(dir, 'receipts-ed25519.key'), publicKey: path.join(dir, 'receipts-ed25519.pub')};
};

const keyIdOf = (publicKey: KeyObject) =>
	createHash('sha256')
		.update(publicKey.export({type: 'spki', format: 'der'}))
		.digest('hex')
		.slice(0, 16);

/** The receipt key, made on first use (Ed25519; the private key 0600, never leaving this folder). */
async function receiptKey(): Promise<{privateKey: KeyObject; publicKey: KeyObject}> {
	const files = receiptKeyFiles();
	const text = await readStateFile(files.privateKey);
	if (text !== null) {
		const privateKey = createPrivateKey(text);
		return {privateKey, publicKey: createPublicKey(privateKey)};
	}
	await makeDirs(files.dir, 'the configuration folder');
	const {privateKey, publicKey} = generateKeyPairSync('ed25519');
	await writeFileAtomic(files.privateKey, privateKey.export({type: 'pkcs8', format: 'pem'}) as string);
	await chmod(files.privateKey, 0o600);
	await writeFileAtomic(files.publicKey, publicKey.export({type: 'spki', format: 'pem'}) as string);
	await chmod(files.publicKey, 0o644);
	return {privateKey, publicKey};
}

/** A receipt signed with this user's receipt key. */
export async function signReceipt(body: ReceiptBody): Promise<Receipt> {
	const {privateKey, publicKey} = await receiptKey();
	return {
		receipt: body,
		signature: sign(null, Buffer.from(canonicalJson(body)), privateKey).toString('base64'),
		publicKey: publicKey.export({type: 'spki', format: 'pem'}) as string,
		keyId: keyIdOf(publicKey),
	};
}

/** Whether `receipt` was signed by the key `publicKeyPem` (SPKI PEM) and is unchanged since. */
export function receiptValid(receipt: Receipt, publicKeyPem: string): {ok: boolean; keyId: string} {
	let key: KeyObject;
	try {
		key = createPublicKey(publicKeyPem);
	} catch {
		throw new SnapdeckError(
			'input',
			'the public key is not a PEM public key',
			'pass the receipts-ed25519.pub of the snapdeck that signed it',
		);
	}
	return {
		ok: verify(null, Buffer.from(canonicalJson(receipt.receipt)), key, Buffer.from(receipt.signature, 'base64')),
		keyId: keyIdOf(key),
	};
}

/** This user's public receipt key, if there is one. */
export const ownPublicKey = async () => readFile(receiptKeyFiles().publicKey, 'utf8').catch(() => null);

/**
 * The public key in `file` (a key someone sent with a receipt), as PEM text: a regular file of at
 * most 64 KiB (a device or a pipe is never read from), that holds a public key. Errors name the
 * file and never quote it.
 */
export async function publicKeyFile(file: string): Promise<string> {
	const notKey = (why: string) =>
		new SnapdeckError(
			'input',
			`${file} is not a public key: ${why}`,
			'pass the receipts-ed25519.pub of the snapdeck that signed the receipt',
		);
	const text = await readSmallFile(file, 64 << 10, notKey);
	if (text === null) throw new SnapdeckError('not-found', `there is no public key ${file}`);
	try {
		createPublicKey(text);
	} catch {
		throw notKey('it holds no PEM public key');
	}
	return text;
}
