#!/usr/bin/env node
// Builds the real Linux guest the tests boot, and caches it: Debian's kernel, an initramfs that
// loads the virtio modules and switches to the root filesystem on the VM's first disk, and that
// root filesystem (ext4, made with mkfs.ext4 -d: no mount, no root privilege needed for it) with
// busybox and Debian's qemu-guest-agent. Nothing is installed on the host: the packages are
// fetched with `apt-get download` and unpacked with `dpkg-deb -x` (see ../shared/LAB.md).
//
// Usage: node scripts/build-guest.mjs [--dir DIR]   (prints the folder that holds the guest)
// The folder: vmlinuz, initrd (an uncompressed newc cpio), root.qcow2 (the template disk, 256 MiB),
// guest.json (what it is). Built once per kernel version; later runs only print the folder.
import {execFileSync} from 'node:child_process';
import {
	chmodSync,
	copyFileSync,
	existsSync,
	mkdirSync,
	mkdtempSync,
	readdirSync,
	readFileSync,
	renameSync,
	rmSync,
	statSync,
	symlinkSync,
	writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const VERSION = 4; // of this recipe: a change to it builds the guest again
const run = (command, args, options = {}) =>
	execFileSync(command, args, {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options});

const dirFlag = process.argv.indexOf('--dir');
const cacheRoot =
	dirFlag > 0
		? path.resolve(process.argv[dirFlag + 1])
		: path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'snapdeck', 'guest');

// The kernel package linux-image-amd64 points at today (e.g. linux-image-6.1.0-57-amd64).
const kernelPackage = run('apt-cache', ['depends', 'linux-image-amd64']).match(
	/Depends: (linux-image-[0-9][^\s]*)/,
)?.[1];
if (!kernelPackage) throw new Error('apt-cache knows no linux-image-amd64: run apt-get update');
const kernelVersion = kernelPackage.replace(/^linux-image-/, '');
const target = path.join(cacheRoot, `${kernelVersion}-v${VERSION}`);
if (existsSync(path.join(target, 'guest.json'))) {
	console.log(target);
	process.exit(0);
}

