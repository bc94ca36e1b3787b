import {ageText} from '../../core/describe.js';
import {displayKey} from '../keymap.js';
import {SnapshotTree} from '../components/snapshot-tree.js';
import {useFollow, useSchedules, useTree} from '../hooks/use-inventory.js';
import {Loading} from './loading.js';
import {useBinding, useCursor, type Screen, type ScreenProps} from './screen.js';

/** A VM's snapshot tree, where it is now, and its scheduled tasks; take, revert and merge act here. */
function TreeScreen({context, visible}: ScreenProps) {
	const {service, state, actions, now, dispatch} = context;
	const vm = state.vm;
	const tree = useTree(service, vm);
	const schedules = useSchedules(service, vm, now);
	useFollow(tree, context.refresh);
	useFollow(schedules, context.refresh);
	const rows = tree.data?.rows ?? [];
	const cursor = useCursor(context, 'tree', rows, row => row.node.snapshot.name);
	const snapshot = cursor.current?.node.snapshot.name;
	const onSnapshot = (kind: 'revert' | 'merge') => () => {
		if (!vm || snapshot === undefined) return 'select a snapshot first';
		return actions.busy(vm) ?? actions.onSnapshot(kind, vm, snapshot);
	};
	useBinding(context, {
		rows: cursor.keys,
		vm: vm ?? undefined,
		commands: {
			take: () => (vm ? (actions.busy(vm) ?? actions.openTake(vm)) : undefined),
			revert: onSnapshot('revert'),
			merge: onSnapshot('merge'),
			backup: () => (vm ? (actions.busy(vm) ?? actions.openBackup(vm)) : undefined),
			backups: () => dispatch({type: 'go', screen: 'backups', vm}),
		},
	});
	const scheduleLine = (schedules.data ?? [])
		.map(
			task =>
				`${task.task}: next ${task.nextRun ? task.nextRun.slice(0, 16).replace('T', ' ') : '-'}, last ${task.lastRun ? `${ageText(task.lastRun, now())} ago (${task.lastOutcome})` : 'never'}`,
		)
		.join(' · ');
	return (
		<Loading loaded={tree} what={`the snapshots of ${vm}`} height={context.height} visible={visible}>
			{() => (
				<SnapshotTree
					view={tree.data!}
					cursor={cursor.index}
					height={context.height}
					width={context.width}
					now={now()}
					schedule={scheduleLine ? `scheduled ${scheduleLine}` : null}
					takeKey={context.keymap.keys.take[0] === undefined ? 'the take key' : displayKey(context.keymap.keys.take[0])}
				/>
			)}
		</Loading>
	);
}

export const treeScreen: Screen = {
	name: 'tree',
	label: 'the snapshot tree',
	title: state => `VMs › ${state.vm}`,
	Component: TreeScreen,
};
