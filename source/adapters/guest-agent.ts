import net from 'node:net';
import {SnapdeckError} from '../core/errors.js';
import {formatWait} from '../core/units.js';

/**
 * A client of QEMU's guest agent (qemu-ga) on its host-side socket: JSON commands, one answer a
 * line. The agent may have been talked to before, or be half-way through starting: every session
 * begins with `guest-sync` and a fresh id, and reads past anything older than that answer.
 */
export class GuestAgent {
	private buffer = '';
	private waiting: ((line: string) => void) | null = null;
	private readonly lines: string[] = [];

	private constructor(private readonly socket: net.Socket) {
		socket.setEncoding('utf8');
		socket.on('data', (chunk: string) => {
			this.buffer += chunk;
			for (let end = this.buffer.indexOf('\n'); end >= 0; end = this.buffer.indexOf('\n')) {
				const line = this.buffer.slice(0, end).trim();
				this.buffer = this.buffer.slice(end + 1);
				if (!line) continue;
				if (this.waiting) {
					const resolve = this.waiting;
					this.waiting = null;
					resolve(line);
				} else this.lines.push(line);
			}
		});
		socket.on('error', () => undefined);
	}

	/** Connects and synchronises; fails when the agent does not answer within `timeoutMs` (not started yet, or none). */
	static async connect(socketPath: string, timeoutMs: number): Promise<GuestAgent> {
		const socket = await new Promise<net.Socket>((resolve, reject) => {
			const connection = net.connect(socketPath);
			const timer = setTimeout(() => {
				connection.destroy();
				reject(new SnapdeckError('failed', `the guest agent socket ${socketPath} did not accept a connection`));
			}, timeoutMs);
			connection.once('connect', () => {
				clearTimeout(timer);
				resolve(connection);
			});
			connection.once('error', error => {
				clearTimeout(timer);
				reject(error);
			});
		});
		const agent = new GuestAgent(socket);
		try {
			const id = Math.floor(Math.random() * 2 ** 31);
			const deadline = Date.now() + timeoutMs;
			socket.write(`${JSON.stringify({execute: 'guest-sync', arguments: {id}})}\n`);
			for (;;) {
				const answer = JSON.parse(await agent.line(Math.max(1, deadline - Date.now()))) as {return?: unknown};
				if (answer.return === id) return agent;
			}
		} catch (error) {
			agent.close();
			throw error;
		}
	}

	private line(timeoutMs: number): Promise<string> {
		const queued = this.lines.shift();
		if (queued !== undefined) return Promise.resolve(queued);
		return new Promise((resolve, reject) => {
			const timer = setTimeout(() => {
				this.waiting = null;
				reject(new SnapdeckError('failed', `the guest agent did not answer within ${formatWait(timeoutMs)}`));
			}, timeoutMs);
			this.waiting = line => {
				clearTimeout(timer);
				resolve(line);
			};
		});
	}

	/** Runs an agent command; its `return`, or its error as a SnapdeckError. */
	async execute<T = unknown>(command: string, args?: Record<string, unknown>, timeoutMs = 10_000): Promise<T> {
		this.socket.write(`${JSON.stringify({execute: command, ...(args ? {arguments: args} : {})})}\n`);
		const answer = JSON.parse(await this.line(timeoutMs)) as {return?: T; error?: {desc?: string}};
		if (answer.error)
			throw new SnapdeckError(
				'failed',
				`the guest agent refused ${command}: ${answer.error.desc ?? JSON.stringify(answer.error)}`,
			);
		return answer.return as T;
	}

	/**
	 * Runs a program in the guest (guest-exec) and waits for it; its exit code and output. Arguments
	 * go as a list, never through a shell.
	 */
	exec(path: string, args: readonly string[], timeoutMs: number) {
		return execInGuest((command, commandArgs) => this.execute(command, commandArgs), path, args, timeoutMs);
	}

	close() {
		this.socket.destroy();
	}
}

/**
 * Runs `work` with the guest's filesystems frozen through its agent on `socket`: freeze, check the
 * agent says they are frozen, work, and thaw whatever happened (a guest left frozen stops writing).
 */
export async function withFrozenGuest<T>(socket: string, vm: string, work: () => Promise<T>): Promise<T> {
	const agent = await GuestAgent.connect(socket, 5000);
	try {
		await agent.execute('guest-fsfreeze-freeze', undefined, 60_000);
		const status = await agent.execute<string>('guest-fsfreeze-status');
		if (status !== 'frozen')
			throw new SnapdeckError('failed', `the guest agent of ${vm} says its filesystems are ${status}, not frozen`);
		return await work();
	} finally {
		await agent.execute('guest-fsfreeze-thaw', undefined, 60_000).catch(() => undefined);
		agent.close();
	}
}

/** Runs an agent command, however the agent is reached (this process's socket, or libvirt's). */
export type AgentCommand = <T>(command: string, args?: Record<string, unknown>) => Promise<T>;

/**
 * Runs a program in the guest through its agent (guest-exec) and waits for it: its exit code and
 * output. Arguments go as a list, never through a shell.
 */
export async function execInGuest(
	execute: AgentCommand,
	path: string,
	args: readonly string[],
	timeoutMs: number,
): Promise<{exitcode: number; stdout: string; stderr: string}> {
	const {pid} = await execute<{pid: number}>('guest-exec', {path, arg: args, 'capture-output': true});
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const status = await execute<{exited: boolean; exitcode?: number; 'out-data'?: string; 'err-data'?: string}>(
			'guest-exec-status',
			{pid},
		);
		if (status.exited) {
			const decode = (data?: string) => (data ? Buffer.from(data, 'base64').toString('utf8') : '');
			return {exitcode: status.exitcode ?? -1, stdout: decode(status['out-data']), stderr: decode(status['err-data'])};
		}
		if (Date.now() > deadline)
			throw new SnapdeckError('failed', `${path} did not finish in the guest within ${formatWait(timeoutMs)}`);
		await new Promise(resolve => setTimeout(resolve, 200));
	}
}

/** Whether a guest agent answers on `socket` within `timeoutMs` (it syncs: an answer, not just a listening socket). */
export const agentAnswers = (socket: string, timeoutMs: number) =>
	GuestAgent.connect(socket, timeoutMs).then(
		agent => {
			agent.close();
			return true;
		},
		() => false,
	);
