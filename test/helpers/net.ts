import net from 'node:net';

/** A free TCP port on 127.0.0.1. */
export const freePort = () =>
	new Promise<number>(resolve => {
		const probe = net.createServer().listen(0, '127.0.0.1', () => {
			const {port} = probe.address() as net.AddressInfo;
			probe.close(() => resolve(port));
		});
	});

/** Waits (up to `ms`) until something listens on 127.0.0.1:port. */
export async function waitForPort(port: number, ms = 10_000): Promise<void> {
	for (let waited = 0; waited < ms; waited += 50) {
		const open = await new Promise<boolean>(resolve =>
			net
				.connect(port, '127.0.0.1')
				.once('connect', function (this: net.Socket) {
					this.destroy();
					resolve(true);
				})
				.once('error', () => resolve(false)),
		);
		if (open) return;
		await new Promise(resolve => setTimeout(resolve, 50));
	}
}
