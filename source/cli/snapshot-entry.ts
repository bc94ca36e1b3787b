// First: it records what the modules below read of the environment as they load.
import {loaded} from './snapshot-guard.js';
import v8 from 'node:v8';
import {runMain} from './main.js';
// Every module a command may load, loaded and initialised now, while the snapshot is built, so a
// command starts with its code ready (main and the service load these on first use otherwise).
// Not the configuration (config/config.ts): conf and what it uses (env-paths, atomically) ask for
// the home folder and the user as they load, so they load when a command first reads the config.
import './command-runner.js';
import './help.js';
import './parse-error.js';
import './schedule-install.js';
import '../service/session.js';
import '../service/targets.js';
import '../service/deliver-notifications.js';
import '../service/scheduler.js';
import '../service/schedule-state.js';
import '../adapters/local/local-hypervisor.js';
import '../adapters/libvirt/libvirt-hypervisor.js';
import '../adapters/state/journal.js';
import '../adapters/state/atomic-file.js';
import '../adapters/state/receipt-key.js';
import '../backup/repository.js';
import '../backup/receipts.js';

/**
 * The startup snapshot's entry (scripts/bundle.mjs builds it with `node --build-snapshot`; bin/snapdeck
 * starts it as `node --snapshot-blob cli.blob -- bin/snapdeck.js ARGS...`). Everything above ran at
 * build time: nothing a module does at load may depend on the environment, the terminal or the time
 * (the build checks the environment part, see snapshot-guard.ts).
 */
loaded();

v8.startupSnapshot.setDeserializeMainFunction(() => void runMain());
