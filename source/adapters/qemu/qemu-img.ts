import {z} from 'zod';
import {SnapdeckError} from '../../core/errors.js';
import {metadataTimeoutMs, type CommandRunner} from '../exec.js';

/** A value inside a QEMU option string (`driver=file,filename=...`): commas are doubled. */
export const optionValue = (value: string) => value.replaceAll(',', ',,');

/** `qemu-img info --output=json` of one image, as qemu-img 7.x prints it (see LAB.md). */
const InfoJson = z.looseObject({
	filename: z.string(),
	format: z.string(),
	'virtual-size': z.number().int(),
	'actual-size': z.number().int().optional(),
	'backing-filename': z.string().optional(),
	'full-backing-filename': z.string().optional(),
	'dirty-flag': z.boolean().optional(),
	snapshots: z
		.array(
			z.looseObject({
				id: z.string(),
				name: z.string(),
				'vm-state-size': z.number().int(),
				'date-sec': z.number().int(),
			}),
		)
		.optional(),
	'format-specific': z
		.looseObject({
			type: z.string(),
			data: z.looseObject({
				corrupt: z.boolean().optional(),
				bitmaps: z.array(z.looseObject({name: z.string()})).optional(),
			}),
		})
		.optional(),
});
export type QemuImgInfo = z.infer<typeof InfoJson>;

/** `qemu-img check --output=json`. */
const CheckJson = z.looseObject({
	filename: z.string(),
	'check-errors': z.number().int(),
	leaks: z.number().int().optional(),
	corruptions: z.number().int().optional(),
});
export type QemuImgCheck = z.infer<typeof CheckJson>;

/** `qemu-img map --output=json`: the extents of the guest disk, and whether the image holds each (present). */
const MapJson = z.array(z.looseObject({start: z.number().int(), length: z.number().int(), present: z.boolean()}));

/** The --image-opts of an NBD export on a unix socket, as the file under a raw format node. */
const nbdFile = (socket: string, exportName: string) =>
	`file.driver=nbd,file.server.type=unix,file.server.path=${optionValue(socket)},file.export=${optionValue(exportName)}`;

/** qemu-img convert's rate limit (-r, bytes a second), where there is one. */
const rate = (options: {bytesPerSecond?: number}) =>
	options.bytesPerSecond ? ['-r', String(Math.max(1, Math.round(options.bytesPerSecond)))] : [];

/** A qcow2 image opened alone: its backing file named in its header is not opened (nor followed). */
const alone = (file: string) =>
	`json:${JSON.stringify({driver: 'qcow2', backing: null, file: {driver: 'file', filename: file}})}`;

export function parseJson<T>(schema: z.ZodType<T>, text: string, what: string): T {
	let value: unknown;
	try {
		value = JSON.parse(text);
	} catch {
		throw new SnapdeckError('failed', `${what} did not print JSON: ${text.slice(0, 200)}`);
	}
	const parsed = schema.safeParse(value);
	if (!parsed.success) {
		throw new SnapdeckError(
			'failed',
			`${what} printed a shape snapdeck does not know: ${z.prettifyError(parsed.error)}`,
		);
	}
	return parsed.data;
}

/** `    (12.31/100%)\r` -> 0.1231; qemu-img prints it with -p even when stdout is not a terminal. */
export function progressFractions(chunk: string): number[] {
	return [...chunk.matchAll(/\((\d+(?:\.\d+)?)\/100%\)/g)].map(match => Number(match[1]) / 100);
}

export interface JobOptions {
	readonly signal?: AbortSignal;
	/** 0..1, as qemu-img reports it. */
	readonly onProgress?: (fraction: number) => void;
}

/** The qemu-img operations snapdeck uses, with arguments as arrays (never a shell string). */
/** What a `qemu-img check` report says is damaged, in words for a refusal; null when it finds nothing. */
export const checkDamage = (check: QemuImgCheck): string | null =>
	check['check-errors'] > 0 || (check.corruptions ?? 0) > 0
		? `${check.corruptions ?? 0} corruptions, ${check['check-errors']} check errors`
		: null;

export class QemuImg {
	constructor(private readonly runner: CommandRunner) {}

	private async job(args: string[], options: JobOptions): Promise<void> {
		await this.runner.run('qemu-img', options.onProgress ? [args[0]!, '-p', ...args.slice(1)] : args, {
			signal: options.signal,
			onStdout: options.onProgress
				? chunk => {
						for (const fraction of progressFractions(chunk)) options.onProgress?.(fraction);
					}
				: undefined,
		});
	}

	/** Info of one image without opening its backing file, so a missing backing file still reads. */
	async info(file: string): Promise<QemuImgInfo> {
		const {stdout} = await this.runner.run('qemu-img', ['info', '-U', '-f', 'qcow2', '--output=json', '--', file], {
			timeoutMs: metadataTimeoutMs(),
		});
		return parseJson(InfoJson, stdout, `qemu-img info ${file}`);
	}

