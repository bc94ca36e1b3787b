import os from 'node:os';
import {Box, Text, useApp} from 'ink';
import {useCallback, useEffect, useMemo, useState} from 'react';
import {nameProblem} from '../core/names.js';
import type {Service} from '../service/service.js';
import {ConfirmDialog, defaultSnapshotName, TakeDialog, type TakeForm} from './components/dialogs.js';
import {HelpBar} from './components/help-bar.js';
import {HelpOverlay} from './components/help-overlay.js';
import {JobsPanel, jobsPanelHeight} from './components/jobs-panel.js';
import {SnapshotTree} from './components/snapshot-tree.js';
import {VmList} from './components/vm-list.js';
import {useInventory, useTree} from './hooks/use-inventory.js';
import {useJobs} from './hooks/use-jobs.js';
import {useTerminalSize} from './hooks/use-terminal-size.js';
import {useKeypresses} from './hooks/use-keypresses.js';
import {isTextKey, type Context, type Keymap} from './keymap.js';
import {useTheme} from './theme.js';

export interface AppProps {
	readonly service: Service;
	readonly keymap: Keymap;
	/** The clock for snapshot ages and default names; tests pass a fixed one. */
	readonly now?: () => Date;
	/** The keymap with the configuration's overrides, loaded after the first frame; `keymap` until then. */
	readonly loadKeymap?: () => Promise<Keymap>;
}

const clamp = (value: number, count: number) => Math.max(0, Math.min(value, count - 1));

