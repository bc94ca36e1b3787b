import {SnapdeckError} from '../../core/errors.js';
import {expectArgs, parseNow, print, printJson, testNotifiers} from '../support.js';
import {defineCommand} from '../command.js';

export default defineCommand({
	name: 'notify',
	usage: `  snapdeck notify test                      send a test message to each notifier of the config's
                                            "notify" list; exit 1 when one could not be reached`,
	flags: [],
	words: ['test'],
	async run({args, flags}) {
		if (args[0] !== 'test') throw new SnapdeckError('usage', "'snapdeck notify' takes test", "see 'snapdeck help notify'");
		expectArgs('notify test', args.slice(1), []);
		const {count, deliveries} = await testNotifiers(parseNow(flags.now));
		if (count === 0) throw new SnapdeckError('not-found', 'the config has no "notify" list: nobody to send a test message to', 'add one (see "Notifications" in the README)');
		if (flags.json) printJson({results: deliveries.map(({notifier, ok, attempts, error}) => ({notifier, ok, attempts, error: error ?? null}))});
		else print(deliveries.map(delivery => `${delivery.notifier}: ${delivery.ok ? 'delivered' : `FAILED after ${delivery.attempts} attempts: ${delivery.error}`}`).join('\n'));
		return deliveries.every(delivery => delivery.ok) ? 0 : 1;
	},
});
