import type {Hypervisor} from '../adapters/hypervisor.js';
import type {Ports} from './ports.js';
import {Service} from './service.js';
import type {SessionOptions} from './session-context.js';

export type {SessionOptions};

/**
 * A session's ports on a connection (session.ts chooses the connection, the repository and the
 * policies from flags and the configuration; tests and the demo lab call this with their own).
 */
export function sessionPorts(hypervisor: Hypervisor, options: SessionOptions = {}): Ports {
	return new Service(hypervisor, options);
}
