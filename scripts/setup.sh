#!/usr/bin/env bash
# Installs what snapdeck and its tests need on Debian/Ubuntu, starts libvirtd for the libvirt
# tests, then installs the npm packages and builds. Safe to run again: done parts are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

need=()
command -v qemu-img >/dev/null || need+=(qemu-utils)
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v tmux >/dev/null || need+=(tmux)  # the tests drive the UI in a real terminal
command -v virsh >/dev/null || need+=(libvirt-clients)
command -v libvirtd >/dev/null || need+=(libvirt-daemon-system libvirt-daemon-driver-qemu)
command -v ssh >/dev/null || need+=(openssh-client)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)  # the remote-host tests run their own sshd on 127.0.0.1
command -v restic >/dev/null || need+=(restic)  # off-site copies
command -v rclone >/dev/null || need+=(rclone)  # the append-only target of the off-site tests
command -v guestfish >/dev/null || need+=(libguestfs-tools)  # files inside backup points
command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)  # the tests' real guest: its root filesystem
# Monitoring: the textfile's reader, and promtool for the alert rules' tests. Both packages start
# their services on install wherever nothing forbids it; the tests start what they need themselves.
services=()
command -v prometheus-node-exporter >/dev/null || services+=(prometheus-node-exporter)
command -v promtool >/dev/null || services+=(prometheus)
if [ ${#need[@]} -gt 0 ] || [ ${#services[@]} -gt 0 ]; then
	$sudo apt-get update -qq
	[ ${#need[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if [ ${#services[@]} -gt 0 ]; then
	# A policy-rc.d that refuses every start, for this install only (invoke-rc.d and deb-systemd-invoke ask it).
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
		printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
		$sudo chmod 755 /usr/sbin/policy-rc.d
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${services[@]}" >/dev/null
		$sudo rm -f /usr/sbin/policy-rc.d
		trap - EXIT
	else
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${services[@]}" >/dev/null
	fi
	# Nor at the next boot, where systemd runs.
	[ ! -d /run/systemd/system ] || $sudo systemctl disable "${services[@]/%/.service}" >/dev/null 2>&1 || true
	if pgrep -f '^(/usr/bin/)?prometheus(-node-exporter)?( |$)' >/dev/null; then
		echo "a Prometheus server or node_exporter runs after installing ${services[*]}: stop it (the tests start their own)" >&2
		exit 1
	fi
fi

# libvirtd, as LAB.md shows for a machine without systemd: QEMU runs as root so that it can
# open /dev/kvm (mode 0600 here); virtlogd first, then libvirtd, then wait until it answers.
if ! $sudo virsh -c qemu:///system version >/dev/null 2>&1; then
	conf=/etc/libvirt/qemu.conf
	grep -q '^user = "root"' "$conf" || printf 'user = "root"\ngroup = "root"\n' | $sudo tee -a "$conf" >/dev/null
	# Start (again every 2 s until it answers): a libvirtd that is still shutting down may hold the
	# pid file for a moment, and a second 'libvirtd -d' then just exits.
	for attempt in $(seq 0 99); do
		if [ $((attempt % 10)) -eq 0 ]; then
			pgrep -x virtlogd >/dev/null || $sudo virtlogd -d || true
			$sudo libvirtd -d 2>/dev/null || true
		fi
		$sudo virsh -c qemu:///system version >/dev/null 2>&1 && break
		sleep 0.2
	done
	$sudo virsh -c qemu:///system version >/dev/null || { echo "libvirtd did not start" >&2; exit 1; }
fi

# libguestfs boots a small appliance with the host's kernel. A hypervisor host has one; a
# container or CI machine has none: Debian's kernel modules are unpacked into /lib/modules (no
# initramfs, no bootloader: nothing boots from them but the appliance) and the kernel beside them.
kernel=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/.*Depends: \(linux-image-[0-9][^ ]*\).*/\1/p' | head -1)
version=${kernel#linux-image-}
if ! ls /boot/vmlinuz-* >/dev/null 2>&1 && [ -n "$kernel" ] && { [ ! -f "/var/lib/snapdeck/vmlinuz-$version" ] || [ ! -d "/lib/modules/$version" ]; }; then
	unpack=$(mktemp -d)
	chmod 755 "$unpack"
	(cd "$unpack" && apt-get download -q "$kernel" >/dev/null && dpkg-deb -x ./*.deb x)
	$sudo mkdir -p /lib/modules /var/lib/snapdeck
	$sudo cp -a "$unpack/x/lib/modules/$version" /lib/modules/
	$sudo cp "$unpack/x/boot/vmlinuz-$version" "/var/lib/snapdeck/vmlinuz-$version"
	$sudo depmod "$version"
	rm -rf "$unpack"
fi

[ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund
npm run build
