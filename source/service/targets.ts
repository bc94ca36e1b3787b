import {SnapdeckError} from '../core/errors.js';
import type {ResticTarget} from '../adapters/restic.js';
import type {Config} from '../config/config.js';

/** Whether text reads as a restic repository string rather than a target's name: a path, or BACKEND:... */
const looksLikeRepository = (text: string) => text.includes('/') || text.includes(':') || text.startsWith('.');

/**
 * The off-site target `text` names: a target of the config's "offsite" (by name, or by its
 * repository string), else a restic repository string given inline, whose password comes from
 * RESTIC_PASSWORD_FILE (or RESTIC_PASSWORD, RESTIC_PASSWORD_COMMAND) as restic reads it.
 */
export function resolveTarget(config: Config, text: string, file = 'the config'): ResticTarget {
	const named = Object.entries(config.offsite ?? {}).find(
		([name, target]) => name === text || target.repository === text,
	);
	if (named) {
		const [name, target] = named;
		return {
			name,
			repository: target.repository,
			passwordFile: target.passwordFile,
			passwordCommand: target.passwordCommand,
			options: target.options,
		};
	}
	if (!looksLikeRepository(text)) {
		const known = Object.keys(config.offsite ?? {});
		throw new SnapdeckError(
			'usage',
			`'${text}' is neither an off-site target named in ${file} nor a restic repository string`,
			known.length > 0
				? `named targets: ${known.join(', ')}`
				: 'give a path (/mnt/usb/restic), sftp:USER@HOST:/PATH, rest:URL, s3:... with RESTIC_PASSWORD_FILE set, or name it under "offsite" in the config',
		);
	}
	if (
		!process.env['RESTIC_PASSWORD_FILE'] &&
		!process.env['RESTIC_PASSWORD'] &&
		!process.env['RESTIC_PASSWORD_COMMAND']
	) {
		throw new SnapdeckError(
			'usage',
			`no password is given for the restic repository ${text}`,
			'set RESTIC_PASSWORD_FILE to a file holding it (a new repository is made with that password), or name the target under "offsite" in the config with its "passwordFile"',
		);
	}
	return {name: null, repository: text};
}

/** The retention a target's config sets for prune, if any. */
export const targetRetention = (config: Config, target: ResticTarget) =>
	target.name === null ? undefined : config.offsite?.[target.name]?.retention;
