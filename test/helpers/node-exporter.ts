import {execa} from 'execa';
import {freePort, waitForPort} from './net.js';

/**
 * Debian's prometheus-node-exporter as its service runs it (LAB.md): as user prometheus, on
 * 127.0.0.1, with only the textfile collector, on `dir`. `stop` ends it (runuser passes the
 * SIGTERM on and waits for it).
 */
export async function startNodeExporter(dir: string) {
	const port = await freePort();
	const exporter = execa(
		'runuser',
		[
			'-u',
			'prometheus',
			'--',
			'prometheus-node-exporter',
			`--web.listen-address=127.0.0.1:${port}`,
			'--collector.disable-defaults',
			'--collector.textfile',
			`--collector.textfile.directory=${dir}`,
		],
		{reject: false, stdin: 'ignore'},
	);
	await waitForPort(port);
	return {
		port,
		/** What Prometheus would scrape. */
		scrape: async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text(),
		stop: async () => {
			exporter.kill('SIGTERM');
			await exporter;
		},
	};
}
