import {EventEmitter} from 'node:events';
import net from 'node:net';
import {z} from 'zod';
import {SnapdeckError} from '../../core/errors.js';

const Greeting = z.looseObject({
	QMP: z.looseObject({version: z.looseObject({qemu: z.looseObject({major: z.number(), minor: z.number()})})}),
});
const Success = z.looseObject({return: z.unknown(), id: z.string().optional()});
const Failure = z.looseObject({error: z.looseObject({class: z.string(), desc: z.string()}), id: z.string().optional()});
const Event = z.looseObject({
	event: z.string(),
	data: z.record(z.string(), z.unknown()).optional(),
	timestamp: z.unknown(),
});
export type QmpEvent = z.infer<typeof Event>;

/** The longest line taken from QEMU's monitor: the node list of a deep chain is a few MiB at most. */
const MAX_LINE = 64 << 20;

/** A line's JSON, or undefined when it is none. */
function parseJson(line: string): unknown {
	try {
		return JSON.parse(line) as unknown;
	} catch {
		return undefined;
	}
}

/** QEMU said no to a command: its error class and words. */
export class QmpError extends SnapdeckError {
	constructor(
		readonly command: string,
		readonly errorClass: string,
		readonly desc: string,
	) {
		super('failed', `QEMU refused ${command}: ${desc}`);
	}
}

interface Waiting {
	readonly command: string;
	readonly resolve: (value: unknown) => void;
	readonly reject: (error: Error) => void;
	readonly timer: NodeJS.Timeout;
}

/**
 * A QMP connection over a unix socket: the capabilities handshake, commands matched to their
 * replies by id, events to subscribers, timeouts, and a clear error when the socket goes away.
 */
export class QmpClient {
	private readonly events = new EventEmitter();
	private readonly waiting = new Map<string, Waiting>();
	private nextId = 1;
	private buffer = '';
	private closedReason: string | null = null;

	private constructor(
		private readonly socket: net.Socket,
		readonly path: string,
	) {
		socket.setEncoding('utf8');
		socket.on('data', (chunk: string) => this.receive(chunk));
		const gone = `the QMP socket ${path} closed (the VM stopped?)`;
		socket.on('close', () => this.fail(gone));
		// A QEMU that exits may reset the connection rather than close it: the same news.
		socket.on('error', (error: NodeJS.ErrnoException) =>
			this.fail(
				error.code === 'ECONNRESET' || error.code === 'EPIPE'
					? gone
					: `the QMP socket ${path} failed: ${error.message}`,
			),
		);
	}

	/**
	 * Connects and shakes hands. QEMU serves one monitor client and the kernel queues two more
	 * connects; a connect beyond that is refused at once with EAGAIN, also by connects that were
	 * given up but not yet taken off the queue by a busy QEMU. That is a full queue, not a stopped
	 * VM: it is tried again here, for every caller, for up to `queueWaitMs` (100 to 500 ms apart).
	 */
	static async connect(path: string, timeoutMs = 5000, queueWaitMs = 6000): Promise<QmpClient> {
		const deadline = Date.now() + queueWaitMs;
		for (let attempt = 1; ; attempt++) {
			const pause = Math.min(100 * attempt, 500);
			const socket = await QmpClient.open(path, timeoutMs, Date.now() + pause < deadline);
			if (socket === 'queue full') {
				await new Promise(resolve => setTimeout(resolve, pause));
				continue;
			}
			return QmpClient.handshake(socket.socket, socket.greeting, path);
		}
	}

	/** The socket and QEMU's greeting line, or 'queue full' when the connect was refused with EAGAIN and may be tried again. */
	private static open(path: string, timeoutMs: number, mayRetry: boolean) {
		const socket = net.connect(path);
		return new Promise<{socket: net.Socket; greeting: string} | 'queue full'>((resolve, reject) => {
			// QEMU serves one monitor client at a time: a QEMU that is alive but serving another waits
			// to greet. The attempt is given up (not left queued ahead of the next one) and said to be busy.
			const timer = setTimeout(() => {
				socket.destroy();
				reject(
					new SnapdeckError(
						'failed',
						`QEMU did not greet on ${path} within ${timeoutMs} ms (another client holds its monitor?)`,
						undefined,
						'busy',
					),
				);
			}, timeoutMs);
			let text = '';
			const onData = (chunk: Buffer) => {
				text += chunk.toString('utf8');
				const newline = text.indexOf('\n');
				if (newline < 0) return;
				clearTimeout(timer);
				socket.off('data', onData);
				if (text.length > newline + 1) socket.unshift(Buffer.from(text.slice(newline + 1)));
				resolve({socket, greeting: text.slice(0, newline)});
			};
			socket.on('data', onData);
			socket.once('error', (error: NodeJS.ErrnoException) => {
				clearTimeout(timer);
				if (error.code === 'EAGAIN' && mayRetry) {
					socket.destroy();
					return resolve('queue full');
				}
				reject(
					new SnapdeckError(
						'failed',
						`cannot reach QEMU's QMP socket ${path}: ${error.message}`,
						error.code === 'EAGAIN'
							? 'other clients kept its monitor busy; try again when they are done'
							: 'is the VM running? (snapdeck list shows its state)',
					),
				);
			});
		});
	}

