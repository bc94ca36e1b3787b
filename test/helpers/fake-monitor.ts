import net from 'node:net';
import path from 'node:path';
import {tempDir} from './lab.js';

/** A greeting as QEMU 7.2 sends it. */
export const QMP_GREETING = `${JSON.stringify({QMP: {version: {qemu: {major: 7, minor: 2, micro: 0}}, capabilities: []}})}\n`;

/**
 * A unix socket that greets with `greeting` and hands each line it receives to `answer` (vm.json's
 * "qmp" may name any socket): a monitor that is not QEMU, or a QEMU that misbehaves.
 */
export async function fakeMonitor(
	greeting: string,
	answer: (line: string, connection: net.Socket) => void,
): Promise<{socket: string; close: () => Promise<void>}> {
	const socket = path.join(await tempDir(), 'qmp.sock');
	const connections = new Set<net.Socket>();
	const server = net.createServer(connection => {
		connections.add(connection);
		connection.on('error', () => undefined);
		connection.on('close', () => connections.delete(connection));
		connection.write(greeting);
		let buffer = '';
		connection.on('data', chunk => {
			buffer += chunk.toString('utf8');
			for (let newline = buffer.indexOf('\n'); newline >= 0; newline = buffer.indexOf('\n')) {
				const line = buffer.slice(0, newline);
				buffer = buffer.slice(newline + 1);
				if (!connection.destroyed) answer(line, connection);
			}
		});
	});
	await new Promise<void>(resolve => server.listen(socket, resolve));
	return {
		socket,
		close: () =>
			new Promise<void>(resolve => {
				for (const connection of connections) connection.destroy();
				server.close(() => resolve());
			}),
	};
}

/** The reply to a QMP command line, with the line's id. */
export const reply = (line: string, value: unknown) => {
	const {id} = JSON.parse(line) as {id?: string};
	return `${JSON.stringify({return: value, id})}\n`;
};
