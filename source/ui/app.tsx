import os from 'node:os';
import {Box, Text, useApp} from 'ink';
import {useCallback, useEffect, useMemo, useRef, useState} from 'react';
import {nameProblem} from '../core/names.js';
import {formatBytes} from '../core/units.js';
import type {Service} from '../service/service.js';
import type {BackupMode} from '../core/backup.js';
import {latestPoint} from '../core/points.js';
import type {Retention} from '../core/retention.js';
import {BackupList} from './components/backup-list.js';
import {BackupDialog, ConfirmDialog, confirmRows, defaultSnapshotName, DetailsBox, detailRows, RestoreDialog, TakeDialog, takeFields, type RestoreForm, type TakeForm} from './components/dialogs.js';
import {journalDetails, pointDetails} from './details.js';
import {HelpBar} from './components/help-bar.js';
import {HelpOverlay} from './components/help-overlay.js';
import {JobsPanel, jobsPanelHeight} from './components/jobs-panel.js';
import {SnapshotTree} from './components/snapshot-tree.js';
import {VmList} from './components/vm-list.js';
import {useBackups, useHealth, useInventory, useJournal, useSchedules, useTree} from './hooks/use-inventory.js';
import {ageText, journalLine} from '../core/describe.js';
import {windowStart} from './layout.js';
import {HealthList} from './components/health-list.js';
import {worstOf, type Severity} from '../core/health.js';
import {needsTypedConfirmation} from '../core/plan.js';
import {useIdentityCursor} from './hooks/use-identity-cursor.js';
import {editText, withCursor} from './text-edit.js';
import {useJobs} from './hooks/use-jobs.js';
import {useTerminalSize} from './hooks/use-terminal-size.js';
import {useKeypresses} from './hooks/use-keypresses.js';
import {displayKey, type Command, type Context, type Keymap} from './keymap.js';
import {useTheme} from './theme.js';

export interface AppProps {
	readonly service: Service;
	readonly keymap: Keymap;
	/** The clock for snapshot ages and default names; tests pass a fixed one. */
	readonly now?: () => Date;
	/** The keymap with the configuration's overrides, loaded after the first frame; `keymap` until then. */
	readonly loadKeymap?: () => Promise<Keymap>;
	/** Where several connections are open: which one this is, and the switch to the next. */
	readonly connections?: {readonly index: number; readonly count: number; readonly next: () => void};
	/** Leaves at once, without waiting for jobs to stop (a second quit while they are being cancelled). */
	readonly onForceQuit?: () => void;
	/** How often the inventory and the open view are read again on their own (health: six times less often). */
	readonly refreshMs?: number;
}

/** Below this, no screen can show a plan or a list usefully: the UI asks for a larger terminal. */
export const MIN_COLUMNS = 40;
export const MIN_ROWS = 12;

/** Another snapdeck, or virsh, changes VMs too: the screen follows by itself this often. */
export const AUTO_REFRESH_MS = 5000;

const clamp = (value: number, count: number) => Math.max(0, Math.min(value, count - 1));

