import {BackupDialog} from '../components/dialogs.js';
import type {OverlayModule, OverlayOf} from './overlay.js';

/** Which backup of a VM: auto, full or incremental, each its own key. */
export const backupOverlay: OverlayModule<OverlayOf<'backup'>> = {
	context: () => 'backupDialog',
	key(overlay, {command, actions, close}) {
		if (command === 'backupAuto' || command === 'backupFull' || command === 'backupIncremental') {
			close();
			return actions.backup(
				overlay.vm,
				command === 'backupAuto' ? 'auto' : command === 'backupFull' ? 'full' : 'incremental',
			);
		}
		if (command === 'dismiss') return close();
	},
	render: (overlay, {repository, height, width}) => (
		<BackupDialog vm={overlay.vm} repository={repository(overlay.vm)} height={height} width={width} />
	),
};
