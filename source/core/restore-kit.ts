import {pointChain, type BackupPoint, type Manifest} from './backup-manifest.js';

/**
 * The restore kit: what restores a point with nothing of snapdeck's (no Node, no libvirt), only a
 * POSIX shell, qemu-img and sha256sum. Every backup keeps, beside each point, a plain-text index of
 * the point's chain (KIT_FOLDER/ID.txt) and its recorded definition, and restore.sh and RESTORE.md
 * at the repository's root: `sh REPO/restore.sh VM POINT DEST`. The index is text a shell reads
 * with `read`; the format line says which version it is, and the kit refuses one it does not know.
 */
export const KIT_VERSION = 1;
export const KIT_FOLDER = 'kit';
export const KIT_FORMAT_LINE = `snapdeck-kit ${KIT_VERSION}`;

/** Where a point's kit index and recorded definition are, relative to the VM's folder. */
export const kitIndexOf = (id: string) => `${KIT_FOLDER}/${id}.txt`;
export const kitDefinitionOf = (id: string, definition: unknown) =>
	`${KIT_FOLDER}/${id}.definition.${typeof definition === 'string' ? 'xml' : 'json'}`;

/** A point's recorded definition as its kit keeps it: a libvirt domain's XML, or a local VM's vm.json. */
export const kitDefinitionText = (definition: unknown) =>
	typeof definition === 'string' ? definition : `${JSON.stringify(definition, null, 2)}\n`;

/**
 * The index of point `id`: its disks (each with its top file), every file of its chain (itself
 * first, down to the full) with its sha256 and the backing name its qcow2 header must carry (`-`
 * for none), its boot files, and its definition. One record a line, fields apart by spaces;
 * names from the manifest, whose schema allows no space in them (a boot file's name, last on its
 * line, may hold spaces).
 */
export function kitIndex(manifest: Manifest, id: string): string {
	const chain = pointChain(manifest, id);
	const point = chain[0]!;
	const lines = [
		KIT_FORMAT_LINE,
		`vm ${manifest.vm}`,
		`point ${point.id} ${point.kind} ${point.createdAt}`,
		`definition ${kitDefinitionOf(point.id, point.definition)}`,
	];
	for (const file of point.files) lines.push(`disk ${file.disk} ${file.file}`);
	for (const member of chain) {
		for (const file of member.files) lines.push(`file ${file.file} ${file.sha256} ${backingName(file)}`);
	}
	for (const boot of point.bootFiles) lines.push(`boot ${boot.role} ${boot.file} ${boot.sha256} ${boot.name}`);
	lines.push('end');
	return `${lines.join('\n')}\n`;
}

/** The backing name a point file's header carries: the previous point's file, beside it (qemu-img writes it relative). */
function backingName(file: BackupPoint['files'][number]): string {
	if (file.backing === null) return '-';
	return file.backing.slice(file.backing.lastIndexOf('/') + 1);
}

/**
 * The kit's script, for a POSIX shell: no bash, no grep, sed or awk. It finds the point's index (in
 * REPO/VM/kit/, or in ./kit/ where REPO is one VM's folder, as an off-site copy restores it), checks
 * the format, every file's sha256 and every header's backing name against it, and only then writes
 * DEST/DISK.qcow2 for each disk with qemu-img convert, and the definition and boot files beside them.
 */
