/**
 * Every command, in the order the help lists them. A new command is its module in this folder and
 * its line here.
 */
import demo from './demo.js';
import list from './list.js';
import tree from './tree.js';
import snapshot from './snapshot.js';
import revert from './revert.js';
import merge from './merge.js';
import recover from './recover.js';
import start from './start.js';
import stop from './stop.js';
import backup from './backup.js';
import backups from './backups.js';
import verify from './verify.js';
import files from './files.js';
import restore from './restore.js';
import copy from './copy.js';
import prune from './prune.js';
import health from './health.js';
import runCommand from './run.js';
import schedule from './schedule.js';
import notify from './notify.js';
import checkpoints from './checkpoints.js';
import logCommand from './log.js';
import configCommand from './config.js';
import receipts from './receipts.js';

export const COMMANDS = [demo, list, tree, snapshot, revert, merge, recover, start, stop, backup, backups, verify, files, restore, copy, prune, health, runCommand, schedule, notify, checkpoints, receipts, logCommand, configCommand] as const;
