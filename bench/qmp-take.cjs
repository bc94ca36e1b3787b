// The floor of a live take (bench/local-take.mjs, bench/local-take-deep.mjs): what a script does by
// hand, one QMP connection asking for the disk's top node and sending one `transaction` of
// `blockdev-snapshot-sync`. Usage: node bench/qmp-take.cjs SOCKET OVERLAY [NODE-NAME]
const net = require('node:net');

const [socket, overlay, node = `bench-${process.pid}`] = process.argv.slice(2);
const client = net.connect(socket);
let buffer = '';
let step = 0;
const send = value => client.write(JSON.stringify(value) + '\n');
client.on('data', chunk => {
	buffer += chunk;
	const lines = buffer.split('\n');
	buffer = lines.pop();
	for (const line of lines) {
		const message = JSON.parse(line);
		if (message.error) throw new Error(message.error.desc);
		if (message.QMP) send({execute: 'qmp_capabilities'});
		else if (!('return' in message)) continue;
		else if (step === 0) (step++, send({execute: 'query-block'}));
		else if (step === 1) {
			step++;
			const top = message.return.find(block => block.inserted).inserted['node-name'];
			send({
				execute: 'transaction',
				arguments: {
					actions: [
						{
							type: 'blockdev-snapshot-sync',
							data: {'node-name': top, 'snapshot-file': overlay, 'snapshot-node-name': node, format: 'qcow2'},
						},
					],
				},
			});
		} else client.end();
	}
});
