import {SnapdeckError} from '../../core/errors.js';
import {parseNow, print, printJson, testNotifiers} from '../support.js';
import {defineCommand} from '../command.js';

export default defineCommand({
	name: 'notify',
	order: 200,
	summary: 'send a test message to each notifier of the config',
	description: 'Exit 1 when one could not be reached.',
	args: [{key: 'what', kind: 'word', words: ['test'], help: 'test: the one thing it does so far'}],
	globals: ['now'],
	examples: [{line: 'snapdeck notify test', does: 'a test message through every notifier of the config'}],
	flags: [],
	async run({flags}) {
		const {count, deliveries} = await testNotifiers(parseNow(flags.now));
		if (count === 0)
			throw new SnapdeckError(
				'not-found',
				'the config has no "notify" list: nobody to send a test message to',
				'add one (see "Notifications" in the README)',
			);
		if (flags.json)
			printJson({
				results: deliveries.map(({notifier, ok, attempts, error}) => ({notifier, ok, attempts, error: error ?? null})),
			});
		else
			print(
				deliveries
					.map(
						delivery =>
							`${delivery.notifier}: ${delivery.ok ? 'delivered' : `FAILED after ${delivery.attempts} attempts: ${delivery.error}`}`,
					)
					.join('\n'),
			);
		return deliveries.every(delivery => delivery.ok) ? 0 : 1;
	},
});
