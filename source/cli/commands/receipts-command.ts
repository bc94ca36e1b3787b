import {print, printJson, receiptCheck} from '../support.js';
import {defineCommand} from '../command.js';

const verify = defineCommand({
	name: 'receipts verify',
	summary: 'check a receipt offline: its signature and content',
	description: "Its signature by the public key (--key; default: this user's), and that nothing in it changed.",
	args: [{key: 'file', kind: 'path', help: "the receipt: a .json file from a VM's receipts/ folder of the repository"}],
	flags: ['key'],
	ownFlags: {
		key: {
			type: 'string',
			value: 'PUBLIC',
			help: "the public key (PEM) a receipt must be signed by; default: this user's (receipts-ed25519.pub in the configuration folder)",
		},
	},
	examples: [
		{
			line: 'snapdeck receipts verify web1-restore-test.json --key ops.pub',
			does: 'checks a receipt someone sent, with their public key',
		},
	],
	async run({args, flags}) {
		const verdict = await receiptCheck(args.file, flags.key);
		if (flags.json) printJson(verdict);
		else print(verdict.ok ? `valid: ${verdict.summary}` : `INVALID: ${verdict.why}`);
		return verdict.ok ? 0 : 1;
	},
});

export default defineCommand({
	name: 'receipts',
	order: 220,
	summary: "what was proved of a VM's points: signed receipts",
	description:
		"Restore tests, boot tests and audits each write a receipt into the repository, signed by this host's key.",
	args: [{key: 'vm', kind: 'vm', help: 'the VM'}],
	flags: ['origin'],
	flagHelp: {
		origin:
			"the receipts of another VM of the same name (another host's, another lab's), kept with its backups: its host name or the tag of their folder, as 'snapdeck backups VM' shows them",
	},
	examples: [
		{
			line: 'snapdeck receipts web1',
			does: "web1's receipts: when, what was proved, of which point, signed by which key",
		},
	],
	subcommands: [verify],
	uses: ['backups'],
	backups: true,
	async run({args, flags, service}) {
		const {vm} = args;
		const receipts = await (await service()).receipts(vm, {origin: flags.origin});
		if (flags.json)
			printJson({
				vm,
				receipts: receipts.map(({file, receipt, problem}) => ({
					file,
					receipt: receipt?.receipt ?? null,
					keyId: receipt?.keyId ?? null,
					...(problem ? {problem} : {}),
				})),
			});
		else if (receipts.length === 0)
			print(
				`${vm} has no receipts yet: a passing 'snapdeck verify ${vm} --restore-test', 'verify --boot' or 'backup --audit' writes one`,
			);
		else {
			for (const {file, receipt, problem} of receipts) {
				print(
					receipt
						? `${receipt.receipt.at}  ${receipt.receipt.proved.padEnd(12)}  point ${receipt.receipt.point}  key ${receipt.keyId}  ${file}`
						: `!  ${file}: ${problem}`,
				);
			}
		}
		return 0;
	},
});
