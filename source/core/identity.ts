import {z} from 'zod';

/**
 * Which VM a backup point, a job record or a journal line is of: the host it lives on (its
 * machine-id, with its name for people) and the VM's UUID there (libvirt's domain UUID; a local:
 * VM's "uuid" in vm.json, given at creation). Two hosts' VMs of one name are two identities: their
 * backups live apart in a repository (see Repository.bind), and a point of one is never taken for
 * a point of the other.
 */
export const VmIdentity = z.strictObject({
	/** The host's machine-id (32 hex digits), or `name:HOSTNAME` where it has none. */
	host: z.string().regex(/^([0-9a-f]{32}|name:[A-Za-z0-9._-]{1,253})$/),
	/** The host's name, for people. */
	hostName: z.string().min(1).max(253),
	uuid: z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
});
export type VmIdentity = z.infer<typeof VmIdentity>;

export const sameVm = (a: VmIdentity, b: VmIdentity) => a.host === b.host && a.uuid === b.uuid;

/** "web1 on host1 (uuid 1b4e28ba-...)". */
export const describeVm = (vm: string, identity: VmIdentity | null | undefined) =>
	identity
		? `${vm} on ${identity.hostName} (uuid ${identity.uuid})`
		: `${vm} (of no recorded host: backed up by an older snapdeck)`;

/** FNV-1a, 64 bits: a short stable tag, not a secret (the manifest says whose a folder is; the tag only keeps names apart). */
function fnv64(text: string): string {
	let hash = 0xcbf29ce484222325n;
	for (const byte of new TextEncoder().encode(text)) hash = BigInt.asUintN(64, (hash ^ BigInt(byte)) * 0x100000001b3n);
	return hash.toString(16).padStart(16, '0');
}

/** The tag of an identity in folder names (`web1@TAG` in a repository): 12 hex digits. */
export const identityTag = (identity: VmIdentity) => fnv64(`${identity.host}/${identity.uuid}`).slice(0, 12);

/** A UUID (v4 layout) from 16 random bytes. */
export function uuidFrom(bytes: Uint8Array): string {
	const b = Array.from(bytes.slice(0, 16));
	b[6] = (b[6]! & 0x0f) | 0x40;
	b[8] = (b[8]! & 0x3f) | 0x80;
	const hex = b.map(byte => byte.toString(16).padStart(2, '0')).join('');
	return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * A stable UUID for a VM that was made before VMs were given one (a local: VM whose vm.json has no
 * "uuid"): from its host and its folder, so it stays the same until the folder moves.
 */
export function derivedUuid(host: string, folder: string): string {
	const a = fnv64(`snapdeck-vm/${host}/${folder}`);
	const b = fnv64(`${folder}/${host}/snapdeck-vm`);
	return uuidFrom(Uint8Array.from((a + b).match(/../g)!.map(pair => Number.parseInt(pair, 16))));
}
