import {watch, type FSWatcher} from 'node:fs';
import path from 'node:path';
import {heldHere, lockHolder} from '../state/lock.js';
import {stateDir} from '../state/operation-store.js';
import {VM_FILE} from './vm-file.js';

/**
 * Watches, by inotify, the lab's folder (VMs added or removed) and each VM's state folder (its
 * lock taken or given back: every change snapdeck makes to a VM is made under it), so another
 * snapdeck's change shows at once. Not the VM's own folder: a guest or a merge writing its images
 * would report every write (measured: 1,400 callbacks in a 2 s merge). A VM without a state folder
 * yet is watched for its creation and for its vm.json's. The caller's own jobs' locks are not
 * reported (it knows them); vm.json edited by hand once the VM has a state folder shows at the
 * caller's next poll.
 */
export function watchLab(root: string, names: () => Promise<string[]>, onChange: () => void): () => void {
	const watchers = new Map<string, FSWatcher>();
	const ours = new Set<string>();
	const close = (folder: string) => {
		watchers.get(folder)?.close();
		watchers.delete(folder);
	};
	const add = (folder: string, onEvent: (name: string | null) => void) => {
		if (watchers.has(folder)) return true;
		try {
			const watcher = watch(folder, {persistent: false}, (_event, name) => onEvent(name));
			watcher.on('error', () => close(folder));
			watchers.set(folder, watcher);
			return true;
		} catch {
			return false;
		}
	};
	const lockChanged = async (vm: string, lock: string) => {
		const holder = await lockHolder(lock).catch(() => null);
		const mine = heldHere(holder);
		if (mine) return void ours.add(vm);
		if (holder === null && ours.delete(vm)) return;
		onChange();
	};
	const watchVm = (vm: string) => {
		const folder = path.join(root, vm);
		const state = stateDir(folder);
		const lock = path.join(state, 'lock');
		if (add(state, name => name === 'lock' && void lockChanged(vm, lock))) return close(folder);
		add(folder, name => {
			// A folder made before its vm.json (by hand, or a copy) lists as damaged until vm.json comes.
			if (name === VM_FILE) onChange();
			if (name === '.snapdeck' && add(state, changed => changed === 'lock' && void lockChanged(vm, lock)))
				close(folder);
		});
	};
	const follow = async () => {
		for (const name of await names().catch(() => [])) watchVm(name);
	};
	add(root, name => {
		if (name !== null && name.startsWith('.')) return;
		void follow();
		onChange();
	});
	void follow();
	return () => {
		for (const folder of [...watchers.keys()]) close(folder);
	};
}
