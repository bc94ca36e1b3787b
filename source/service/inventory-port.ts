import type {VmSummary} from '../core/model.js';
import {latestPoint} from '../core/points.js';
import {buildSnapshotTree, flattenTree} from '../core/tree.js';
import {describeHolder, heldHere} from '../adapters/state/lock.js';
import type {Repository} from '../backup/repository.js';
import {readOffsiteState} from '../backup/offsite-record.js';
import type {Inventory, TreeView} from './ports.js';
import type {SessionContext} from './session-context.js';

/** The Inventory port: the VMs, their snapshot trees, and what the connection is and can do (never the adapter itself). */
export function inventoryPort(session: SessionContext): Inventory {
	const {hypervisor} = session;
	return {
		get connection() {
			return {uri: hypervisor.uri, canQuiesce: hypervisor.roles.guestAgents !== undefined};
		},
		roleProblem: (role, doing) =>
			hypervisor.roles[role] ? null : (hypervisor.unavailable[role] ?? `${hypervisor.uri} cannot ${doing} yet`),
		list: options => list(session, options),
		names: () => session.names(),
		tree: vm => tree(session, vm),
		canQuiesce: async vm => (hypervisor.roles.guestAgents ? hypervisor.roles.guestAgents.canQuiesce(vm) : false),
		watch: onChange => hypervisor.roles.watching?.watch?.(onChange) ?? (() => undefined),
	};
}

/**
 * The inventory, with each VM's newest backup and off-site copy from the repository where there
 * is one. `onRows` gets the rows as soon as the hypervisor has answered, before the repository
 * (which may mean loading the configuration and reading a manifest per VM) is read: the UI draws
 * the list from them and fills in the ages after.
 */
async function list(
	session: SessionContext,
	options: {onRows?: (vms: VmSummary[]) => void} = {},
): Promise<VmSummary[]> {
	const {hypervisor} = session;
	// Finding the repository may mean loading the configuration: at the same time as the inventory,
	// unless the rows are wanted early (the UI): then after them, so that it does not hold them back.
	const findRepository = () => session.pendingRepository().catch(() => null);
	const pending = options.onRows ? null : findRepository();
	const vms = await Promise.all(
		(await hypervisor.list()).map(async vm => {
			const holder = (await hypervisor.roles.watching?.lockHolder(vm.name).catch(() => null)) ?? null;
			// A lock this very process holds is one of its own jobs, which the caller knows better
			// (the UI marks them from its job list, and a list read just before such a job ends must
			// not leave the VM looking busy after it).
			return holder === null || heldHere(holder) ? vm : {...vm, busy: describeHolder(holder)};
		}),
	);
	options.onRows?.(vms);
	const repo = await (pending ?? findRepository());
	return repo ? Promise.all(vms.map(async vm => withBackupAges(repo, vm))) : vms;
}

/** The row with the VM's newest point and off-site copy, from its own folder of backups (another host's VM of the same name has its own). */
async function withBackupAges(repo: Repository, vm: VmSummary): Promise<VmSummary> {
	const bound = await repo.bind(vm.name, vm.identity ?? null).then(
		() => true,
		() => false,
	);
	if (!bound) return vm;
	const [manifest, offsite] = await Promise.all([
		repo.read(vm.name).catch(() => null),
		readOffsiteState(repo, vm.name).catch(() => null),
	]);
	const copies = (offsite?.targets ?? []).flatMap(target => (target.lastCopy ? [target.lastCopy.at] : [])).sort();
	return {
		...vm,
		lastBackup: latestPoint(manifest?.points ?? [])?.createdAt ?? null,
		lastOffsite: copies.at(-1) ?? null,
	};
}

/** The VM's snapshot tree as rows, with each snapshot's size on disk, its problems, and an unfinished change. */
async function tree(session: SessionContext, vm: string): Promise<TreeView> {
	const {state, problems, findings} = await session.inspect(vm);
	const {definition} = state;
	return {
		vm: definition.name,
		current: definition.current,
		snapshots: definition.snapshots,
		rows: flattenTree(buildSnapshotTree(definition)),
		sizes: Object.fromEntries(
			definition.snapshots.map(snapshot => [
				snapshot.name,
				snapshot.disks.reduce((sum, disk) => {
					const image = state.images[disk.file];
					if (snapshot.kind === 'external') return sum + (image?.actualSize ?? 0);
					return sum + (image?.internalSnapshots.find(internal => internal.name === snapshot.name)?.vmStateSize ?? 0);
				}, 0),
			]),
		),
		problems,
		findings,
		pending: await session.hypervisor.operations(vm).readPending(),
	};
}
