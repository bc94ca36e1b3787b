import {createCipheriv, createDecipheriv, createHash, randomBytes, scryptSync} from 'node:crypto';
import {readdir, readFile, rm, writeFile} from 'node:fs/promises';
import path from 'node:path';

/*
 * restic derives each repository key from the password with scrypt, its cost calibrated at `init`
 * to about half a second of CPU: paid again by every restic command that opens the repository.
 * The off-site tests run a few hundred restic commands on a 2-core machine, so that is minutes of
 * the suite. restic's own tests use low KDF parameters for the same reason; this does the same to
 * a repository the tests made: its key file is rewritten with cheap parameters around the same
 * master key (restic's format: internal/repository/key.go and internal/crypto/crypto.go of restic
 * 0.14). The repository, its data and every command run on it stay restic's own.
 */

interface KeyFile {
	created: string;
	username: string;
	hostname: string;
	kdf: string;
	N: number;
	r: number;
	p: number;
	salt: string;
	data: string;
}

const AES_KEY = 32;
const MAC_KEY = 32;
const IV = 16;
const TAG = 16;

const littleEndian = (bytes: Uint8Array) => bytes.reduceRight((value, byte) => (value << 8n) | BigInt(byte), 0n);

/** Poly1305 (RFC 8439) of `message` under the one-time key r || s. */
function poly1305(message: Buffer, r: Buffer, s: Buffer): Buffer {
	const clamped = littleEndian(r) & 0x0ffffffc0ffffffc0ffffffc0fffffffn;
	const prime = (1n << 130n) - 5n;
	let accumulator = 0n;
	for (let offset = 0; offset < message.length; offset += 16) {
		const block = message.subarray(offset, offset + 16);
		accumulator = ((accumulator + littleEndian(Buffer.concat([block, Buffer.from([1])]))) * clamped) % prime;
	}
	accumulator = (accumulator + littleEndian(s)) % (1n << 128n);
	const tag = Buffer.alloc(TAG);
	for (let index = 0; index < TAG; index++) tag[index] = Number((accumulator >> BigInt(8 * index)) & 0xffn);
	return tag;
}

/** restic's MAC: Poly1305-AES, its s the AES-128 encryption of the nonce (the ciphertext's IV) under k. */
function mac(message: Buffer, nonce: Buffer, macKey: Buffer): Buffer {
	const aes = createCipheriv('aes-128-ecb', macKey.subarray(0, 16), null).setAutoPadding(false);
	const s = Buffer.concat([aes.update(nonce), aes.final()]);
	return poly1305(message, macKey.subarray(16, 32), s);
}

/** The user key scrypt derives from the password: the encryption key, then the MAC key (k || r). */
function userKey(password: string, key: Pick<KeyFile, 'N' | 'r' | 'p' | 'salt'>) {
	const derived = scryptSync(password, Buffer.from(key.salt, 'base64'), AES_KEY + MAC_KEY, {
		N: key.N,
		r: key.r,
		p: key.p,
		maxmem: 256 * 1024 * 1024,
	});
	return {encrypt: derived.subarray(0, AES_KEY), mac: derived.subarray(AES_KEY)};
}

function open(sealed: Buffer, key: ReturnType<typeof userKey>): Buffer {
	const iv = sealed.subarray(0, IV);
	const ciphertext = sealed.subarray(IV, sealed.length - TAG);
	if (!mac(ciphertext, iv, key.mac).equals(sealed.subarray(sealed.length - TAG)))
		throw new Error('restic key: wrong password, or not a key file restic 0.14 wrote');
	const aes = createDecipheriv('aes-256-ctr', key.encrypt, iv);
	return Buffer.concat([aes.update(ciphertext), aes.final()]);
}

function seal(plaintext: Buffer, key: ReturnType<typeof userKey>): Buffer {
	const iv = randomBytes(IV);
	const aes = createCipheriv('aes-256-ctr', key.encrypt, iv);
	const ciphertext = Buffer.concat([aes.update(plaintext), aes.final()]);
	return Buffer.concat([iv, ciphertext, mac(ciphertext, iv, key.mac)]);
}

/**
 * Rewrites the key files of the restic repository in folder `repository` (as `restic init` made
 * them, for `password`) with scrypt parameters that cost about a millisecond: the same master
 * key, so everything in the repository stays readable.
 */
export async function cheapenResticKeys(repository: string, password: string): Promise<void> {
	const keys = path.join(repository, 'keys');
	for (const name of await readdir(keys)) {
		const file: KeyFile = JSON.parse(await readFile(path.join(keys, name), 'utf8'));
		if (file.N <= 1024 && file.p === 1) continue;
		const master = open(Buffer.from(file.data, 'base64'), userKey(password, file));
		const cheap = {N: 1024, r: 8, p: 1, salt: randomBytes(64).toString('base64')};
		const rewritten = `${JSON.stringify({...file, ...cheap, data: seal(master, userKey(password, cheap)).toString('base64')})}\n`;
		const id = createHash('sha256').update(rewritten).digest('hex');
		await writeFile(path.join(keys, id), rewritten, {mode: 0o400});
		await rm(path.join(keys, name));
	}
}