	/**
	 * `qemu-img check` of one image's own metadata. The image is opened with no backing file (a
	 * checked layer does not need it): a backing chain that loops, or a backing name that is a
	 * protocol, would otherwise hang qemu-img or make it connect out.
	 */
	async check(file: string): Promise<QemuImgCheck> {
		try {
			// Reads every table of a large image: bounded, but generously.
			const {stdout} = await this.runner.run('qemu-img', ['check', '-U', '--output=json', '--', alone(file)], {
				timeoutMs: 15 * metadataTimeoutMs(),
			});
			return parseJson(CheckJson, stdout, `qemu-img check ${file}`);
		} catch (error) {
			// Exit 2 (corruptions) and 3 (leaks) still print the JSON report.
			const stdout = (error as {stdout?: string}).stdout;
			if (stdout?.trim().startsWith('{')) return parseJson(CheckJson, stdout, `qemu-img check ${file}`);
			throw error;
		}
	}

	/**
	 * The guest bytes the image itself holds (clusters written to it, data or zeroes; its backing
	 * file not opened): what discarding it loses. An image a running QEMU writes is read as it was
	 * last flushed.
	 */
	async writtenBytes(file: string): Promise<number> {
		const {stdout} = await this.runner.run('qemu-img', ['map', '-U', '--output=json', '--', alone(file)], {
			timeoutMs: 15 * metadataTimeoutMs(),
		});
		return parseJson(MapJson, stdout, `qemu-img map ${file}`)
			.filter(extent => extent.present)
			.reduce((sum, extent) => sum + extent.length, 0);
	}

	/** `unsafe` skips opening the backing file (which a running QEMU holds locked); give `size` then. */
	/** `compression`: the codec of the clusters a writer compresses (zstd, or QEMU's default zlib); plain writes stay plain. */
	async create(
		file: string,
		options: {backing?: string; size?: number; unsafe?: boolean; compression?: 'zstd'},
	): Promise<void> {
		const args = [
			'create',
			'-q',
			'-f',
			'qcow2',
			...(options.unsafe ? ['-u'] : []),
			...(options.compression ? ['-o', `compression_type=${options.compression}`] : []),
		];
		if (options.backing !== undefined) args.push('-F', 'qcow2', '-b', options.backing);
		args.push('--', file);
		if (options.size !== undefined) args.push(String(options.size));
		await this.runner.run('qemu-img', args, {timeoutMs: metadataTimeoutMs()});
	}

	// Internal snapshots rewrite refcounts of the whole image: bounded, but generously.
	async snapshotCreate(file: string, name: string) {
		await this.runner.run('qemu-img', ['snapshot', '-c', name, '--', file], {timeoutMs: 5 * metadataTimeoutMs()});
	}

	async snapshotApply(file: string, name: string) {
		await this.runner.run('qemu-img', ['snapshot', '-a', name, '--', file], {timeoutMs: 5 * metadataTimeoutMs()});
	}

	async snapshotDelete(file: string, name: string) {
		await this.runner.run('qemu-img', ['snapshot', '-d', name, '--', file], {timeoutMs: 5 * metadataTimeoutMs()});
	}

	/** Copies `top` into its backing file and leaves `top` intact (-d), so a crash loses nothing. */
	async commit(top: string, options: JobOptions = {}) {
		await this.job(['commit', '-d', '--', top], options);
	}

	/** A stream-up rebase (copies what changes) or, with `unsafe`, a header-only rebase. */
	async rebase(file: string, backing: string | null, options: JobOptions & {unsafe?: boolean} = {}) {
		const args = ['rebase', ...(options.unsafe ? ['-u'] : []), '-f', 'qcow2'];
		args.push(...(backing === null ? ['-b', ''] : ['-F', 'qcow2', '-b', backing]), '--', file);
		await this.job(args, options);
	}

	/** A new standalone qcow2 image that reads as `source` (with its backing chain) does. */
	async convert(source: string, target: string, options: JobOptions = {}) {
		// -W: clusters written in whatever order they are read (the target is new and no one reads it until it is whole).
		await this.job(['convert', '-W', '-f', 'qcow2', '-O', 'qcow2', '--', source, target], options);
	}

	/**
	 * Rewrites `source` (an overlay on `backing`, or standalone when null) into `target` with every
	 * cluster zstd-compressed, keeping what it has of its own over the same backing file (by the
	 * relative name `backingName`).
	 */
	async compressInto(source: string, target: string, backingName: string | null, options: JobOptions = {}) {
		// -W: clusters written as they are compressed, in any order (a quarter faster here).
		const args = ['convert', '-c', '-W', '-f', 'qcow2', '-O', 'qcow2', '-o', 'compression_type=zstd'];
		if (backingName !== null) args.push('-F', 'qcow2', '-B', backingName);
		await this.job([...args, '--', source, target], options);
	}

