import {VmList} from '../components/vm-list.js';
import {displayKey} from '../keymap.js';
import {Loading} from './loading.js';
import {useBinding, useCursor, type Screen, type ScreenProps} from './screen.js';

/** Every VM of the connection: state, disks, snapshots, chain depth, backup and off-site age, health badge. */
function VmListScreen({context, visible}: ScreenProps) {
	const {vms, actions, state, keymap, dispatch} = context;
	const cursor = useCursor(context, 'list', vms, vm => vm.name);
	const vm = cursor.current?.name;
	const onVm = (act: (name: string) => string | void) => () => (vm === undefined ? 'no VM selected' : act(vm));
	const changing = (act: (name: string) => string | void) => onVm(name => actions.busy(name) ?? act(name));
	useBinding(context, {
		rows: cursor.keys,
		vm,
		commands: {
			open: onVm(name => dispatch({type: 'go', screen: 'tree', vm: name})),
			take: changing(actions.openTake),
			backup: changing(actions.openBackup),
			backups: onVm(name => dispatch({type: 'go', screen: 'backups', vm: name})),
			copy: onVm(name => actions.copy(name)),
			filter: () => dispatch({type: 'open', overlay: {kind: 'filter', at: null}}),
			clearFilter: () => (state.filter ? dispatch({type: 'filter', text: ''}) : 'no filter to clear'),
		},
	});
	return (
		<Loading loaded={context.inventory} what="VMs" height={context.height} visible={visible}>
			{() => (
				<VmList
					vms={vms}
					selected={cursor.index}
					height={context.height}
					width={context.width - 2}
					now={context.now()}
					health={context.badges}
					empty={
						state.filter
							? `no VM matches "${state.filter}": ${displayKey(keymap.keys.dismiss[0] ?? '')} clears the filter`
							: `no VMs on ${context.service.connection.uri}`
					}
				/>
			)}
		</Loading>
	);
}

export const vmListScreen: Screen = {
	name: 'list',
	label: 'the VM list',
	title: (state, count) => `VMs (${count}${state.filter ? ` matching "${state.filter}"` : ''})`,
	Component: VmListScreen,
};
