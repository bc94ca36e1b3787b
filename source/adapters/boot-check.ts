import {GuestAgent} from './guest-agent.js';
import type {BootCheck} from './hypervisor.js';
import {formatWait} from '../core/units.js';

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

/** The last lines of a console log, for a verdict that says why. */
export const tail = (text: string, lines = 12) =>
	text
		.replace(/\r/g, '')
		.split('\n')
		.filter(line => line.trim() !== '')
		.slice(-lines)
		.join('\n');

/** How a boot test talks to the guest's agent: a ping, and a program run through guest-exec. */
export interface AgentLink {
	ping(): Promise<boolean>;
	exec(
		program: string,
		args: readonly string[],
		timeoutMs: number,
	): Promise<{exitcode: number; stdout: string; stderr: string}>;
}

/** The agent on a unix socket this process connects to (a local VM's). */
export function socketAgent(socket: string): AgentLink {
	const once = async <T>(work: (agent: GuestAgent) => Promise<T>) => {
		const agent = await GuestAgent.connect(socket, 5000);
		try {
			return await work(agent);
		} finally {
			agent.close();
		}
	};
	return {
		ping: () =>
			once(agent => agent.execute('guest-ping')).then(
				() => true,
				() => false,
			),
		exec: (program, args, timeoutMs) => once(agent => agent.exec(program, args, timeoutMs)),
	};
}

/**
 * Watches a throwaway VM until its guest proves it is up (the console pattern; else the agent
 * answers, and the check command, if any, succeeds through it), or it stops (`stopped` says why),
 * or the timeout: the verdict, with the console's last lines when it fails. Any adapter's.
 */
export async function judgeBoot(watch: {
	readConsole: () => Promise<string>;
	agent: AgentLink;
	check: BootCheck;
	signal?: AbortSignal;
	stopped: () => Promise<string | null>;
}): Promise<{ok: boolean; message: string}> {
	const {check, signal} = watch;
	const began = performance.now();
	const seconds = () => (performance.now() - began) / 1000;
	const consoleText = watch.readConsole;
	const deadline = Date.now() + check.timeoutMs;
	for (;;) {
		signal?.throwIfAborted();
		const stopped = await watch.stopped();
		if (stopped !== null)
			return {
				ok: false,
				message: `the VM stopped ${seconds().toFixed(1)} s after it was started (${stopped}); its console ends: ${tail(await consoleText(), 6) || '(nothing)'}`,
			};
		if (Date.now() > deadline)
			return {
				ok: false,
				message: `no sign of life within ${formatWait(check.timeoutMs)} (${check.pattern ? `the console never showed /${check.pattern}/` : 'the guest agent never answered'}); its console ends: ${tail(await consoleText(), 6) || '(nothing)'}`,
			};
		if (check.pattern) {
			if (new RegExp(check.pattern).test(await consoleText()))
				return {ok: true, message: `the console showed /${check.pattern}/ after ${seconds().toFixed(1)} s`};
			await sleep(250);
			continue;
		}
		if (!(await watch.agent.ping())) {
			await sleep(250);
			continue;
		}
		if (!check.command) return {ok: true, message: `the guest agent answered after ${seconds().toFixed(1)} s`};
		const [program, ...rest] = check.command;
		const result = await watch.agent.exec(program!, rest, Math.max(1000, deadline - Date.now()));
		return result.exitcode === 0
			? {
					ok: true,
					message: `the guest agent answered and '${check.command.join(' ')}' succeeded after ${seconds().toFixed(1)} s`,
				}
			: {
					ok: false,
					message: `'${check.command.join(' ')}' failed in the guest (exit ${result.exitcode}): ${tail(`${result.stdout}\n${result.stderr}`, 4) || '(no output)'}`,
				};
	}
}
