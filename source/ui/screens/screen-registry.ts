import type {ScreenName} from '../state.js';
import {backupsScreen} from './backups-screen.js';
import {filesScreen} from './files-screen.js';
import {healthScreen} from './health-screen.js';
import {jobsScreen} from './jobs-screen.js';
import {journalScreen} from './journal-screen.js';
import type {Screen} from './screen.js';
import {treeScreen} from './tree-screen.js';
import {vmListScreen} from './vm-list-screen.js';

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