	/**
	 * A new standalone qcow2 `target` holding all of what an NBD server on unix socket `socket`
	 * exports as `exportName` (libvirt's pull-mode backup): one read of the disk, every cluster
	 * zstd-compressed as it is read where `compress`; zeroes stay holes. `bytesPerSecond` caps the read.
	 */
	async copyFromNbd(
		socket: string,
		exportName: string,
		target: string,
		options: JobOptions & {bytesPerSecond?: number; compress?: boolean} = {},
	) {
		const compress = options.compress ? ['-c', '-o', 'compression_type=zstd'] : [];
		await this.job(
			[
				'convert',
				'-W',
				...rate(options),
				'-O',
				'qcow2',
				...compress,
				'--image-opts',
				'--',
				`driver=raw,${nbdFile(socket, exportName)}`,
				target,
			],
			options,
		);
	}

	/**
	 * The ranges of an NBD export that its dirty bitmap `bitmap` (an NBD meta context,
	 * qemu:dirty-bitmap:NAME) marks. Through x-dirty-bitmap QEMU reports the bitmap in place of
	 * allocation, inverted: a dirty range reads as not present (measured with libvirt 9.0's exports).
	 */
	async dirtyRanges(
		socket: string,
		exportName: string,
		bitmap: string,
	): Promise<Array<{start: number; length: number}>> {
		const opts = `driver=nbd,server.type=unix,server.path=${optionValue(socket)},export=${optionValue(exportName)},x-dirty-bitmap=qemu:dirty-bitmap:${optionValue(bitmap)}`;
		const {stdout} = await this.runner.run('qemu-img', ['map', '--output=json', '--image-opts', '--', opts], {
			timeoutMs: 15 * metadataTimeoutMs(),
		});
		return parseJson(MapJson, stdout, `qemu-img map of the dirty bitmap ${bitmap}`)
			.filter(extent => !extent.present)
			.map(({start, length}) => ({start, length}));
	}

	/**
	 * Writes one range of an NBD export into the same range of the existing qcow2 `target`, zeroes
	 * included (-n), so that the range reads as the export whatever `target`'s backing files hold.
	 */
	async copyRangeFromNbd(
		socket: string,
		exportName: string,
		target: string,
		range: {start: number; length: number},
		options: JobOptions & {bytesPerSecond?: number} = {},
	) {
		const window = `driver=raw,offset=${range.start},size=${range.length}`;
		await this.job(
			[
				'convert',
				'-n',
				...rate(options),
				'--image-opts',
				'--target-image-opts',
				'--',
				`${window},${nbdFile(socket, exportName)}`,
				`${window},file.driver=qcow2,file.file.driver=file,file.file.filename=${optionValue(target)}`,
			],
			options,
		);
	}

	/**
	 * Writes what `source` reads into the existing image `target` (-n), zeroes included, so that
	 * `target` reads exactly as `source` whatever its backing files hold.
	 */
	async convertInto(source: string, target: string, options: JobOptions = {}) {
		await this.job(['convert', '-n', '-f', 'qcow2', '-O', 'qcow2', '--', source, target], options);
	}

	/**
	 * Gives a new overlay the dirty bitmap `name` of its backing file, with the bits set so far:
	 * from now on the overlay records the writes, and the bitmap still covers everything since the
	 * backup it belongs to.
	 */
	async carryBitmap(overlay: string, backing: string, name: string) {
		await this.runner.run(
			'qemu-img',
			['bitmap', '-f', 'qcow2', '--add', '--merge', name, '-b', backing, '-F', 'qcow2', '--', overlay, name],
			{timeoutMs: 5 * metadataTimeoutMs()},
		);
	}

	/** Removes a persistent dirty bitmap from an image (not running). */
	async removeBitmap(file: string, name: string) {
		await this.runner.run('qemu-img', ['bitmap', '-f', 'qcow2', '--remove', '--', file, name], {
			timeoutMs: 5 * metadataTimeoutMs(),
		});
	}

	/** Whether two images read the same to a guest (`qemu-img compare`: 0 same, 1 different, 2+ an error). */
	async same(a: string, b: string): Promise<boolean> {
		try {
			await this.runner.run('qemu-img', ['compare', '-q', '-U', '--', a, b]);
			return true;
		} catch (error) {
			if ((error as {exitCode?: number}).exitCode === 1) return false;
			throw error;
		}
	}

	/** A new image holding internal snapshot `name` of `source`: only its own layer, over `backing`. */
	async convertSnapshot(
		source: string,
		name: string,
		target: string,
		backing: string | null,
		options: JobOptions = {},
	) {
		// -U: a snapshot's data never changes, so reading it beside a running QEMU is consistent.
		const args = ['convert', '-U', '-f', 'qcow2', '-O', 'qcow2', '-l', `snapshot.name=${name}`];
		if (backing !== null) args.push('-F', 'qcow2', '-B', backing);
		await this.job([...args, '--', source, target], options);
	}
}