export function App({service, keymap: initialKeymap, loadKeymap, connections, onForceQuit, refreshMs = AUTO_REFRESH_MS, now = () => new Date()}: AppProps) {
	const {exit} = useApp();
	const theme = useTheme();
	const {columns, rows: terminalRows} = useTerminalSize();
	// One row short of the terminal: output as tall as the terminal makes Ink clear and repaint the
	// whole screen on every frame (measured: ~700 bytes a progress update instead of one line's worth).
	const rows = Math.max(3, terminalRows - 1);
	const inventory = useInventory(service);
	const [view, setView] = useState<'list' | 'tree' | 'backups' | 'health' | 'log'>('list');
	const [logVm, setLogVm] = useState<string | null>(null);
	const [logCursor, setLogCursor] = useState(0);
	const [filter, setFilter] = useState('');
	const [filtering, setFiltering] = useState(false);
	const [treeVm, setTreeVm] = useState<string | null>(null);
	const [help, setHelp] = useState(false);
	/** An item shown whole (a backup point, a journal record), and how far it is scrolled. */
	const [details, setDetails] = useState<{title: string; lines: string[]} | null>(null);
	const [detailsScroll, setDetailsScroll] = useState(0);
	const [take, setTake] = useState<TakeForm | null>(null);
	const [backupVm, setBackupVm] = useState<string | null>(null);
	const [restore, setRestore] = useState<RestoreForm | null>(null);
	const [takeError, setTakeError] = useState<string | null>(null);
	const [notice, setNotice] = useState<string | null>(null);
	/** Quit was asked for while jobs run: first the question, then their cancel, then the exit. */
	const [quitting, setQuitting] = useState<'asked' | 'cancelling' | null>(null);
	/** The confirmation's first row shown, and the VM's name as typed for a plan that needs it. */
	const [confirmScroll, setConfirmScroll] = useState(0);
	const [typedName, setTypedName] = useState('');
	/** Where the cursor is in the text being edited (null: at its end); each field starts with it at the end. */
	const [editAt, setEditAt] = useState<number | null>(null);
	const [keymap, setKeymap] = useState(initialKeymap);
	useEffect(() => {
		loadKeymap?.().then(setKeymap, (error: unknown) => setNotice(`configuration not used: ${(error as Error).message}`));
	}, [loadKeymap]);
	const tree = useTree(service, view === 'tree' ? treeVm : null);
	const backups = useBackups(service, view === 'backups' ? treeVm : null);
	const health = useHealth(service, inventory.data !== null, now);
	const journal = useJournal(service, logVm, view === 'log');
	const schedules = useSchedules(service, view === 'tree' ? treeVm : null, now);

	const refreshAll = useCallback(() => {
		inventory.refresh();
		tree.refresh();
		backups.refresh();
		health.refresh();
		journal.refresh();
		schedules.refresh();
	}, [inventory.refresh, tree.refresh, backups.refresh, health.refresh, journal.refresh, schedules.refresh]);
	const jobs = useJobs(service, refreshAll);
	// What is on screen is read again every refreshMs, a load at a time (a slow host is not asked
	// twice at once); the cursors hold their items, and unchanged lines are not written again.
	const busy = useRef({inventory: false, view: false});
	busy.current = {inventory: inventory.loading, view: tree.loading || backups.loading || journal.loading};
	useEffect(() => {
		let ticks = 0;
		const timer = setInterval(() => {
			ticks++;
			if (!busy.current.inventory) inventory.refresh();
			if (!busy.current.view) {
				tree.refresh();
				backups.refresh();
				journal.refresh();
			}
			if (ticks % 6 === 0) health.refresh();
		}, refreshMs);
		return () => clearInterval(timer);
	}, [refreshMs, inventory.refresh, tree.refresh, backups.refresh, journal.refresh, health.refresh]);

	const vms = useMemo(() => {
		const all = [...(inventory.data ?? [])].sort((a, b) => a.name.localeCompare(b.name));
		const needle = filter.toLowerCase();
		return needle ? all.filter(vm => vm.name.toLowerCase().includes(needle)) : all;
	}, [inventory.data, filter]);
	// Each list's cursor holds its item (a VM, a snapshot, a point, a finding) across refreshes.
	const vmCursor = useIdentityCursor(vms, vm => vm.name);
	const selected = vmCursor.index;
	const selectedVm = vmCursor.current;
	const treeRows = tree.data?.rows ?? [];
	const treeCursor = useIdentityCursor(treeRows, row => row.node.snapshot.name);
	const selectedSnapshot = treeCursor.current?.node.snapshot;
	const points = useMemo(() => [...(backups.data ?? [])].reverse(), [backups.data]);
	const badges = useMemo(() => new Map<string, Severity>((health.data ?? []).map(vm => [vm.vm, worstOf(vm.findings)])), [health.data]);
	const findings = useMemo(() => (health.data ?? []).flatMap(vm => vm.findings).sort((a, b) => (a.severity === b.severity ? 0 : a.severity === 'critical' ? -1 : 1)), [health.data]);
	const findingCursor = useIdentityCursor(findings, finding => `${finding.vm}\n${finding.rule}\n${finding.message}`);
	const selectedFinding = findingCursor.current;
	const pointCursor = useIdentityCursor(points, point => point.id);
	const selectedPoint = pointCursor.current;

	useEffect(() => {
		setConfirmScroll(0);
		setTypedName('');
		setEditAt(null);
	}, [jobs.confirmation]);
	const typedConfirmation = jobs.confirmation !== null && needsTypedConfirmation(jobs.confirmation.plan);
	const context: Context = quitting ? 'quitting' : jobs.confirmation ? (typedConfirmation ? 'confirmTyped' : 'confirm') : details ? 'details' : take || restore ? 'dialog' : backupVm ? 'backupDialog' : filtering ? 'filter' : help ? 'help' : view;
	const bodyHeight = Math.max(3, rows - 3 - jobsPanelHeight(jobs.jobs, columns));

	const openTake = (vm: string | undefined) => {
		if (!vm) return;
		setTakeError(null);
		setEditAt(null);
		const running = inventory.data?.find(candidate => candidate.name === vm)?.state === 'running';
		setTake({
			vm, name: defaultSnapshotName(now()), description: '', field: 'name', internal: false, memory: false, quiesce: false,
			memoryUnavailable: running ? null : 'the VM is not running',
			quiesceUnavailable: service.hypervisor.canQuiesce ? null : 'no guest agent on this connection',
		});
	};
	const submitTake = (form: TakeForm) => {
		const problem = nameProblem(form.name);
		if (problem) return setTakeError(`invalid name: ${problem}`);
		setTake(null);
		const kind = form.internal || form.memory ? 'internal' as const : 'external' as const;
		jobs.start({kind: 'take', vm: form.vm, request: {name: form.name, description: form.description, kind, memory: form.memory, quiesce: form.quiesce, now: now()}}, `take '${form.name}' of ${form.vm}`);
	};
	const startOnSnapshot = (kind: 'revert' | 'merge') => {
		if (!treeVm || !selectedSnapshot) return setNotice('select a snapshot first');
		jobs.start({kind, vm: treeVm, snapshot: selectedSnapshot.name}, `${kind} ${treeVm} ${kind === 'revert' ? 'to' : 'away'} '${selectedSnapshot.name}'`);
	};
	const vmInView = () => (view === 'list' ? selectedVm?.name : view === 'health' ? selectedFinding?.vm : treeVm ?? undefined);
	const startBackup = (vm: string, mode: BackupMode) => {
		setBackupVm(null);
		jobs.run(`${mode === 'auto' ? '' : `${mode} `}backup of ${vm}`, async ({signal, onEvent}) => {
			let why = '';
			const point = await service.backup(vm, {mode, command: `snapdeck ui: backup ${vm}`, signal, onEvent, onDecision: decision => (why = decision.reason)});
			const size = point.files.reduce((sum, file) => sum + file.size, 0);
			return {outcome: 'done', message: `${point.kind} point ${point.id}, ${formatBytes(size)}${why ? `; full because ${why}` : ''}`};
		});
	};
	const verifyJob = (vm: string, point: string, restoreTest: boolean) =>
		jobs.run(`verify ${vm} ${point}${restoreTest ? ' with a restore test' : ''}`, async ({signal, onEvent}) => {
			const [verdict] = await service.verify(vm, {point, restoreTest, command: `snapdeck ui: verify ${vm}`, signal, onEvent});
			return verdict!.ok ? {outcome: 'done', message: 'ok'} : {outcome: 'failed', message: verdict!.problems.join('; ')};
		});
	const startVerify = (restoreTest: boolean) => {
		if (!treeVm || !selectedPoint) return setNotice('select a backup point first');
		verifyJob(treeVm, selectedPoint.id, restoreTest);
	};
	const startPrune = (vm: string, retention: Retention) =>
		jobs.run(`prune ${vm}`, async ({signal, onEvent, confirm}) => {
			const result = await service.prune(vm, {retention, command: `snapdeck ui: prune ${vm}`, signal, onEvent, confirm});
			if (result.outcome === 'declined') return {outcome: 'declined'};
			if (result.outcome === 'resumed') return {outcome: 'done', message: 'finished the interrupted prune'};
			return {outcome: 'done', message: result.remove.length === 0 ? `nothing to prune: all ${result.keep.length} points are kept` : `removed ${result.remove.length}, kept ${result.keep.length}`};
		});
	const startCopy = (vm: string, point: string | undefined) =>
		// No target in the policy is a note on the status line, not a failed job.
		void service.offsiteTargetOf(vm).then(found => {
			if ('reason' in found) return setNotice(found.reason);
			jobs.run(`copy ${vm}${point ? ` ${point}` : ''} to ${found.name}`, async ({signal, onEvent}) => {
				const copied = await service.copy(vm, found.target, {point, command: `snapdeck ui: copy ${vm}`, signal, onEvent});
				return {outcome: 'done', message: copied.already ? `point ${copied.point} was there already` : `point ${copied.point}, ${formatBytes(copied.uploaded)} uploaded`};
			});
		}, (error: unknown) => setNotice((error as Error).message));
	const jobRunning = () => jobs.jobs.some(job => job.status === 'running' || job.status === 'planning');
	const running = jobs.jobs.filter(job => job.status === 'running' || job.status === 'planning').length;
	// Once every cancelled job has stopped at its safe point, the quit goes through.
	useEffect(() => {
		if (quitting === 'cancelling' && running === 0) exit();
	}, [quitting, running, exit]);
	// Short enough for 40 columns; the footer lists every key of the 'quitting' context.
	const keyOf = (command: 'confirm' | 'deny' | 'quit') => displayKey(keymap.keys[command][0] ?? '');
	const quitNotice = quitting === 'asked'
		? `${running} job${running === 1 ? '' : 's'} running. Cancel ${running === 1 ? 'it' : 'them'} and quit? ${keyOf('confirm')}/${keyOf('deny')}`
		: quitting === 'cancelling' ? `cancelling ${running} job${running === 1 ? '' : 's'}… ${keyOf('quit')} again: quit now` : null;
	const submitRestore = (form: RestoreForm) => {
		const problem = nameProblem(form.name);
		if (problem) return setTakeError(`invalid name: ${problem}`);
		setRestore(null);
		jobs.run(`restore ${form.vm} ${form.point} as ${form.name}`, async ({signal, onEvent}) => {
			await service.restore(form.vm, {point: form.point, as: form.name, command: `snapdeck ui: restore ${form.vm}`, signal, onEvent});
			return {outcome: 'done', message: `new VM ${form.name}`};
		});
	};
	/** Edits `value` by the key (readline's keys), moving the cursor; false when the key does not edit text. */
	const edit = (value: string, spec: string, set: (next: string) => void): boolean => {
		const next = editText(value, editAt ?? [...value].length, spec);
		if (next === null) return false;
		set(next.value);
		setEditAt(next.at);
		return true;
	};

	/** Why the VM cannot be changed now: a job (here or in another snapdeck) holds its lock. */
	const busyNotice = (vm: string | undefined) => {
		const holder = vm === undefined ? undefined : inventory.data?.find(candidate => candidate.name === vm)?.busy;
		return holder ? `${vm} is busy: ${holder}; wait for that job, or cancel it where it runs` : null;
	};

	const tooSmall = columns < MIN_COLUMNS || terminalRows < MIN_ROWS;
	/** Scrolls a box of `count` rows (a plan, a detail view) by the movement keys; false when `command` is not one. */
	const scrollBox = (command: Command | undefined, count: number, position: number, set: (row: number) => void): boolean => {
		const page = Math.max(1, bodyHeight - 4);
		const delta = command === 'up' ? -1 : command === 'down' ? 1 : command === 'pageUp' ? -page : command === 'pageDown' ? page : null;
		if (delta === null) return false;
		set(Math.max(0, Math.min(Math.max(0, count - page), position + delta)));
		return true;
	};

	useKeypresses(spec => {
		const command = keymap.commandFor(context, spec);
		// Nothing is acted on blind: in a terminal too small to show it, only quit works (and only with no job to ask about).
		if (tooSmall) {
			if (keymap.keys.quit.includes(spec) && !jobRunning()) exit();
			return;
		}
		setNotice(null);
		if (context === 'quitting') {
			if (quitting === 'asked' && (command === 'confirm' || command === 'quit')) {
				jobs.cancelAll();
				setQuitting('cancelling');
			} else if (quitting === 'asked' && command === 'deny') setQuitting(null);
			else if (quitting === 'cancelling' && command === 'quit') (onForceQuit ?? exit)();
			return;
		}
		if ((context === 'confirm' || context === 'confirmTyped') && jobs.confirmation) {
			const {plan} = jobs.confirmation;
			// Characters go into the name being typed (j and k too); the arrows and pages scroll.
			if (context === 'confirmTyped' && edit(typedName, spec, setTypedName)) return;
			if (scrollBox(command, confirmRows(plan, columns).length, confirmScroll, setConfirmScroll)) return;
			if (command === 'confirm' || command === 'deny') return jobs.answer(command === 'confirm');
			if (command === 'dismiss') return jobs.answer(false);
			if (command === 'submit') return typedName === plan.vm ? jobs.answer(true) : setNotice(`type ${plan.vm} exactly to proceed, or Esc to cancel`);
			return;
		}
		if (context === 'details' && details) {
			if (scrollBox(command, detailRows(details.title, details.lines, columns).length, detailsScroll, setDetailsScroll)) return;
			if (command === 'dismiss') return setDetails(null);
			return;
		}
		if (context === 'backupDialog' && backupVm) {
			if (command === 'backupAuto') return startBackup(backupVm, 'auto');
			if (command === 'backupFull') return startBackup(backupVm, 'full');
			if (command === 'backupIncremental') return startBackup(backupVm, 'incremental');
			if (command === 'dismiss') setBackupVm(null);
			return;
		}
		if (context === 'dialog' && restore) {
			if (command === 'submit') return submitRestore(restore);
			if (command === 'dismiss') return setRestore(null);
			setTakeError(null);
			edit(restore.name, spec, name => setRestore({...restore, name}));
			return;
		}
		if (context === 'dialog' && take) {
			if (command === 'submit') return submitTake(take);
			if (command === 'dismiss') return setTake(null);
			if (command === 'nextField') {
				setEditAt(null);
				const fields = takeFields(take);
				return setTake({...take, field: fields[(fields.indexOf(take.field) + 1) % fields.length]!});
			}
			setTakeError(null);
			if (take.field === 'name' || take.field === 'description') {
				const field = take.field;
				edit(take[field], spec, text => setTake({...take, [field]: text}));
				return;
			}
			// On an option, Space ticks it; other letters do nothing there.
			if (spec === ' ') return setTake({...take, [take.field]: !take[take.field]});
			return;
		}
		if (context === 'filter') {
			if (command === 'submit') return setFiltering(false);
			if (command === 'dismiss') {
				setFilter('');
				return setFiltering(false);
			}
			vmCursor.reset();
			edit(filter, spec, setFilter);
			return;
		}
		if (context === 'help') {
			if (command === 'dismiss' || keymap.keys.help.includes(spec)) setHelp(false);
			return;
		}
		const count = view === 'list' ? vms.length : view === 'tree' ? treeRows.length : view === 'health' ? findings.length : view === 'log' ? (journal.data ?? []).length : points.length;
		const move = (delta: number) =>
			view === 'list' ? vmCursor.select(selected + delta)
				: view === 'tree' ? treeCursor.select(treeCursor.index + delta)
					: view === 'health' ? findingCursor.select(findingCursor.index + delta)
						: view === 'log' ? setLogCursor(clamp(logCursor + delta, count))
							: pointCursor.select(pointCursor.index + delta);
		// Keys that change the VM say why they cannot while another job is at work on it.
		const changing = command === 'take' || command === 'revert' || command === 'merge' || command === 'backup';
		const blocked = changing ? busyNotice(command === 'revert' || command === 'merge' ? treeVm ?? undefined : vmInView()) : null;
		if (blocked) return setNotice(blocked);
		switch (command) {
			case 'up': return move(-1);
			case 'down': return move(1);
			case 'pageUp': return move(-(bodyHeight - 2));
			case 'pageDown': return move(bodyHeight - 2);
			case 'open': {
				// In the backup points and the journal, Enter shows the selected item whole.
				if (view === 'backups' || view === 'log') {
					const record = view === 'log' ? (journal.data ?? [])[clamp(logCursor, (journal.data ?? []).length)] : undefined;
					const shown = view === 'backups' && selectedPoint && treeVm ? {title: `Backup point ${selectedPoint.id} of ${treeVm}`, lines: pointDetails(selectedPoint)}
						: record ? {title: `Journal record of ${record.vm}`, lines: journalDetails(record)} : null;
					if (!shown) return setNotice('nothing selected');
					setDetailsScroll(0);
					return setDetails(shown);
				}
				const vm = vmInView();
				if (!vm) return;
				setTreeVm(vm);
				treeCursor.reset();
				return setView('tree');
			}
			case 'back': return setView('list');
			case 'health':
				findingCursor.reset();
				return setView('health');
			case 'log':
				setLogVm(vmInView() ?? null);
				setLogCursor(Number.MAX_SAFE_INTEGER);
				return setView('log');
			case 'take': return openTake(vmInView());
			case 'backup': {
				const vm = vmInView();
				if (!vm) return;
				if (!service.repository) return setNotice('no backup repository: pass --repo DIR');
				return setBackupVm(vm);
			}
			case 'backups': {
				const vm = vmInView();
				if (!vm) return;
				setTreeVm(vm);
				pointCursor.reset();
				return setView('backups');
			}
			case 'verify':
				if (view === 'health') {
					const vm = selectedFinding?.vm;
					if (!vm) return;
					return void service.backups(vm).then(all => {
						const newest = latestPoint(all);
						if (!newest) return setNotice(`${vm} has no backup to verify`);
						verifyJob(vm, newest.id, false);
					}, (error: unknown) => setNotice((error as Error).message));
				}
				return startVerify(false);
			case 'verifyRestore': return startVerify(true);
			case 'restore':
				if (!treeVm || !selectedPoint) return setNotice('select a backup point first');
				setTakeError(null);
				setEditAt(null);
				return setRestore({vm: treeVm, point: selectedPoint.id, name: `${treeVm}-restored`});
			case 'prune': {
				if (!treeVm) return;
				// No retention to prune by is a note on the status line, not a failed job.
				return void service.retentionOf(treeVm).then(({policy, retention}) => {
					if (!retention) return setNotice(`${treeVm}: policy '${policy}' has no backups.retention to prune by (see the config)`);
					startPrune(treeVm, retention);
				}, (error: unknown) => setNotice((error as Error).message));
			}
			case 'copy': {
				const vm = vmInView();
				if (!vm) return;
				return startCopy(vm, view === 'backups' ? selectedPoint?.id : undefined);
			}
			case 'revert': return startOnSnapshot('revert');
			case 'merge': return startOnSnapshot('merge');
			case 'filter':
				setEditAt(null);
				return setFiltering(true);
			case 'refresh': return refreshAll();
			case 'connection':
				if (!connections) return setNotice('only one connection is open (give --connect more than once)');
				if (jobRunning()) return setNotice('a job is still running: cancel it first, or wait');
				return connections.next();
			case 'cancelJob': return jobs.cancelLatest() ? setNotice('cancelling…') : setNotice('no job is running');
			case 'help': return setHelp(true);
			case 'quit':
				if (jobRunning()) return setQuitting('asked');
				return exit();
			default:
		}
	});

	const where = view === 'tree' && treeVm ? `VMs › ${treeVm}` : view === 'backups' && treeVm ? `VMs › ${treeVm} › backups` : view === 'health' ? 'VMs › health' : view === 'log' ? `VMs › ${logVm ?? 'all'} › journal` : `VMs (${vms.length}${filter ? ` matching "${filter}"` : ''})`;
	const shown = view === 'list' ? inventory : view === 'tree' ? tree : view === 'health' ? health : view === 'log' ? journal : backups;
	const scheduleLine = (schedules.data ?? []).map(task => `${task.task}: next ${task.nextRun ? task.nextRun.slice(0, 16).replace('T', ' ') : '-'}, last ${task.lastRun ? `${ageText(task.lastRun, now())} ago (${task.lastOutcome})` : 'never'}`).join(' · ');
	const logRecords = journal.data ?? [];
	const logRows = Math.max(1, bodyHeight - 1);
	const logStart = windowStart(logRecords.length, clamp(logCursor, logRecords.length), logRows);
	const loading = shown.loading && !shown.data;
	const error = shown.error;
	if (tooSmall) {
		return (
			<Box flexDirection="column" width={columns} height={rows}>
				<Text wrap="wrap">snapdeck: the terminal is {columns}x{terminalRows}; it needs at least {MIN_COLUMNS}x{MIN_ROWS}.</Text>
				<Text wrap="wrap" color={theme.muted}>Enlarge it to go on{jobRunning() ? ' (jobs keep running meanwhile)' : `, or ${displayKey(keymap.keys.quit[0] ?? '')} to quit`}.</Text>
			</Box>
		);
	}
	return (
		<Box flexDirection="column" width={columns} height={rows}>
			<Text wrap="truncate-end">
				<Text bold color={theme.accent}>snapdeck</Text> {service.hypervisor.uri}{connections ? ` (${connections.index + 1}/${connections.count})` : ''} <Text color={theme.muted}>on {os.hostname()}</Text> · {where}
			</Text>
			{help ? (
				<HelpOverlay keymap={keymap} width={columns} />
			) : jobs.confirmation ? (
				<ConfirmDialog plan={jobs.confirmation.plan} height={bodyHeight} width={columns} scroll={confirmScroll} typed={typedConfirmation ? withCursor(typedName, editAt) : null} />
			) : details ? (
				<DetailsBox title={details.title} lines={details.lines} height={bodyHeight} width={columns} scroll={detailsScroll} closeKey={displayKey(keymap.keys.dismiss[0] ?? '')} />
			) : take ? (
				<TakeDialog form={take} error={takeError} at={editAt} />
			) : restore ? (
				<RestoreDialog form={restore} error={takeError} at={editAt} />
			) : backupVm ? (
				<BackupDialog vm={backupVm} repository={service.repository?.vmDir(backupVm) ?? ''} />
			) : error ? (
				<Box height={bodyHeight}><Text color={theme.error}>{error}</Text></Box>
			) : loading ? (
				<Box height={bodyHeight}><Text color={theme.muted}>loading {view === 'list' ? 'VMs' : view === 'tree' ? `the snapshots of ${treeVm}` : view === 'health' ? 'health' : view === 'log' ? 'the journal' : `the backups of ${treeVm}`}…</Text></Box>
			) : view === 'list' ? (
				<VmList vms={vms} selected={selected} height={bodyHeight} width={columns - 2} now={now()} health={badges}
					empty={filter ? `no VM matches "${filter}": ${displayKey(keymap.keys.dismiss[0] ?? '')} clears the filter` : `no VMs on ${service.hypervisor.uri}`} />
			) : view === 'health' ? (
				<HealthList findings={findings} vms={health.data?.length ?? 0} cursor={findingCursor.index} height={bodyHeight} width={columns - 2}
					fixKeys={{backup: displayKey(keymap.keys.backup[0] ?? ''), verify: displayKey(keymap.keys.verify[0] ?? ''), copy: displayKey(keymap.keys.copy[0] ?? ''), merge: `${displayKey(keymap.keys.open[0] ?? '')}, then ${displayKey(keymap.keys.merge[0] ?? '')}`}} />
			) : view === 'log' ? (
				<Box flexDirection="column" height={bodyHeight}>
					<Text bold wrap="truncate-end">Journal{logVm ? ` of ${logVm}` : ''}: {logRecords.length === 0 ? 'nothing recorded yet' : `${logRecords.length} records, newest last`}</Text>
					{logRecords.slice(logStart, logStart + logRows).map((record, offset) => (
						<Text key={logStart + offset} wrap="truncate-end" inverse={logStart + offset === clamp(logCursor, logRecords.length)} color={record.outcome === 'failed' ? theme.error : record.outcome === 'cancelled' ? theme.warn : undefined}>{journalLine(record)}</Text>
					))}
				</Box>
			) : view === 'backups' ? (
				<BackupList vm={treeVm ?? ''} points={points} cursor={pointCursor.index} height={bodyHeight} width={columns - 2} now={now()} />
			) : tree.data ? (
				<SnapshotTree view={tree.data} cursor={treeCursor.index} height={bodyHeight} width={columns - 2} now={now()} schedule={scheduleLine ? `scheduled ${scheduleLine}` : null} />
			) : null}
			<Box flexGrow={1} />
			<JobsPanel jobs={jobs.jobs} width={columns} />
			<Text wrap="truncate-end" color={notice || quitNotice ? theme.warn : theme.muted}>
				{quitNotice ?? (filtering ? `filter: ${withCursor(filter, editAt)}` : notice ?? (filter ? `filter: ${filter}` : ' '))}
			</Text>
			<HelpBar keymap={keymap} context={context} />
		</Box>
	);
}
