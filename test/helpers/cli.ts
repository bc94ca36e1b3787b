import path from 'node:path';
import {execa} from 'execa';

const BIN = path.resolve('bin/snapdeck');

export interface CliResult {
	readonly exitCode: number;
	readonly stdout: string;
	readonly stderr: string;
	readonly signal: string | undefined;
}

/** Runs the real snapdeck binary, without a terminal, as a script or cron job would. */
export async function snapdeck(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
	const result = await execa(BIN, [...args], {reject: false, env: {NO_COLOR: '1', ...env}, stdin: 'ignore'});
	return {exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr: result.stderr, signal: result.signal};
}

export const jsonOf = (result: CliResult) => JSON.parse(result.stdout) as Record<string, unknown>;
export const jsonLines = (result: CliResult) =>
	result.stdout
		.split('\n')
		.filter(Boolean)
		.map(line => JSON.parse(line) as Record<string, unknown>);
