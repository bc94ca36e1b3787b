import {describeError, exitCodeFor, SnapdeckError} from '../core/errors.js';
import {parseCommandLine} from './flags.js';
import {safeText} from '../core/terminal-text.js';

/** Tells an error (as JSON too, with `--json`) and returns the exit code it names: the one the process exits with. */
function reportError(error: unknown, json: boolean, code: number = exitCodeFor(error)): number {
	const {kind, code: errorCode, message, hint} = describeError(error);
	if (json) {
		process.stdout.write(
			`${JSON.stringify({type: 'error', error: {kind, code: errorCode, message, hint: hint ?? null}, exitCode: code})}\n`,
		);
	}
	process.stderr.write(
		`snapdeck: ${safeText(message, {lines: true})}\n${hint ? `  ${safeText(hint, {lines: true})}\n` : ''}`,
	);
	if (!(error instanceof SnapdeckError) && process.env['SNAPDECK_DEBUG'])
		process.stderr.write(`${(error as Error).stack}\n`);
	return code;
}

export async function main(argv: string[]): Promise<number> {
	let parsed;
	try {
		// The shared flags alone (flags.ts, no imports): all the UI and most command lines hold.
		parsed = parseCommandLine(argv);
	} catch {
		try {
			// A command's own flag, or a mistake: read with every command's flags (which loads the commands).
			const {parseWithEveryFlag} = await import('./command-flags.js');
			parsed = parseWithEveryFlag(argv);
		} catch (error) {
			const {usageErrorOf} = await import('./parse-error.js');
			return reportError(usageErrorOf(error, argv), argv.includes('--json'));
		}
	}
	const {values, positionals} = parsed;
	if (values.version) {
		process.stdout.write('snapdeck 0.1.0\n');
		return 0;
	}
	if (positionals.length === 0 && !values.help && process.stdout.isTTY && process.stdin.isTTY) {
		try {
			// The first frame comes before the commands module (and with it the adapters, zod and
			// the configuration) is loaded; the repository is read from the config on first use.
			const {openUi} = await import('./open-ui.js');
			return await openUi((values.connect ?? [process.env['SNAPDECK_CONNECT'] ?? '']).join(', '), async () => {
				// The session factory alone: the UI needs none of the command modules.
				const {connectionUris, repositoryDir, repositoryNamed, uiServices} = await import('../service/session.js');
				return uiServices(
					await connectionUris(values.connect),
					() => repositoryDir(values.repo),
					repositoryNamed(values.repo),
				);
			});
		} catch (error) {
			return reportError(error, false);
		}
	}
	try {
		// `snapdeck help [COMMAND]`, `snapdeck COMMAND --help`, `snapdeck --help`.
		const [first, ...rest] = positionals;
		if (values.help || first === 'help' || first === undefined) {
			const {commandHelp, usageText} = await import('./help.js');
			const [about, next, ...more] = first === 'help' ? rest : positionals;
			if (first === 'help' && more.length > 0)
				throw new SnapdeckError(
					'usage',
					"'snapdeck help' takes a command and, where it has them, a subcommand",
					"e.g. 'snapdeck help receipts verify'",
				);
			process.stdout.write(about === undefined ? usageText() : commandHelp(about, next, first === 'help'));
			if (first !== undefined || values.help) return 0;
			// Bare `snapdeck` where stdin or stdout is not a terminal (a pipe, cron, ssh without -t): say why no UI opened.
			process.stderr.write(
				"snapdeck: the terminal UI needs a terminal (stdin and stdout are not both one): run a command (e.g. 'snapdeck list'), or 'ssh -t' to the host\n",
			);
			return 2;
		}
		const {runCommand} = await import('./command-runner.js');
		return await runCommand(positionals[0]!, positionals.slice(1), values);
	} catch (error) {
		return reportError(error, values.json, exitCodeOf(positionals[0], error));
	}
}

/**
 * The exit code of a command that failed. For health, 1 and 2 mean warning and critical (Nagios): a
 * check that could not run is UNKNOWN (3), unless the command line itself was wrong (a VM that is
 * not there): that is 2, as for every command.
 */
function exitCodeOf(command: string | undefined, error: unknown): number {
	const mistake =
		error instanceof SnapdeckError &&
		(error.kind === 'usage' || error.code === 'no-such-vm' || error.code === 'bad-name');
	return command === 'health' && !mistake ? 3 : exitCodeFor(error);
}

/**
 * A process's run of the command line, as both entries start it (entry.ts for the bundle,
 * snapshot-entry.ts for the startup snapshot): its exit code set when main is done.
 */
export async function runMain(): Promise<void> {
	// Once an SSH session drops, writing to its terminal fails (EIO, EPIPE); what was running must still
	// stop cleanly (SIGHUP cancels it), not die of an unhandled stream error halfway.
	for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
	process.exitCode = await main(process.argv.slice(2));
}
