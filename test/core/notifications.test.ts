import {describe, expect, it} from 'vitest';
import {
	applyChange,
	forgetGone,
	healthChanges,
	healthEvent,
	mailMessage,
	maskCredentials,
	maskSecrets,
	maskUrl,
	Notifier,
	notifierWants,
	type NotifiedState,
} from '../../source/core/notifications.js';

const where = {connection: 'local:/lab', host: 'hv1', time: '2026-12-01T00:00:00.000Z'};

describe('notifications, the pure part', () => {
	it("masks a URL's user, password and query values, and finds them in any text", () => {
		expect(maskUrl('https://user:pa%40ss@hooks.example.org:8443/a/b?token=xyz&x=1')).toBe(
			'https://***@hooks.example.org:8443/a/b?token=***&x=***',
		);
		expect(maskUrl('https://ntfy.sh/topic')).toBe('https://ntfy.sh/topic');
		expect(maskUrl('not a url')).toBe('***');
		expect(maskCredentials('rest:https://alice:pw@backup.example.org:8000/repo')).toBe(
			'rest:https://***@backup.example.org:8000/repo',
		);
		expect(maskCredentials('sftp:backup@nas:/srv/restic')).toBe('sftp:backup@nas:/srv/restic');
		// A query word without a value is the secret itself (https://host/hook?APIKEY).
		expect(maskUrl('https://hooks.example.org/hook?s3cr3tkey')).toBe('https://hooks.example.org/hook?***');
		expect(maskUrl('https://hooks.example.org/hook?s3cr3tkey&token=abc')).toBe(
			'https://hooks.example.org/hook?***&token=***',
		);
		expect(
			maskSecrets({webhook: 'https://hooks.example.org/hook?s3cr3tkey', timeout: 10}, 'refused: /hook?s3cr3tkey'),
		).not.toContain('s3cr3tkey');
		const notifier = Notifier.parse({webhook: 'https://user:pa%40ss@hooks.example.org/a?token=xyz123'});
		expect(
			maskSecrets(
				notifier,
				'POST https://user:pa%40ss@hooks.example.org/a?token=xyz123 failed; token xyz123, password pa@ss',
			),
		).toBe('POST https://***@hooks.example.org/a?token=*** failed; token ***, password ***');
	});

	it('tells each change of health once: worse, better, the connection down and back; a VM gone is forgotten', () => {
		const vms = (status: 'ok' | 'warning' | 'critical') => ({
			up: true as const,
			complete: true,
			vms: [{vm: 'vm1', status, findings: []}],
		});
		expect(healthChanges(null, vms('ok'))).toEqual([]);
		expect(healthChanges(null, vms('warning'))).toEqual([{vm: 'vm1', previous: 'ok', status: 'warning', findings: []}]);
		let state: NotifiedState = {up: true, vms: {}};
		for (const change of healthChanges(state, vms('critical'))) state = applyChange(state, change);
		expect(state).toEqual({up: true, vms: {vm1: 'critical'}});
		expect(healthChanges(state, vms('critical'))).toEqual([]);
		const down = {up: false as const, error: 'ssh: connection refused'};
		expect(healthChanges(state, down)).toEqual([
			{vm: null, previous: 'ok', status: 'unknown', findings: [], error: 'ssh: connection refused'},
		]);
		state = applyChange(state, healthChanges(state, down)[0]!);
		expect(healthChanges(state, down)).toEqual([]);
		expect(healthChanges(state, vms('ok')).map(change => [change.vm, change.previous, change.status])).toEqual([
			[null, 'unknown', 'ok'],
			['vm1', 'critical', 'ok'],
		]);
		expect(forgetGone({up: true, vms: {vm1: 'warning', old: 'critical'}}, vms('warning'))).toEqual({
			up: true,
			vms: {vm1: 'warning'},
		});
		expect(forgetGone({up: true, vms: {old: 'critical'}}, {...vms('ok'), complete: false})).toEqual({
			up: true,
			vms: {old: 'critical'},
		});
	});

	it('filters by event and VM pattern; a test, and an event about a whole connection, pass the VM filter', () => {
		const notifier = Notifier.parse({ntfy: 'https://ntfy.sh/t', events: ['health-worse'], vms: ['db*']});
		expect(notifierWants(notifier, {kind: 'health-worse', vm: 'db1'})).toBe(true);
		expect(notifierWants(notifier, {kind: 'health-worse', vm: 'web1'})).toBe(false);
		expect(notifierWants(notifier, {kind: 'health-recovered', vm: 'db1'})).toBe(false);
		expect(notifierWants(notifier, {kind: 'health-worse', vm: null})).toBe(true);
		expect(notifierWants(notifier, {kind: 'test', vm: null})).toBe(true);
	});

	it("keeps a mail's headers to one line each, whatever a finding says", () => {
		const event = healthEvent(
			{
				vm: 'vm1',
				previous: 'ok',
				status: 'critical',
				findings: [{rule: 'broken-chain', severity: 'critical', vm: 'vm1', message: 'a\nBcc: evil@example.org'}],
			},
			{...where, connection: 'local:/lab\nBcc: x@example.org'},
		);
		const [headers] = mailMessage(event, ['ops@example.org']).split('\n\n');
		expect(headers!.split('\n')).toEqual([
			'To: ops@example.org',
			`Subject: vm1 is critical (was ok) on hv1`,
			'Content-Type: text/plain; charset=utf-8',
			'X-Snapdeck-Event: health-worse',
		]);
	});

	it('accepts one kind per entry, with http(s) URLs and known events only', () => {
		expect(Notifier.safeParse({webhook: 'https://x.example/h', ntfy: 'https://ntfy.sh/t'}).success).toBe(false);
		expect(Notifier.safeParse({webhook: 'file:///etc/passwd'}).success).toBe(false);
		expect(Notifier.safeParse({command: []}).success).toBe(false);
		expect(
			Notifier.safeParse({command: ['/usr/sbin/sendmail', '-t'], to: ['a@b.example\nBcc: c@d.example']}).success,
		).toBe(false);
		expect(Notifier.safeParse({ntfy: 'https://ntfy.sh/t', events: ['everything']}).success).toBe(false);
		expect(Notifier.parse({command: ['/usr/sbin/sendmail', '-t'], to: ['ops@example.org']})).toMatchObject({
			timeout: 10,
		});
	});
});
