import {z} from 'zod';
import {VmIdentity} from './identity.js';

/** snapdeck's version, as receipts (and --version) say it. */
export const SNAPDECK_VERSION = '0.1.0';

/**
 * A restore receipt: what was proved of a backup point, how, and when, signed. Written when a
 * restore test, a boot test or an audit passes; kept beside the point (REPO/VM/receipts/) and
 * carried with its off-site copies; checked offline with the public key alone.
 */
export const ReceiptBody = z.strictObject({
	kind: z.literal('snapdeck-restore-receipt'),
	version: z.literal(1),
	vm: z.string(),
	identity: VmIdentity.nullable(),
	point: z.string(),
	/** Every file the proof read, with its sha256: the point's and those it builds on. */
	files: z.array(z.strictObject({file: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/)})),
	proved: z.enum(['restore-test', 'boot-test', 'audit']),
	/** How, in words: what was compared, what answered. */
	how: z.string(),
	startedAt: z.iso.datetime({offset: true}),
	at: z.iso.datetime({offset: true}),
	snapdeck: z.string(),
	host: z.string(),
	repository: z.string(),
});
export type ReceiptBody = z.infer<typeof ReceiptBody>;

export const Receipt = z.strictObject({
	receipt: ReceiptBody,
	/** Ed25519 over canonicalJson(receipt), base64. */
	signature: z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/),
	/** The signer's public key (SPKI, PEM): which key signed it; trust comes from the key you check it with. */
	publicKey: z.string(),
	/** The first 16 hex digits of the sha256 of the public key's DER. */
	keyId: z.string().regex(/^[0-9a-f]{16}$/),
});
export type Receipt = z.infer<typeof Receipt>;

/** JSON with keys sorted at every level: the exact bytes a signature covers. */
export function canonicalJson(value: unknown): string {
	if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
	if (value !== null && typeof value === 'object') {
		return `{${Object.keys(value)
			.sort()
			.map(key => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`)
			.join(',')}}`;
	}
	return JSON.stringify(value);
}
