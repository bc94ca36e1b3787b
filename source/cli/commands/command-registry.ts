/**
 * Every command, in the order the help lists them. A new command is its module in this folder and
 * its line here.
 */
import demo from './demo-command.js';
import list from './list-command.js';
import tree from './tree-command.js';
import snapshot from './snapshot-command.js';
import revert from './revert-command.js';
import merge from './merge-command.js';
import recover from './recover-command.js';
import start from './start-command.js';
import stop from './stop-command.js';
import backup from './backup-command.js';
import backups from './backups-command.js';
import verify from './verify-command.js';
import files from './files-command.js';
import restore from './restore-command.js';
import copy from './copy-command.js';
import prune from './prune-command.js';
import health from './health-command.js';
import runCommand from './run-command.js';
import schedule from './schedule-command.js';
import notify from './notify-command.js';
import checkpoints from './checkpoints-command.js';
import logCommand from './log-command.js';
import configCommand from './config-command.js';
import receipts from './receipts-command.js';
import completion from './completion-command.js';

export const COMMANDS = [
	demo,
	list,
	tree,
	snapshot,
	revert,
	merge,
	recover,
	start,
	stop,
	backup,
	backups,
	verify,
	files,
	restore,
	copy,
	prune,
	health,
	runCommand,
	schedule,
	notify,
	checkpoints,
	receipts,
	logCommand,
	configCommand,
	completion,
] as const;
