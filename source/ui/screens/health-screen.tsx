import {useMemo} from 'react';
import {HealthList} from '../components/health-list.js';
import {findingDetails} from '../details.js';
import {displayKey, type Command} from '../keymap.js';
import {Loading} from './loading.js';
import {useBinding, useCursor, type Screen, type ScreenProps} from './screen.js';

/** Every finding of every VM, worst first, each with the key that fixes it; Enter shows one whole. */
function HealthScreen({context, visible}: ScreenProps) {
	const {health, actions, keymap, dispatch} = context;
	const findings = useMemo(
		() =>
			(health.data ?? [])
				.flatMap(vm => vm.findings)
				.sort((a, b) => (a.severity === b.severity ? 0 : a.severity === 'critical' ? -1 : 1)),
		[health.data],
	);
	const cursor = useCursor(
		context,
		'health',
		findings,
		finding => `${finding.vm}\n${finding.rule}\n${finding.message}`,
	);
	const finding = cursor.current;
	const key = (command: Command) => displayKey(keymap.keys[command][0] ?? '');
	// Merging is done in the VM's tree, not here (where Enter shows the finding whole): the row says where, the finding whole how to get there.
	const fixKeys: Readonly<Record<string, string>> = {
		backup: key('backup'),
		verify: key('verify'),
		copy: key('copy'),
		merge: `${key('merge')} in the tree to`,
	};
	const fixText = (found: NonNullable<typeof finding>) =>
		!found.fix
			? null
			: found.fix === 'merge'
				? `${key('back')} to the VM list, ${key('open')} on ${found.vm}, then ${key('merge')} on the snapshot`
				: (fixKeys[found.fix] ?? null);
	const onVm = (act: (vm: string) => string | void) => () => (finding ? act(finding.vm) : 'no finding selected');
	useBinding(context, {
		rows: cursor.keys,
		vm: finding?.vm,
		commands: {
			open: onVm(vm =>
				dispatch({
					type: 'open',
					overlay: {
						kind: 'details',
						title: `Finding on ${vm}`,
						lines: findingDetails(finding!, fixText(finding!)),
						scroll: 0,
					},
				}),
			),
			backup: onVm(vm => actions.busy(vm) ?? actions.openBackup(vm)),
			verify: onVm(vm => actions.verifyNewest(vm)),
			copy: onVm(vm => actions.copy(vm)),
		},
	});
	return (
		<Loading loaded={health} what="health" height={context.height} visible={visible}>
			{() => (
				<HealthList
					findings={findings}
					vms={health.data?.length ?? 0}
					cursor={cursor.index}
					height={context.height}
					width={context.width - 2}
					fixKeys={fixKeys}
				/>
			)}
		</Loading>
	);
}

export const healthScreen: Screen = {
	name: 'health',
	label: 'the health view',
	title: () => 'VMs › health',
	Component: HealthScreen,
};
