import type {Hypervisor} from '../adapters/hypervisor.js';
import {backupsPort} from './backups-port.js';
import {healthPort} from './health-port.js';
import {inventoryPort} from './inventory-port.js';
import type {Ports} from './ports.js';
import {offsitePort} from './offsite-port.js';
import {restoresPort} from './restores-port.js';
import {Service} from './service.js';
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

/** The ports over a session's context: each port's module implements its port on the one context. */
export function portsOver(session: SessionContext): Ports {
	return joinRoles([inventoryPort(session), snapshotsPort(session), backupsPort(session), restoresPort(session), offsitePort(session), healthPort(session)], new Service(session)) as Ports;
}

/** The roles as one object; a getter stays a getter (the repository is found after the session opens), and no two roles may offer one name. */
function joinRoles(roles: readonly object[], base: object): object {
	const joined: object = Object.create(base);
	for (const role of roles) {
		for (const [name, descriptor] of Object.entries(Object.getOwnPropertyDescriptors(role))) {
			if (name in joined) throw new Error(`two of a session's ports offer '${name}'`);
			Object.defineProperty(joined, name, descriptor);
		}
	}
	return joined;
}
