#!/usr/bin/env bash
# The demo (make demo):
#
# 1. Validates every example config with bin/ignition-validate. Examples
#    named broken*.ign must fail, all others must pass.
# 2. Provisions a scratch disk image from examples/demo.ign the way a first
#    boot does: the image is attached as a loop device, and bin/ignition
#    runs every stage with -platform file, in boot order. Between the disks
#    and mount stages the script mounts the new root filesystem at a
#    sysroot, as the initramfs would, and seeds it with the account files
#    an OS image ships. Then it prints the partition table, what blkid
#    finds, and the tree the files stage wrote, and cleans up.
#
# Without root (loop devices, mount) the second part says so and falls
# back to bin/ignition-apply into a temporary directory.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0

echo "### 1. Validating the examples"
for f in examples/*.ign; do
	out=$(bin/ignition-validate "$f" 2>&1)
	rc=$?
	case "$(basename "$f")" in
	broken*) want=1 ;;
	*) want=0 ;;
	esac
	if [ "$rc" -eq 0 ]; then verdict="valid"; else verdict="invalid (exit $rc)"; fi
	echo "=== ${f}: ${verdict}"
	[ -n "$out" ] && echo "$out" | sed 's/^/    /'
	if [ "$rc" -ne "$want" ]; then
		echo "!!! expected exit ${want}" >&2
		status=1
	fi
done
echo

# tree DIR prints what is under DIR with modes and owners.
tree() {
	(cd "$1" && find . -mindepth 1 -path ./lost+found -prune -o \
		\( -type l -printf '%M %5U:%-5G /%P -> %l\n' \) -o -printf '%M %5U:%-5G /%P\n') | sort -b -k3
}

if [ "$(id -u)" -ne 0 ] || ! command -v losetup sgdisk partx mkfs.ext4 mkfs.xfs mkswap useradd >/dev/null 2>&1; then
	echo "### 2. Provisioning needs root and the disk tools (losetup, sgdisk, partx, mkfs.ext4, mkfs.xfs, mkswap, useradd):"
	echo "###    falling back to ignition-apply into a temporary directory (no disks, no users)"
	dir=$(mktemp -d)
	trap 'rm -rf "$dir"' EXIT
	mkdir -p "$dir/etc"
	if ! bin/ignition-apply --ignore-unsupported --root "$dir" examples/demo.ign; then
		echo "!!! ignition-apply failed" >&2
		exit 1
	fi
	echo
	echo "--- the tree it wrote under $dir"
	tree "$dir"
	exit $status
fi

echo "### 2. Provisioning a scratch disk from examples/demo.ign, every stage, as a boot does"
work=$(mktemp -d /tmp/ignition-demo.XXXXXX)
loop=""
cleanup() {
	for m in "$work/sysroot/var" "$work/sysroot"; do
		mountpoint -q "$m" 2>/dev/null && umount "$m"
	done
	if [ -n "$loop" ]; then
		partx -d "$loop" 2>/dev/null
		losetup -d "$loop"
	fi
	rm -f /run/ignition-demo/disk
	rmdir /run/ignition-demo 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

truncate -s 512M "$work/disk.img"
loop=$(losetup --find --show "$work/disk.img")
# The config names the disk by a stable link, as configs name disks by
# /dev/disk/by-id/…; here the link points at the loop device.
mkdir -p /run/ignition-demo
ln -sfn "$loop" /run/ignition-demo/disk
echo "scratch disk: $work/disk.img (512 MiB, sparse) on $loop, linked as /run/ignition-demo/disk"

mkdir -p "$work/sys" "$work/local" "$work/runtime" "$work/sysroot"
echo "BOOT_IMAGE=/vmlinuz root=LABEL=demo-root" >"$work/cmdline"
export IGNITION_CONFIG_FILE="$PWD/examples/demo.ign"
export IGNITION_SYSTEM_CONFIG_DIR="$work/sys"
export IGNITION_SYSTEM_LOCAL_CONFIG_DIR="$work/local"
export IGNITION_SYSTEM_RUNTIME_CONFIG_DIR="$work/runtime"
export IGNITION_KERNEL_CMDLINE_PATH="$work/cmdline"

stage() {
	echo "--- ignition -platform file -stage $1"
	bin/ignition -platform file -stage "$1" -root "$work/sysroot" -log-to-stdout \
		-config-cache "$work/ignition.json" -state-file "$work/state" -neednet "$work/neednet" |
		sed 's/^/    /'
	return "${PIPESTATUS[0]}"
}

start=$(date +%s.%N)
for s in fetch-offline fetch kargs disks; do
	stage "$s" || { echo "!!! stage $s failed" >&2; exit 1; }
done
# sysroot.mount: the initramfs mounts the root filesystem by its label.
root=$(blkid -c /dev/null -L demo-root) || { echo "!!! no filesystem labelled demo-root" >&2; exit 1; }
mount "$root" "$work/sysroot"
echo "--- mounted $root (LABEL=demo-root) at $work/sysroot, seeded with the image's account files"
mkdir -p "$work/sysroot/etc"
printf 'root:x:0:0:root:/root:/bin/bash\n' >"$work/sysroot/etc/passwd"
printf 'root:x:0:\nwheel:x:10:\n' >"$work/sysroot/etc/group"
printf 'root:*:19000:0:99999:7:::\n' >"$work/sysroot/etc/shadow"
printf 'root:*::\nwheel:*::\n' >"$work/sysroot/etc/gshadow"
chmod 600 "$work/sysroot/etc/shadow" "$work/sysroot/etc/gshadow"
for s in mount files umount; do
	stage "$s" || { echo "!!! stage $s failed" >&2; exit 1; }
done
end=$(date +%s.%N)
awk -v a="$start" -v b="$end" 'BEGIN { printf "--- every stage succeeded in %.1f s\n\n", b - a }'

echo "--- the partition table (sgdisk -p $loop)"
sgdisk -p "$loop" | sed -n '/^Number/,$p' | sed 's/^/    /'
echo "--- what blkid finds"
for p in "$loop"p*; do
	printf '    %s: %s\n' "$p" "$(blkid -c /dev/null -p -o export "$p" | grep -E '^(TYPE|LABEL|PART_ENTRY_NAME)=' | tr '\n' ' ')"
done
mount -t xfs "${loop}p2" "$work/sysroot/var" 2>/dev/null || mount "${loop}p2" "$work/sysroot/var"
echo "--- the tree on the new root, with /var (xfs) mounted"
tree "$work/sysroot" | sed 's/^/    /'
echo "--- /etc/motd: $(cat "$work/sysroot/etc/motd")"
echo "--- the user: $(grep '^demo:' "$work/sysroot/etc/passwd")"
exit $status
