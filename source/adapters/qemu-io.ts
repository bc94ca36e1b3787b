import type {CommandRunner} from './exec.js';

/** Byte patterns in an image, through qemu-io: how the demo lab and the tests put guest data on disk. */
export class QemuIo {
	constructor(private readonly runner: CommandRunner) {}

	async write(file: string, pattern: number, offset: number, length: number): Promise<void> {
		await this.runner.run('qemu-io', ['-f', 'qcow2', '-c', `write -P ${pattern} ${offset} ${length}`, '--', file]);
	}

	/** True when every byte of the range reads as `pattern` (qemu-io exits 1 otherwise). */
	async holds(file: string, pattern: number, offset: number, length: number): Promise<boolean> {
		try {
			await this.runner.run('qemu-io', ['-r', '-U', '-f', 'qcow2', '-c', `read -P ${pattern} ${offset} ${length}`, '--', file]);
			return true;
		} catch (error) {
			if (/Pattern verification failed/.test((error as {stdout?: string}).stdout ?? '')) return false;
			throw error;
		}
	}
}
