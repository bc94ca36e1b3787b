import type {VmRunState} from '../../core/model.js';
import type {Virsh} from './virsh.js';

/** A run state as virsh's domstate words it, in snapdeck's terms. */
export const runState = (domstate: string): VmRunState => {
	const state = domstate.trim();
	if (state === 'running' || state === 'paused' || state === 'in shutdown') return 'running';
	if (state === 'shut off' || state === 'crashed') return 'stopped';
	return 'unknown';
};

/** What `virsh list` printed: one name a line. */
const namesIn = (output: string) =>
	output
		.split('\n')
		.map(line => line.trim())
		.filter(Boolean);

/** One domain as libvirt describes it to the list: its state, its XML, its snapshots' names and the current one. */
export interface DomainRow {
	readonly name: string;
	readonly state: VmRunState;
	/** Empty when libvirt gave none (the domain went meanwhile). */
	readonly xml: string;
	readonly snapshots: readonly string[];
	readonly current: string | null;
}

/**
 * Every domain of the connection, in two batches to virsh. The first asks libvirt for lists of
 * all domains (one call each, whatever their number): every name, those running, paused and off,
 * and those without snapshots. The second asks each domain for its XML, and only what those
 * lists do not tell: its snapshot names and current snapshot where it has snapshots, its state
 * where it is in none of the three (in shutdown, crashed, suspended...). A list that failed only
 * costs the domains it would have spared their questions.
 */
export async function domainRows(virsh: Virsh): Promise<DomainRow[]> {
	const [all = '', running = '', paused = '', off = '', bare = ''] = await virsh.batch([
		['list', '--all', '--name'],
		['list', '--name', '--state-running'],
		['list', '--name', '--state-paused'],
		['list', '--all', '--name', '--state-shutoff'],
		['list', '--all', '--name', '--without-snapshot'],
	]);
	// A batch gives a failed command's output as empty: no domain at all is asked again alone, which says why it failed.
	const names = (namesIn(all).length > 0 ? namesIn(all) : namesIn(await virsh.run(['list', '--all', '--name']))).sort();
	const known = new Map<string, VmRunState>([
		...namesIn(off).map(name => [name, 'stopped'] as const),
		...[...namesIn(running), ...namesIn(paused)].map(name => [name, 'running'] as const),
	]);
	const withoutSnapshots = new Set(namesIn(bare));
	const questions = names.map(name => ({
		xml: ['dumpxml', '--domain', name],
		state: known.has(name) ? null : ['domstate', '--domain', name],
		snapshots: withoutSnapshots.has(name)
			? null
			: [
					['snapshot-list', '--domain', name, '--name'],
					['snapshot-current', '--domain', name, '--name'],
				],
	}));
	const outputs = await virsh.batch(
		questions.flatMap(asked => [asked.xml, ...(asked.state ? [asked.state] : []), ...(asked.snapshots ?? [])]),
	);
	let next = 0;
	return names.map((name, index) => {
		const asked = questions[index]!;
		const xml = outputs[next++] ?? '';
		const state = asked.state ? runState(outputs[next++] ?? '') : known.get(name)!;
		if (!asked.snapshots) return {name, state, xml, snapshots: [], current: null};
		const snapshots = namesIn(outputs[next++] ?? '');
		const current = (outputs[next++] ?? '').trim() || null;
		return {name, state, xml, snapshots, current};
	});
}
