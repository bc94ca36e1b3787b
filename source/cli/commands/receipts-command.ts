import {readFile} from 'node:fs/promises';
import {SnapdeckError} from '../../core/errors.js';
import {expectArgs, print, printJson, receiptCheck} from '../support.js';
import {defineCommand} from '../command.js';

export default defineCommand({
	name: 'receipts',
	usage: `  snapdeck receipts VM                      what was proved of a VM's points (restore tests, boot
                                            tests, audits), each a signed receipt in the repository
  snapdeck receipts verify FILE [--key PUBLIC]
                                            check a receipt offline: its signature by the public key
                                            (default: this user's), and that nothing in it changed`,
	flags: ['key', 'origin'],
	uses: ['backups'],
	words: ['verify'],
	backups: true,
	async run({args, flags, service}) {
		if (args[0] === 'verify') {
			const [, file] = expectArgs('receipts verify', args, ['verify', 'file']);
			const key = flags.key === undefined ? undefined : await readFile(flags.key, 'utf8').catch(() => {
				throw new SnapdeckError('input', `cannot read the public key ${flags.key}`);
			});
			const verdict = await receiptCheck(file!, key);
			if (flags.json) printJson(verdict);
			else print(verdict.ok ? `valid: ${verdict.summary}` : `INVALID: ${verdict.why}`);
			return verdict.ok ? 0 : 1;
		}
		const [vm] = expectArgs('receipts', args, ['vm']);
		const receipts = await (await service()).receipts(vm!, {origin: flags.origin});
		if (flags.json) printJson({vm, receipts: receipts.map(({file, receipt, problem}) => ({file, receipt: receipt?.receipt ?? null, keyId: receipt?.keyId ?? null, ...(problem ? {problem} : {})}))});
		else if (receipts.length === 0) print(`${vm} has no receipts yet: a passing 'snapdeck verify ${vm} --restore-test', 'verify --boot' or 'backup --audit' writes one`);
		else {
			for (const {file, receipt, problem} of receipts) {
				print(receipt ? `${receipt.receipt.at}  ${receipt.receipt.proved.padEnd(12)}  point ${receipt.receipt.point}  key ${receipt.keyId}  ${file}` : `!  ${file}: ${problem}`);
			}
		}
		return 0;
	},
});