	private static async handshake(socket: net.Socket, greeting: string, path: string): Promise<QmpClient> {
		if (!Greeting.safeParse(parseJson(greeting)).success) {
			socket.destroy();
			throw new SnapdeckError(
				'failed',
				`${path} did not greet as QEMU's monitor does: ${JSON.stringify(greeting.slice(0, 120))}`,
				'check "qmp" in the VM\'s vm.json: it must name the QMP socket of the VM\'s own QEMU',
			);
		}
		const client = new QmpClient(socket, path);
		await client.execute('qmp_capabilities');
		return client;
	}

	private receive(chunk: string) {
		this.buffer += chunk;
		// Only a chunk with a line break can end a line: a long line is not searched again at every chunk.
		if (!chunk.includes('\n')) {
			if (this.buffer.length > MAX_LINE) this.refuse(`more than ${MAX_LINE} bytes without a line break`);
			return;
		}
		for (let newline = this.buffer.indexOf('\n'); newline >= 0; newline = this.buffer.indexOf('\n')) {
			const line = this.buffer.slice(0, newline).trim();
			this.buffer = this.buffer.slice(newline + 1);
			if (line && !this.dispatch(parseJson(line))) return this.refuse(`a line that is not QMP: ${line.slice(0, 120)}`);
		}
		if (this.buffer.length > MAX_LINE) this.refuse(`more than ${MAX_LINE} bytes without a line break`);
	}

	/** What the peer sent is not QMP (vm.json's "qmp" may name any socket): every command fails, and the connection ends. */
	private refuse(what: string) {
		this.fail(`the QMP socket ${this.path} sent ${JSON.stringify(what)}`);
		this.buffer = '';
		this.socket.destroy();
	}

	/** False when the message is neither an event nor a reply. */
	private dispatch(message: unknown): boolean {
		const event = Event.safeParse(message);
		if (event.success) {
			this.events.emit('event', event.data);
			return true;
		}
		const failure = Failure.safeParse(message);
		const success = Success.safeParse(message);
		if (!failure.success && !success.success) return false;
		const reply = failure.success ? failure.data : success.data!;
		const waiting = reply.id === undefined ? undefined : this.waiting.get(reply.id);
		if (!waiting || reply.id === undefined) return true;
		this.waiting.delete(reply.id);
		clearTimeout(waiting.timer);
		if (failure.success)
			waiting.reject(new QmpError(waiting.command, failure.data.error.class, failure.data.error.desc));
		else waiting.resolve(success.data!.return);
		return true;
	}

	private fail(reason: string) {
		if (this.closedReason) return;
		this.closedReason = reason;
		for (const waiting of this.waiting.values()) {
			clearTimeout(waiting.timer);
			waiting.reject(new SnapdeckError('failed', `${waiting.command} got no answer: ${reason}`));
		}
		this.waiting.clear();
		this.events.emit('close', reason);
	}

	/** Runs a command; resolves to its `return` value, validated by `schema` when given. */
	execute<T = unknown>(
		command: string,
		args?: Record<string, unknown>,
		options: {schema?: z.ZodType<T>; timeoutMs?: number} = {},
	): Promise<T> {
		if (this.closedReason)
			return Promise.reject(new SnapdeckError('failed', `cannot run ${command}: ${this.closedReason}`));
		const id = `snapdeck-${this.nextId++}`;
		return new Promise<T>((resolve, reject) => {
			const timer = setTimeout(() => {
				this.waiting.delete(id);
				reject(
					new SnapdeckError(
						'failed',
						`QEMU did not answer ${command} on ${this.path} within ${options.timeoutMs ?? 30_000} ms`,
						'is the VM\'s QEMU hung (its monitor answers nothing)? check "qmp" in its vm.json names its own QMP socket',
					),
				);
			}, options.timeoutMs ?? 30_000);
			this.waiting.set(id, {
				command,
				timer,
				reject,
				resolve: value => {
					if (!options.schema) return resolve(value as T);
					const parsed = options.schema.safeParse(value);
					if (parsed.success) resolve(parsed.data);
					else
						reject(
							new SnapdeckError(
								'failed',
								`QEMU answered ${command} with a shape snapdeck does not know: ${z.prettifyError(parsed.error)}`,
							),
						);
				},
			});
			this.socket.write(`${JSON.stringify(args ? {execute: command, arguments: args, id} : {execute: command, id})}\n`);
		});
	}

	/** Subscribes to events; returns the unsubscribe function. */
	onEvent(listener: (event: QmpEvent) => void): () => void {
		this.events.on('event', listener);
		return () => this.events.off('event', listener);
	}

	/** Resolves with the reason once the connection is gone. */
	closed(): Promise<string> {
		return this.closedReason
			? Promise.resolve(this.closedReason)
			: new Promise(resolve => this.events.once('close', resolve));
	}

	close() {
		this.socket.end();
		this.socket.destroy();
	}
}
