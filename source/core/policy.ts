import {z} from 'zod';
import {Retention} from './retention.js';
import {parseDuration} from './units.js';

/** "26h", "7d": a duration in a config file. */
export const Duration = z.string().refine(text => parseDuration(text) !== null, {
	message: 'must be a whole number followed by m, h, d or w (minutes, hours, days, weeks), e.g. "26h" or "7d"',
});

/** A cron expression; checked where the config is loaded (with croner), kept a plain string here. */
export const CronText = z.string().min(1);

/** What a policy asks of the VMs it selects. Every field is optional; the defaults apply. */
export const Policy = z.strictObject({
	name: z.string().min(1),
	/** VM name patterns: `*` any run of characters, `?` one. Default: every VM. */
	vms: z.array(z.string().min(1)).default(['*']),
	/** Connections (names from "connections", or URIs) the policy applies to. Default: all. */
	connections: z.array(z.string().min(1)).optional(),
	/** The longest backing chain a disk may have before it is a warning (twice that: critical). */
	maxChainDepth: z.number().int().min(1).default(8),
	snapshots: z
		.strictObject({
			/** When to take a scheduled snapshot (cron). */
			schedule: CronText.optional(),
			/** How many scheduled snapshots to keep. */
			keep: z.number().int().min(1).default(7),
			/** A snapshot older than this is a warning: a snapshot is not a backup. */
			maxAge: Duration.default('30d'),
			/** Snapshots must be taken quiesced (through the guest agent). */
			quiesce: z.boolean().default(false),
		})
		.prefault({}),
	backups: z
		.strictObject({
			schedule: CronText.optional(),
			/** Name from "repositories", or a directory; default: the default repository. */
			repository: z.string().min(1).optional(),
			retention: Retention.optional(),
			/** Recovery point objective: the newest backup may be at most this old. */
			rpo: Duration.optional(),
			/** How often each VM's newest backup must be verified. */
			verifyEvery: Duration.default('30d'),
		})
		.prefault({}),
	/** Copies of the backups past this host: 'snapdeck run' copies each new point there after the backup. */
	offsite: z
		.strictObject({
			/** A target's name from "offsite" in the config. */
			target: z.string().min(1),
			/** When to copy (cron), if not after every backup; the target's own "schedule" when absent. */
			schedule: CronText.optional(),
			/** The newest copy there may be at most this old (health warns, twice as old is critical). */
			maxAge: Duration.default('2d'),
			/** How often the target is checked ('snapdeck verify VM --from TARGET'); health warns after that. */
			checkEvery: Duration.default('30d'),
		})
		.optional(),
	/** Audits of incremental backups ('snapdeck backup VM --audit'): 'snapdeck run' audits the backup it takes once the last passing audit is older than `every`; health warns after that. */
	audit: z
		.strictObject({
			every: Duration.default('30d'),
		})
		.optional(),
	/** Boot tests of the newest backup point ('snapdeck verify VM --boot'): what proves the guest is up, and how often. */
	boot: z
		.strictObject({
			/** A regular expression the serial console must show; by default the guest agent must answer. */
			pattern: z
				.string()
				.min(1)
				.max(500)
				.refine(text => {
					try {
						new RegExp(text);
						return true;
					} catch {
						return false;
					}
				}, 'a valid regular expression')
				.optional(),
			/** A program and its arguments, run through the guest agent once it answers; it must exit 0. */
			check: z.array(z.string()).min(1).optional(),
			/** Seconds the guest has to prove it is up. */
			timeout: z.number().int().min(5).max(3600).default(90),
			/** When 'snapdeck run' boot-tests the newest point (cron); health warns when the newest test is older than `every`. */
			schedule: CronText.optional(),
			every: Duration.default('30d'),
		})
		.optional(),
});
export type Policy = z.infer<typeof Policy>;

/** The policy for VMs that no configured policy selects. */
export const DEFAULT_POLICY: Policy = Policy.parse({name: 'default'});

const globToRegExp = (pattern: string) =>
	new RegExp(
		`^${pattern
			.replace(/[.+^${}()|[\]\\]/g, '\\$&')
			.replaceAll('*', '.*')
			.replaceAll('?', '.')}$`,
	);

/** The first policy that selects `vm` on `connection` (a URI; `aliases` are its names in the config). */
export function policyFor(
	policies: readonly Policy[],
	vm: string,
	connection: string,
	aliases: readonly string[] = [],
): Policy {
	return (
		policies.find(
			policy =>
				(policy.connections === undefined ||
					policy.connections.some(name => name === connection || aliases.includes(name))) &&
				policy.vms.some(pattern => globToRegExp(pattern).test(vm)),
		) ?? DEFAULT_POLICY
	);
}