export const RESTORE_SH = `#!/bin/sh
# snapdeck's restore kit, format ${KIT_VERSION}: restores a backup point with nothing but a POSIX
# shell, qemu-img and sha256sum. Written by snapdeck beside every repository; see RESTORE.md.
#   sh restore.sh VM POINT DEST
# VM: the VM's folder in this repository (ls shows them); POINT: a point id (ls VM/kit/).
set -eu

fail() { printf 'restore.sh: %s\\n' "$*" >&2; exit 1; }

[ $# -eq 3 ] || fail "usage: sh restore.sh VM POINT DEST (the VMs: the folders beside this script; their points: VM/kit/*.txt)"
vm=$1; point=$2; dest=$3
case $vm in ''|*/*|.*|-*) fail "'$vm' is not a VM folder's name" ;; esac
case $point in ''|*/*|.*|-*) fail "'$point' is not a point id" ;; esac
command -v qemu-img >/dev/null 2>&1 || fail "qemu-img is not installed (Debian: apt-get install qemu-utils)"
command -v sha256sum >/dev/null 2>&1 || fail "sha256sum is not installed (coreutils)"

here=$(cd -- "$(dirname -- "$0")" && pwd)
if [ -f "$here/$vm/${KIT_FOLDER}/$point.txt" ]; then dir=$here/$vm
elif [ -f "$here/${KIT_FOLDER}/$point.txt" ]; then dir=$here
else fail "no point $point of $vm here: looked for $here/$vm/${KIT_FOLDER}/$point.txt (and $here/${KIT_FOLDER}/$point.txt)"
fi
index=$dir/${KIT_FOLDER}/$point.txt

# The repository's format, beside this script: a kit reads only the format it was written for.
[ -f "$here/FORMAT" ] || fail "$here/FORMAT is missing: this is not a snapdeck repository (or not all of it was copied)"
IFS= read -r repoformat < "$here/FORMAT" || repoformat=
[ "$repoformat" = "snapdeck-repository ${KIT_VERSION}" ] || fail "$here/FORMAT says '$repoformat'; this kit reads 'snapdeck-repository ${KIT_VERSION}' only: use the restore.sh of the snapdeck that wrote it"

# A name from the index: inside the VM's folder, no '..', no absolute path, no option.
safe() {
	case $1 in ''|/*|-*|*..*) fail "the index names '$1', which is not a file of the VM's folder" ;; esac
}

{
	IFS= read -r format || fail "$index is empty"
	[ "$format" = "${KIT_FORMAT_LINE}" ] || fail "$index is of format '$format'; this kit reads '${KIT_FORMAT_LINE}' only: use the restore.sh of the snapdeck that wrote it"
} < "$index"

# Every file of the chain: its checksum, and the backing name its header carries.
checked=0
while read -r kind a b c rest; do
	case $kind in
	file)
		safe "$a"
		[ -f "$dir/$a" ] || fail "$a is missing"
		# Read from stdin: sha256sum escapes the hash of a name holding a backslash or a newline.
		sum=$(sha256sum < "$dir/$a") || fail "cannot read $a"
		sum=@{sum%% *}
		[ "$sum" = "$b" ] || fail "$a does not match its checksum: the point is damaged, refused"
		# qemu-img info reads the header alone (it does not open the backing file it names). Its JSON
		# puts each key on a line of its own and escapes quotes and control characters, so a backing
		# name cannot pass for another: at most one "backing-filename" line, equal to the recorded one.
		info=$(qemu-img info -U -f qcow2 --output=json -- "$dir/$a" </dev/null) || fail "$a is not a qcow2 image qemu-img can read"
		backing=-; seen=0
		while IFS= read -r line; do
			line=@{line#"@{line%%[![:space:]]*}"}
			case $line in
			'"backing-filename": '*) seen=$((seen + 1)); backing=@{line%,} ;;
			esac
		done <<EOF
$info
EOF
		if [ "$c" = - ]; then want=-; else want="\\"backing-filename\\": \\"$c\\""; fi
		[ "$seen" -le 1 ] && [ "$backing" = "$want" ] || fail "$a is backed by @{backing#\\"backing-filename\\": } in its header, not by '$c' as recorded: refused"
		checked=$((checked + 1))
		;;
	boot)
		safe "$b"
		sum=$(sha256sum < "$dir/$b") || fail "cannot read $b"
		sum=@{sum%% *}
		[ "$sum" = "$c" ] || fail "$b (the $a the VM boots) does not match its checksum: refused"
		;;
	esac
done < "$index"
[ "$checked" -gt 0 ] || fail "$index names no file"

mkdir -p -- "$dest"
while read -r kind a b c rest; do
	case $kind in
	disk)
		safe "$b"
		case $a in ''|*/*|.*|-*) fail "the index names a disk '$a'" ;; esac
		target=$dest/$a.qcow2
		[ ! -e "$target" ] || fail "$target exists; nothing is overwritten"
		printf 'restoring %s of point %s to %s\\n' "$a" "$point" "$target"
		qemu-img convert -p -f qcow2 -O qcow2 -- "$dir/$b" "$target.partial" </dev/null
		mv -- "$target.partial" "$target"
		;;
	definition)
		safe "$a"
		cp -- "$dir/$a" "$dest/" </dev/null
		printf 'the VM as it was recorded: %s\\n' "$dest/@{a##*/}"
		;;
	boot)
		safe "$b"
		name=@{rest##*/}
		cp -- "$dir/$b" "$dest/$name" </dev/null
		printf 'its %s: %s (the definition names it %s)\\n' "$a" "$dest/$name" "$rest"
		;;
	esac
done < "$index"
printf 'done: point %s of %s is in %s; RESTORE.md beside this script says how to start it\\n' "$point" "$vm" "$dest"
`.replaceAll('@{', '${');

