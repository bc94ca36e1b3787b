// Made by scripts/command-registry.mjs from the NAME-command.ts files of this folder: do not edit.
// A new command is its module here; `npm run build` (and the tests' setup) rewrites this list.
import type {Command} from '../command.js';
import backupCommand from './backup-command.js';
import backupsCommand from './backups-command.js';
import checkpointsCommand from './checkpoints-command.js';
import completionCommand from './completion-command.js';
import configCommand from './config-command.js';
import copyCommand from './copy-command.js';
import demoCommand from './demo-command.js';
import filesCommand from './files-command.js';
import healthCommand from './health-command.js';
import listCommand from './list-command.js';
import logCommand from './log-command.js';
import mergeCommand from './merge-command.js';
import notifyCommand from './notify-command.js';
import pruneCommand from './prune-command.js';
import receiptsCommand from './receipts-command.js';
import recoverCommand from './recover-command.js';
import restoreCommand from './restore-command.js';
import revertCommand from './revert-command.js';
import runCommand from './run-command.js';
import scheduleCommand from './schedule-command.js';
import snapshotCommand from './snapshot-command.js';
import startCommand from './start-command.js';
import stopCommand from './stop-command.js';
import treeCommand from './tree-command.js';
import verifyCommand from './verify-command.js';

/** Every command, in the order the help lists them: by each spec's `order`, then by name. */
export const COMMANDS: readonly Command[] = [
	backupCommand,
	backupsCommand,
	checkpointsCommand,
	completionCommand,
	configCommand,
	copyCommand,
	demoCommand,
	filesCommand,
	healthCommand,
	listCommand,
	logCommand,
	mergeCommand,
	notifyCommand,
	pruneCommand,
	receiptsCommand,
	recoverCommand,
	restoreCommand,
	revertCommand,
	runCommand,
	scheduleCommand,
	snapshotCommand,
	startCommand,
	stopCommand,
	treeCommand,
	verifyCommand,
].sort((a, b) => (a.order ?? Infinity) - (b.order ?? Infinity) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
