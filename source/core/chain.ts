import type {ImageInfo, VmState} from './model.js';

/** The backing chain of `file`, from `file` down to the base. Stops at unknown images and loops. */
export function backingChain(images: Readonly<Record<string, ImageInfo>>, file: string): string[] {
	const chain: string[] = [];
	let next: string | null = file;
	while (next !== null && !chain.includes(next)) {
		chain.push(next);
		next = images[next]?.backing ?? null;
	}
	return chain;
}

/** The images whose backing file is `file`. */
export function dependentsOf(images: Readonly<Record<string, ImageInfo>>, file: string): string[] {
	return Object.values(images)
		.filter(image => image.backing === file)
		.map(image => image.file)
		.sort();
}

/** The deepest active chain over the VM's disks: 1 means no overlays at all. */
export function chainDepth(state: Pick<VmState, 'definition' | 'images'>): number {
	return Math.max(0, ...state.definition.disks.map(disk => backingChain(state.images, disk.file).length));
}

/** Names of the internal snapshots stored in an image. */
export const internalSnapshotsIn = (images: Readonly<Record<string, ImageInfo>>, file: string): string[] =>
	images[file]?.internalSnapshots.map(snapshot => snapshot.name) ?? [];

/** `name` in the same directory as `file` ('/' separated; a bare file name stays bare). */
export const siblingPath = (file: string, name: string) => file.slice(0, file.lastIndexOf('/') + 1) + name;

/**
 * Waits for every one of `work` to end, then throws the first failure if there was one: nothing is
 * still running (a qemu-img writing a file the caller is about to remove) when a failure is told.
 */
export async function settleAll<T>(work: ReadonlyArray<Promise<T>>): Promise<T[]> {
	const results = await Promise.allSettled(work);
	const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
	if (failed) throw failed.reason;
	return results.map(result => (result as PromiseFulfilledResult<T>).value);
}

/** Maps `items` with at most `limit` calls of `fn` in flight, keeping the order. */
export async function mapLimited<T, R>(
	items: readonly T[],
	limit: number,
	fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
	const results: R[] = new Array(items.length);
	let next = 0;
	const worker = async () => {
		for (let index = next++; index < items.length; index = next++) results[index] = await fn(items[index]!, index);
	};
	await Promise.all(Array.from({length: Math.min(limit, items.length)}, worker));
	return results;
}