/** What a person with only a rescue system reads beside restore.sh. */
export const RESTORE_MD = `# Restoring a backup without snapdeck

This folder is a snapdeck backup repository. Each folder in it holds the backups of one VM
(\`web1\`, or \`web1@TAG\` for another VM of the same name); each point is a chain of qcow2 files
(a full, then incrementals, each backed by the one before), with its checksums in
\`VM/kit/POINT.txt\` and the VM's definition as it was in \`VM/kit/POINT.definition.*\`.

You need a POSIX shell, \`qemu-img\` (Debian: \`apt-get install qemu-utils\`) and \`sha256sum\`
(coreutils). Nothing else: not snapdeck, not Node.js, not libvirt.

1. See what is there: \`ls\` shows the VMs; \`ls VM/kit/\` their points, newest last (a point's id
   is its time, UTC).
2. Restore one: \`sh restore.sh VM POINT DEST\`. It checks every file of the point and of the
   points it builds on against its sha256, and the backing file each qcow2 header names, and
   refuses on any difference; then it writes \`DEST/DISK.qcow2\` for each disk (whole images, no
   backing file), the VM's definition, and what it boots besides its disks (a kernel, an
   initramfs, UEFI variables) where the point holds them.
3. Start the VM:
   - **libvirt**: edit \`DEST/POINT.definition.xml\`: point each \`<disk>\`'s \`<source file=...>\` at
     \`DEST/DISK.qcow2\` (and \`<kernel>\`, \`<initrd>\`, \`<nvram>\` at the files beside it), remove
     \`<uuid>\` and the \`<mac>\` lines if the original may still exist, then \`virsh define\` it and
     \`virsh start\` it.
   - **plain QEMU**: \`qemu-system-x86_64 -machine q35 -m 2048 -drive file=DEST/vda.qcow2,if=virtio\`
     (one \`-drive\` per disk; add \`-kernel\`, \`-initrd\` and \`-append\` as \`POINT.definition.json\`
     says, for a VM that boots a kernel directly; add \`-accel kvm\` where the host has KVM).
   - **snapdeck's local: lab**: make a folder \`LAB/NAME\`, move the disks and boot files into it,
     and write its \`vm.json\` from \`POINT.definition.json\` with "name" and each disk's "file" changed.
4. An off-site copy (restic) holds one VM's folder with this kit in it: \`restic restore SNAPSHOT
   --target DIR\`, then \`sh DIR/restore.sh VM POINT DEST\` (VM is then any name: the kit finds the
   point in DIR/kit/).

The kit reads index format ${KIT_VERSION} (the first line of each POINT.txt); it refuses another.
`;
