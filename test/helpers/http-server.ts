import http from 'node:http';
import type net from 'node:net';
import {afterEachTest} from './cleanup.js';

export interface Received {
	readonly method: string;
	readonly url: string;
	readonly headers: http.IncomingHttpHeaders;
	readonly body: string;
}

const servers: http.Server[] = [];
// After each test: its servers are closed, even when it failed: no listener is left behind.
afterEachTest('http servers', 2, async () => {
	await Promise.all(
		servers.splice(0).map(
			server =>
				new Promise(resolve => {
					server.closeAllConnections();
					server.close(resolve);
				}),
		),
	);
});

/**
 * An HTTP server on 127.0.0.1 that records every request and answers with the next status of
 * `statuses` (the last one once they run out); a status of 0 never answers (a silent peer).
 */
export async function recordingServer(statuses: readonly number[] = [200]) {
	const received: Received[] = [];
	let answered = 0;
	const server = http.createServer((request, response) => {
		const chunks: Buffer[] = [];
		request.on('data', (chunk: Buffer) => chunks.push(chunk));
		request.on('end', () => {
			received.push({
				method: request.method ?? '',
				url: request.url ?? '',
				headers: request.headers,
				body: Buffer.concat(chunks).toString('utf8'),
			});
			const status = statuses[Math.min(answered++, statuses.length - 1)]!;
			if (status !== 0) response.writeHead(status).end('');
		});
	});
	servers.push(server);
	await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
	return {port: (server.address() as net.AddressInfo).port, received};
}
