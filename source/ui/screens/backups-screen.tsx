import {useMemo} from 'react';
import {BackupList} from '../components/backup-list.js';
import {pointDetails} from '../details.js';
import {useBackups, useFollow} from '../hooks/use-inventory.js';
import {Loading} from './loading.js';
import {useBinding, useCursor, type Screen, type ScreenProps} from './screen.js';

/** A VM's backup points, newest first: verify, restore, prune, copy off-site, and each point whole. */
function BackupsScreen({context, visible}: ScreenProps) {
	const {service, state, actions, dispatch} = context;
	const vm = state.vm;
	const backups = useBackups(service, vm);
	useFollow(backups, context.refresh);
	const points = useMemo(() => [...(backups.data ?? [])].reverse(), [backups.data]);
	const cursor = useCursor(context, 'backups', points, point => point.id);
	const point = cursor.current;
	const onPoint = (act: (vm: string, point: string) => string | void) => () =>
		!vm || !point ? 'select a backup point first' : act(vm, point.id);
	useBinding(context, {
		rows: cursor.keys,
		vm: vm ?? undefined,
		commands: {
			open: () =>
				vm && point
					? dispatch({
							type: 'open',
							overlay: {
								kind: 'details',
								title: `Backup point ${point.id} of ${vm}`,
								lines: pointDetails(point),
								scroll: 0,
							},
						})
					: 'nothing selected',
			verify: onPoint((name, id) => actions.verify(name, id, false)),
			verifyRestore: onPoint((name, id) => actions.verify(name, id, true)),
			restore: onPoint(actions.openRestore),
			files: onPoint((name, id) => dispatch({type: 'go', screen: 'files', vm: name, point: id})),
			prune: () => (vm ? actions.prune(vm) : undefined),
			copy: () => (vm ? actions.copy(vm, point?.id) : undefined),
			backup: () => (vm ? (actions.busy(vm) ?? actions.openBackup(vm)) : undefined),
		},
	});
	return (
		<Loading loaded={backups} what={`the backups of ${vm}`} height={context.height} visible={visible}>
			{() => (
				<BackupList
					vm={vm ?? ''}
					points={points}
					cursor={cursor.index}
					height={context.height}
					width={context.width - 2}
					now={context.now()}
				/>
			)}
		</Loading>
	);
}

export const backupsScreen: Screen = {
	name: 'backups',
	label: 'the backup points',
	title: state => `VMs › ${state.vm} › backups`,
	Component: BackupsScreen,
};
