#!/usr/bin/env node
// Inventory of 200 libvirt domains with 10 snapshots each: snapdeck's list (one virsh process
// for all domains, plus qemu-img for chain depths) against the baseline of one
// `virsh snapshot-list` process per domain, measured in the same run. Needs libvirtd and root.
// Usage: npm run build && node bench/libvirt-inventory.mjs [DOMAINS] [SNAPSHOTS]
import {execFileSync} from 'node:child_process';
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {LibvirtHypervisor} from '../dist/bundle/libvirt-bench.js';
import {cleanupOnSignals, report} from './report.mjs';

const DOMAINS = Number(process.argv[2] ?? 200);
const KEEP = process.env.KEEP === '1';
const SNAPSHOTS = Number(process.argv[3] ?? 10);
const URI = 'qemu:///system';
const virsh = (...args) => execFileSync('virsh', ['-c', URI, ...args], {encoding: 'utf8', maxBuffer: 1 << 28});
const dir = mkdtempSync(path.join(os.tmpdir(), 'snapdeck-bench-libvirt-'));
const names = Array.from({length: DOMAINS}, (_, index) => `sdbench-${process.pid}-${String(index).padStart(3, '0')}`);
const median = values => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const cleanup = cleanupOnSignals(() => {
	if (KEEP) process.exit(0);
	execFileSync('virsh', ['-c', URI, names.map(name => `undefine --domain ${name} --snapshots-metadata`).join('; ')], {
		stdio: 'ignore',
	});
	rmSync(dir, {recursive: true, force: true});
});
try {
	const started = performance.now();
	for (const name of names) {
		const image = path.join(dir, `${name}.qcow2`);
		execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', image, '16M']);
		writeFileSync(
			path.join(dir, `${name}.xml`),
			`<domain type='qemu'><name>${name}</name><memory unit='MiB'>64</memory><os><type arch='x86_64' machine='q35'>hvm</type></os><devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${image}'/><target dev='vda' bus='virtio'/></disk></devices></domain>`,
		);
	}
	virsh(names.map(name => `define --file ${path.join(dir, `${name}.xml`)}`).join('; '));
	// Internal snapshots of stopped domains: real snapshots, libvirt metadata and all.
	for (let index = 0; index < SNAPSHOTS; index++)
		virsh(names.map(name => `snapshot-create-as --domain ${name} --name s${index}`).join('; '));
	console.log(
		`set up ${DOMAINS} domains x ${SNAPSHOTS} snapshots in ${((performance.now() - started) / 1000).toFixed(1)} s`,
	);

	const hypervisor = new LibvirtHypervisor(URI);
	const ours = [];
	const baseline = [];
	for (let run = 0; run < 3; run++) {
		let at = performance.now();
		const vms = (await hypervisor.list()).filter(vm => vm.name.startsWith(`sdbench-${process.pid}-`));
		ours.push(performance.now() - at);
		if (vms.length !== DOMAINS || vms.some(vm => vm.snapshots !== SNAPSHOTS)) throw new Error('the inventory is wrong');
		at = performance.now();
		for (const name of names) virsh('snapshot-list', '--domain', name, '--name');
		baseline.push(performance.now() - at);
	}
	const [a, b] = [median(ours), median(baseline)];
	console.log(`snapdeck list (state, definition, snapshots, current, chain depth): ${a.toFixed(0)} ms`);
	console.log(`one virsh snapshot-list per domain (snapshot names only):          ${b.toFixed(0)} ms`);
	console.log(`ratio: snapdeck is ${(b / a).toFixed(1)}x faster`);
	report({
		name: `4. inventory of ${DOMAINS} libvirt domains x ${SNAPSHOTS} snapshots`,
		figure: `${a.toFixed(0)} ms`,
		baseline: `one virsh snapshot-list per domain: ${b.toFixed(0)} ms`,
		ratio: `${(b / a).toFixed(1)}x faster`,
		target: 'at least 4x faster',
		met: b / a >= 4,
	});
} finally {
	cleanup();
}
