import type {Hypervisor} from '../adapters/hypervisor.js';
import {backupsPort} from './backups-port.js';
import {healthPort} from './health-port.js';
import {inventoryPort} from './inventory-port.js';
import {jobsPort} from './jobs-port.js';
import {offsitePort} from './offsite-port.js';
import type {PortMap, PortName, Ports} from './ports.js';
import {restoresPort} from './restores-port.js';
import {SessionContext, type SessionOptions} from './session-context.js';
import {snapshotsPort} from './snapshots-port.js';

export type {SessionOptions};

/**
 * A session's ports on a connection (session.ts chooses the connection, the repository and the
 * policies from flags and the configuration; tests and the demo lab call this with their own).
 */
export function sessionPorts(hypervisor: Hypervisor, options: SessionOptions = {}): Ports {
	return portsOver(new SessionContext(hypervisor, options));
}

/** The ports over one session's context, each implemented by its own module (`NAME-port.ts`). */
export function portsOver(session: SessionContext): Ports {
	// Typed by name: a port without its module, or a module that does not implement its port, does not compile.
	const roles: {[Name in PortName]: PortMap[Name]} = {
		inventory: inventoryPort(session),
		snapshots: snapshotsPort(session),
		backups: backupsPort(session),
		restores: restoresPort(session),
		offsite: offsitePort(session),
		health: healthPort(session),
		jobs: jobsPort(session),
	};
	return joinRoles(Object.values(roles)) as Ports;
}

/** The roles as one object; a getter stays a getter (the repository is found after the session opens), and no two roles may offer one name. */
function joinRoles(roles: readonly object[]): object {
	const joined = {};
	for (const role of roles) {
		for (const [name, descriptor] of Object.entries(Object.getOwnPropertyDescriptors(role))) {
			if (name in joined) throw new Error(`two of a session's ports offer '${name}'`);
			Object.defineProperty(joined, name, descriptor);
		}
	}
	return joined;
}