export function App({service, keymap: initialKeymap, loadKeymap, now = () => new Date()}: AppProps) {
	const {exit} = useApp();
	const theme = useTheme();
	const {columns, rows: terminalRows} = useTerminalSize();
	// One row short of the terminal: output as tall as the terminal makes Ink clear and repaint the
	// whole screen on every frame (measured: ~700 bytes a progress update instead of one line's worth).
	const rows = Math.max(3, terminalRows - 1);
	const inventory = useInventory(service);
	const [view, setView] = useState<'list' | 'tree'>('list');
	const [selected, setSelected] = useState(0);
	const [filter, setFilter] = useState('');
	const [filtering, setFiltering] = useState(false);
	const [treeVm, setTreeVm] = useState<string | null>(null);
	const [cursor, setCursor] = useState(0);
	const [help, setHelp] = useState(false);
	const [take, setTake] = useState<TakeForm | null>(null);
	const [takeError, setTakeError] = useState<string | null>(null);
	const [notice, setNotice] = useState<string | null>(null);
	const [keymap, setKeymap] = useState(initialKeymap);
	useEffect(() => {
		loadKeymap?.().then(setKeymap, (error: unknown) => setNotice(`configuration not used: ${(error as Error).message}`));
	}, [loadKeymap]);
	const tree = useTree(service, view === 'tree' ? treeVm : null);

	const refreshAll = useCallback(() => {
		inventory.refresh();
		tree.refresh();
	}, [inventory.refresh, tree.refresh]);
	const jobs = useJobs(service, refreshAll);

	const vms = useMemo(() => {
		const all = [...(inventory.data ?? [])].sort((a, b) => a.name.localeCompare(b.name));
		const needle = filter.toLowerCase();
		return needle ? all.filter(vm => vm.name.toLowerCase().includes(needle)) : all;
	}, [inventory.data, filter]);
	const selectedVm = vms[clamp(selected, vms.length)];
	const treeRows = tree.data?.rows ?? [];
	const selectedSnapshot = treeRows[clamp(cursor, treeRows.length)]?.node.snapshot;

	const context: Context = jobs.confirmation ? 'confirm' : take ? 'dialog' : filtering ? 'filter' : help ? 'help' : view;
	const bodyHeight = Math.max(3, rows - 3 - jobsPanelHeight(jobs.jobs, columns));

	const openTake = (vm: string | undefined) => {
		if (!vm) return;
		setTakeError(null);
		setTake({vm, name: defaultSnapshotName(now()), description: '', field: 'name', internal: false});
	};
	const submitTake = (form: TakeForm) => {
		const problem = nameProblem(form.name);
		if (problem) return setTakeError(`invalid name: ${problem}`);
		setTake(null);
		jobs.start({kind: 'take', vm: form.vm, request: {name: form.name, description: form.description, kind: 'external', now: now()}}, `take '${form.name}' of ${form.vm}`);
	};
	const startOnSnapshot = (kind: 'revert' | 'merge') => {
		if (!treeVm || !selectedSnapshot) return setNotice('select a snapshot first');
		jobs.start({kind, vm: treeVm, snapshot: selectedSnapshot.name}, `${kind} ${treeVm} ${kind === 'revert' ? 'to' : 'away'} '${selectedSnapshot.name}'`);
	};
	const editText = (value: string, spec: string) => (spec === 'backspace' ? [...value].slice(0, -1).join('') : isTextKey(spec) ? value + spec : value);

	useKeypresses(spec => {
		const command = keymap.commandFor(context, spec);
		setNotice(null);
		if (context === 'confirm') {
			if (command === 'confirm' || command === 'deny') jobs.answer(command === 'confirm');
			return;
		}
		if (context === 'dialog' && take) {
			if (command === 'submit') return submitTake(take);
			if (command === 'dismiss') return setTake(null);
			if (command === 'nextField') return setTake({...take, field: take.field === 'name' ? 'description' : 'name'});
			setTakeError(null);
			return setTake({...take, [take.field]: editText(take[take.field], spec)});
		}
		if (context === 'filter') {
			if (command === 'submit') return setFiltering(false);
			if (command === 'dismiss') {
				setFilter('');
				return setFiltering(false);
			}
			setSelected(0);
			return setFilter(editText(filter, spec));
		}
		if (context === 'help') {
			if (command === 'dismiss' || keymap.keys.help.includes(spec)) setHelp(false);
			return;
		}
		const count = view === 'list' ? vms.length : treeRows.length;
		const move = (delta: number) => (view === 'list' ? setSelected(clamp(selected + delta, count)) : setCursor(clamp(cursor + delta, count)));
		switch (command) {
			case 'up': return move(-1);
			case 'down': return move(1);
			case 'pageUp': return move(-(bodyHeight - 2));
			case 'pageDown': return move(bodyHeight - 2);
			case 'open':
				if (!selectedVm) return;
				setTreeVm(selectedVm.name);
				setCursor(0);
				return setView('tree');
			case 'back': return setView('list');
			case 'take': return openTake(view === 'tree' ? treeVm ?? undefined : selectedVm?.name);
			case 'revert': return startOnSnapshot('revert');
			case 'merge': return startOnSnapshot('merge');
			case 'filter': return setFiltering(true);
			case 'refresh': return refreshAll();
			case 'cancelJob': return jobs.cancelLatest() ? setNotice('cancelling…') : setNotice('no job is running');
			case 'help': return setHelp(true);
			case 'quit':
				if (jobs.jobs.some(job => job.status === 'running' || job.status === 'planning')) return setNotice('a job is still running: cancel it first, or wait');
				return exit();
			default:
		}
	});

	const where = view === 'tree' && treeVm ? `VMs › ${treeVm}` : `VMs (${vms.length}${filter ? ` matching "${filter}"` : ''})`;
	const loading = view === 'list' ? inventory.loading && !inventory.data : tree.loading && !tree.data;
	const error = view === 'list' ? inventory.error : tree.error;
	return (
		<Box flexDirection="column" width={columns} height={rows}>
			<Text wrap="truncate-end">
				<Text bold color={theme.accent}>snapdeck</Text> {service.hypervisor.uri} <Text color={theme.muted}>on {os.hostname()}</Text> · {where}
			</Text>
			{help ? (
				<HelpOverlay keymap={keymap} width={columns} />
			) : jobs.confirmation ? (
				<ConfirmDialog plan={jobs.confirmation.plan} height={bodyHeight} />
			) : take ? (
				<TakeDialog form={take} error={takeError} />
			) : error ? (
				<Box height={bodyHeight}><Text color={theme.error}>{error}</Text></Box>
			) : loading ? (
				<Box height={bodyHeight}><Text color={theme.muted}>loading {view === 'list' ? 'VMs' : `the snapshots of ${treeVm}`}…</Text></Box>
			) : view === 'list' ? (
				<VmList vms={vms} selected={clamp(selected, vms.length)} height={bodyHeight} width={columns - 2} />
			) : tree.data ? (
				<SnapshotTree view={tree.data} cursor={clamp(cursor, treeRows.length)} height={bodyHeight} width={columns - 2} now={now()} />
			) : null}
			<Box flexGrow={1} />
			<JobsPanel jobs={jobs.jobs} width={columns} />
			<Text wrap="truncate-end" color={notice ? theme.warn : theme.muted}>
				{filtering ? `filter: ${filter}▏` : notice ?? (filter ? `filter: ${filter}` : ' ')}
			</Text>
			<HelpBar keymap={keymap} context={context} />
		</Box>
	);
}
