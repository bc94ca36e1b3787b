import type {ScreenName} from '../state.js';
import {backupsScreen} from './backups.js';
import {filesScreen} from './files.js';
import {healthScreen} from './health.js';
import {jobsScreen} from './jobs.js';
import {journalScreen} from './journal.js';
import type {Screen} from './screen.js';
import {treeScreen} from './tree.js';
import {vmListScreen} from './vm-list.js';

/** Every screen, by name: a new screen is a module here and its context in the keymap table. */
export const SCREENS: Readonly<Record<ScreenName, Screen>> = {
	list: vmListScreen,
	tree: treeScreen,
	backups: backupsScreen,
	health: healthScreen,
	log: journalScreen,
	jobs: jobsScreen,
	files: filesScreen,
};