const work = mkdtempSync(path.join(os.tmpdir(), 'snapdeck-guest-build-'));
try {
	// apt-get download writes into the current directory; _apt cannot read a root-only temp dir.
	chmodSync(work, 0o755);
	run('apt-get', ['download', '-q', kernelPackage, 'busybox-static', 'qemu-guest-agent'], {cwd: work});
	const unpacked = path.join(work, 'x');
	for (const deb of readdirSync(work).filter(name => name.endsWith('.deb')))
		run('dpkg-deb', ['-x', path.join(work, deb), unpacked]);
	const modules = path.join(unpacked, 'lib', 'modules', kernelVersion, 'kernel');
	const busybox = path.join(unpacked, 'bin', 'busybox');

	// The initramfs: busybox, the virtio and ext4 modules (in load order), /dev/console, and an init that
	// mounts the first disk and switches to it, saying on the console why when it cannot.
	const MODULES = [
		'drivers/virtio/virtio_ring.ko',
		'drivers/virtio/virtio.ko',
		'drivers/virtio/virtio_pci_legacy_dev.ko',
		'drivers/virtio/virtio_pci_modern_dev.ko',
		'drivers/virtio/virtio_pci.ko',
		'drivers/block/virtio_blk.ko',
		'drivers/char/virtio_console.ko',
		// ext4 is a module in Debian's kernel, with what it needs (checksums through the crypto API).
		'crypto/crc32c_generic.ko',
		'lib/libcrc32c.ko',
		'lib/crc16.ko',
		'fs/mbcache.ko',
		'fs/jbd2/jbd2.ko',
		'fs/ext4/ext4.ko',
	];
	const initramfsInit = `#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /newroot
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec >/dev/console 2>&1
${MODULES.map(module => `/bin/busybox insmod /lib/modules/${path.basename(module)}`).join('\n')}
for i in $(/bin/busybox seq 1 100); do [ -b /dev/vda ] && break; /bin/busybox usleep 100000; done
if ! /bin/busybox mount -t ext4 -o rw /dev/vda /newroot; then
	echo "snapdeck-guest: cannot mount the root filesystem on /dev/vda"
	/bin/busybox poweroff -f
fi
/bin/busybox mount --move /dev /newroot/dev
/bin/busybox umount /proc /sys
exec /bin/busybox switch_root /newroot /sbin/init
`;
	const entries = [
		{name: 'bin', mode: 0o040755},
		{name: 'dev', mode: 0o040755},
		{name: 'lib', mode: 0o040755},
		{name: 'lib/modules', mode: 0o040755},
		{name: 'dev/console', mode: 0o020600, rdev: [5, 1]},
		{name: 'bin/busybox', mode: 0o100755, data: readFileSync(busybox)},
		{name: 'init', mode: 0o100755, data: Buffer.from(initramfsInit)},
		...MODULES.map(module => ({
			name: `lib/modules/${path.basename(module)}`,
			mode: 0o100644,
			data: readFileSync(path.join(modules, module)),
		})),
	];

	// The root filesystem: busybox (its applets linked at boot), qemu-ga with the libraries it
	// links (from this host, a Debian of the same release), and the init the tests rely on.
	const root = path.join(work, 'root');
	for (const folder of ['bin', 'sbin', 'etc', 'proc', 'sys', 'dev', 'run', 'tmp', 'var/run', 'usr/sbin', 'data'])
		mkdirSync(path.join(root, folder), {recursive: true});
	copyFileSync(busybox, path.join(root, 'bin', 'busybox'));
	symlinkSync('busybox', path.join(root, 'bin', 'sh'));
	copyFileSync(path.join(unpacked, 'usr', 'sbin', 'qemu-ga'), path.join(root, 'usr', 'sbin', 'qemu-ga'));
	const linked = run('ldd', [path.join(unpacked, 'usr', 'sbin', 'qemu-ga')]);
	if (linked.includes('not found'))
		throw new Error(`qemu-ga needs libraries this host lacks (install qemu-system-x86, which brings them):\n${linked}`);
	const libraries = [...linked.matchAll(/(\/[^\s]+\.so[^\s]*)/g)].map(match => match[1]);
	for (const library of new Set(libraries)) {
		const into = path.join(root, library);
		mkdirSync(path.dirname(into), {recursive: true});
		copyFileSync(library, into);
	}
	// The init: the agent on its virtio-serial port (found by name: there is no udev), the marker
	// tests wait for, then the workload if the kernel command line asks for it (snapdeck.workload=1).
	writeFileSync(
		path.join(root, 'sbin', 'init'),
		`#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /run
mount -o remount,rw /
hostname snapdeck-guest
exec >/dev/console 2>&1
for port in /sys/class/virtio-ports/*; do
	[ "$(cat "$port/name" 2>/dev/null)" = org.qemu.guest_agent.0 ] && /usr/sbin/qemu-ga -m virtio-serial -p "/dev/$(basename "$port")" -f /run/qemu-ga.pid -d
done
echo "snapdeck-guest: up, root $(cat /etc/snapdeck-guest)"
echo "snapdeck-guest: up, root $(cat /etc/snapdeck-guest)" > /dev/tty0 2>/dev/null
if grep -q snapdeck.workload=1 /proc/cmdline && [ -x /sbin/workload ]; then /sbin/workload /data/records & fi
while true; do sleep 3600; done
`,
		{mode: 0o755},
	);
	// The workload: checksummed records (sequence, time, checksum), one 4 KiB block each, written
	// with O_DIRECT and fsync (busybox dd: oflag=direct conv=fsync) at block seq-1 of the file,
	// each acknowledged on the console as "durable N" only once dd has returned. A checker then
	// proves that no acknowledged record was lost (test/helpers/guest.ts).
	writeFileSync(
		path.join(root, 'sbin', 'workload'),
		`#!/bin/sh
file=$1
seq=$(( $(stat -c %s "$file" 2>/dev/null || echo 0) / 4096 ))
while true; do
	seq=$((seq + 1))
	now=$(date +%s)
	sum=$(echo "$seq $now" | sha256sum | cut -c 1-16)
	printf '%-4095s\\n' "$seq $now $sum" | dd of="$file" bs=4096 seek=$((seq - 1)) count=1 iflag=fullblock oflag=direct conv=notrunc,fsync 2>/dev/null || exit 1
	echo "durable $seq"
done
`,
		{mode: 0o755},
	);
	writeFileSync(path.join(root, 'etc', 'snapdeck-guest'), `${kernelVersion} v${VERSION}\n`);

	writeFileSync(path.join(work, 'initrd'), newc(entries));
	const raw = path.join(work, 'root.raw');
	run('mkfs.ext4', ['-q', '-F', '-L', 'snapdeck-root', '-d', root, raw, '256M']);
	run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, path.join(work, 'root.qcow2')]);

	const staged = `${target}.partial-${process.pid}`;
	mkdirSync(staged, {recursive: true});
	copyFileSync(path.join(unpacked, 'boot', `vmlinuz-${kernelVersion}`), path.join(staged, 'vmlinuz'));
	renameSync(path.join(work, 'initrd'), path.join(staged, 'initrd'));
	renameSync(path.join(work, 'root.qcow2'), path.join(staged, 'root.qcow2'));
	writeFileSync(
		path.join(staged, 'guest.json'),
		`${JSON.stringify({kernel: kernelVersion, recipe: VERSION, builtAt: new Date().toISOString(), rootBytes: statSync(path.join(staged, 'root.qcow2')).size}, null, 2)}\n`,
	);
	rmSync(target, {recursive: true, force: true});
	renameSync(staged, target);
	console.log(target);
} finally {
	rmSync(work, {recursive: true, force: true});
}

/** A newc (SVR4, no CRC) cpio archive, what the kernel unpacks as an initramfs; `cpio` is not installed here. */
function newc(files) {
	const parts = [];
	const pad = length => Buffer.alloc((4 - (length % 4)) % 4);
	const hex = value => value.toString(16).padStart(8, '0');
	let inode = 1;
	for (const file of [...files, {name: 'TRAILER!!!', mode: 0, trailer: true}]) {
		const data = file.data ?? Buffer.alloc(0);
		const name = Buffer.from(`${file.name}\0`);
		const [rdevMajor, rdevMinor] = file.rdev ?? [0, 0];
		const header = `070701${[file.trailer ? 0 : inode++, file.mode, 0, 0, file.mode & 0o040000 ? 2 : 1, 0, data.length, 0, 0, rdevMajor, rdevMinor, name.length, 0].map(hex).join('')}`;
		parts.push(Buffer.from(header), name, pad(110 + name.length), data, pad(data.length));
	}
	return Buffer.concat(parts);
}
