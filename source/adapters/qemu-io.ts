import {SnapdeckError} from '../core/errors.js';
import {metadataTimeoutMs, type CommandRunner} from './exec.js';

/** Byte patterns in an image, through qemu-io: how the demo lab and the tests put guest data on disk. */
export class QemuIo {
	constructor(private readonly runner: CommandRunner) {}

	async write(file: string, pattern: number, offset: number, length: number): Promise<void> {
		await this.runner.run('qemu-io', ['-f', 'qcow2', '-c', `write -P ${pattern} ${offset} ${length}`, '--', file]);
	}

	/** The byte at each of `offsets` (qemu-io's `read -v`), in one call. */
	async bytesAt(file: string, offsets: readonly number[]): Promise<number[]> {
		const {stdout} = await this.runner.run(
			'qemu-io',
			['-r', '-U', '-f', 'qcow2', ...offsets.flatMap(offset => ['-c', `read -v ${offset} 1`]), '--', file],
			{timeoutMs: metadataTimeoutMs()},
		);
		const bytes = [...stdout.matchAll(/^[0-9a-f]+:\s+([0-9a-f]{2})\s/gm)].map(match => Number.parseInt(match[1]!, 16));
		if (bytes.length !== offsets.length)
			throw new SnapdeckError(
				'failed',
				`qemu-io read ${offsets.length} bytes of ${file} but showed ${bytes.length}: ${JSON.stringify(stdout.slice(0, 200))}`,
			);
		return bytes;
	}

	/** True when every byte of the range reads as `pattern` (qemu-io exits 1 otherwise). */
	async holds(file: string, pattern: number, offset: number, length: number): Promise<boolean> {
		try {
			await this.runner.run('qemu-io', [
				'-r',
				'-U',
				'-f',
				'qcow2',
				'-c',
				`read -P ${pattern} ${offset} ${length}`,
				'--',
				file,
			]);
			return true;
		} catch (error) {
			if (/Pattern verification failed/.test((error as {stdout?: string}).stdout ?? '')) return false;
			throw error;
		}
	}
}
