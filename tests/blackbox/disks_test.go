package blackbox

import (
	"fmt"
	"testing"
)

// GPT type GUIDs the scenarios use.
const (
	linuxFS = "0FC63DAF-8483-4772-8E79-3D69D8477DE4" // sgdisk's default, 8300
	espType = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
)

// Sectors (512 bytes) of a 64 MiB scratch disk: sgdisk aligns starts to
// 1 MiB, and the last usable sector leaves room for the backup table.
const (
	mib     = 2048
	lastLBA = 64*mib - 34
)

// Shell functions for setup scripts (after setupPrelude).
const (
	// marker DEV TEXT writes TEXT into /marker on DEV's filesystem.
	markerFn = `marker() { m=$(mktemp -d); mount "$1" "$m"; echo "$2" > "$m/marker"; umount "$m"; rmdir "$m"; }
`
	// oneDataPart: a 16 MiB partition 1 labelled data, with an ext4
	// filesystem holding a marker.
	oneDataPart = markerFn + `sgdisk -n 1:2048:+16M -c 1:data "$D0" >/dev/null
sync_parts "$D0"
mkfs.ext4 -q -L keep "${D0}p1"
marker "${D0}p1" kept
`
	// twoSmallParts: 4 MiB partitions at 1 MiB and at 8 MiB, leaving a
	// 3 MiB hole between them and the larger rest of the disk after.
	twoSmallParts = `sgdisk -n 1:2048:+4M -c 1:one -n 2:16384:+4M -c 2:two "$D0" >/dev/null
sync_parts "$D0"
`
	// ext4Keep: an ext4 filesystem labelled keep on the whole of D0,
	// holding a marker.
	ext4Keep = markerFn + `mkfs.ext4 -q -L keep -U 9c3f2a71-3f4e-4a8e-b1d2-5e6f70819203 "$D0"
marker "$D0" kept
`
)

// keptMarker is the marker the setup scripts write.
var keptMarker = []expect{file{path: "/marker", contents: "kept\n", mode: 0o644}}

var diskScenarios = []scenario{
	// Partitions.
	{
		name:    "disks: one partition fills the disk",
		scratch: []int{64},
		config:  `{"ignition": {"version": "3.4.0"}, "storage": {"disks": [{"device": "{{.D0}}", "partitions": [{"label": "data"}]}]}}`,
		disks:   []diskExpect{part{disk: 0, num: 1, label: "data", start: mib, end: lastLBA, typeGUID: linuxFS}},
	},
	{
		name:    "disks: a sized partition, then one for the rest",
		scratch: []int{64},
		config: `{"ignition": {"version": "3.4.0"}, "storage": {"disks": [{"device": "{{.D0}}", "partitions": [
			{"number": 1, "label": "a", "sizeMiB": 16}, {"number": 2, "label": "b", "sizeMiB": 0}]}]}}`,
		disks: []diskExpect{
			part{disk: 0, num: 1, label: "a", start: mib, end: 17*mib - 1},
			part{disk: 0, num: 2, label: "b", start: 17 * mib, end: lastLBA},
		},
	},
	{
		name:    "disks: an explicit start",
		scratch: []int{64},
		config: `{"ignition": {"version": "3.1.0"}, "storage": {"disks": [{"device": "{{.D0}}", "partitions": [
			{"number": 1, "label": "x", "startMiB": 8, "sizeMiB": 8}]}]}}`,
		disks: []diskExpect{part{disk: 0, num: 1, label: "x", start: 8 * mib, end: 16*mib - 1}},
	},
	{
		name:    "disks: number 0 takes the next free number",
		scratch: []int{64},
		setup:   `sgdisk -n 1:2048:+8M -c 1:old "$D0" >/dev/null; sync_parts "$D0"`,
		config: `{"ignition": {"version": "3.4.0"}, "storage": {"disks": [{"device": "{{.D0}}", "partitions": [
			{"label": "new", "sizeMiB": 8}]}]}}`,
		disks: []diskExpect{
			part{disk: 0, num: 1, label: "old", start: mib, end: 9*mib - 1},
			part{disk: 0, num: 2, label: "new", start: 9 * mib, end: 17*mib - 1},
		},
	},
	{
		name:    "disks: type GUID and unique GUID, given in lower case",
		scratch: []int{64},
		config: `{"ignition": {"version": "3.4.0"}, "storage": {"disks": [{"device": "{{.D0}}", "partitions": [
			{"number": 1, "label": "EFI-SYSTEM", "sizeMiB": 8, "typeGuid": "c12a7328-f81f-11d2-ba4b-00a0c93ec93b",
			 "guid": "5a3e1c2b-7d4f-4e6a-9b8c-0d1e2f3a4b5c"}]}]}}`,
		disks: []diskExpect{part{disk: 0, num: 1, label: "EFI-SYSTEM", start: mib, end: 9*mib - 1,
			typeGUID: espType, guid: "5A3E1C2B-7D4F-4E6A-9B8C-0D1E2F3A4B5C"}},
	},
	{
		name:    "disks: a partition that matches is reused, the disk untouched",
		scratch: []int{64},
		setup:   oneDataPart,
		config: `{"ignition": {"version": "3.4.0"}, "storage": {"disks": [{"device": "{{.D0}}", "partitions": [
			{"number": 1, "label": "data", "startMiB": 1, "sizeMiB": 16}]}]}}`,
		disks: []diskExpect{untouched{0}, filesOn{"D0p1", keptMarker}},
	},
	{
		name:    "disks: unspecified start and size take the existing partition's",
		scratch: []int{64},
		setup:   oneDataPart,
		config:  `{"ignition": {"version": "3.0.0"}, "storage": {"disks": [{"device": "{{.D0}}", "partitions": [{"number": 1, "label": "data"}]}]}}`,
		disks:   []diskExpect{untouched{0}},
	},
	{
		name:      "disks: a label mismatch fails with the table untouched",
		scratch:   []int{64},
		setup:     oneDataPart,
		config:    `{"ignition": {"version": "3.4.0"}, "storage": {"disks": [{"device": "{{.D0}}", "partitions": [{"number": 1, "label": "other"}]}]}}`,
		failStage: "disks",
		failMsg:   []string{"storage.disks.0", "label"},
		disks:     []diskExpect{untouched{0}},
	},
	{
		name:      "disks: a size mismatch without resize fails",
		scratch:   []int{64},
		setup:     oneDataPart,
		config:    `{"ignition": {"version": "3.4.0"}, "storage": {"disks": [{"device": "{{.D0}}", "partitions": [{"number": 1, "label": "data", "sizeMiB": 32}]}]}}`,
		failStage: "disks",
		failMsg:   []string{"storage.disks.0"},
		disks:     []diskExpect{untouched{0}},
	},
	{
		name:    "disks: resize grows a partition in place, keeping its data",
		scratch: []int{64},
		setup:   oneDataPart,
		config: `{"ignition": {"version": "3.3.0"}, "storage": {"disks": [{"device": "{{.D0}}", "partitions": [
			{"number": 1, "label": "data", "sizeMiB": 32, "resize": true}]}]}}`,
		disks: []diskExpect{
			part{disk: 0, num: 1, label: "data", start: mib, end: 33*mib - 1},
			filesOn{"D0p1", keptMarker},
		},
	},
	{
		name:    "disks: resize does not excuse a label mismatch",
		scratch: []int{64},
		setup:   oneDataPart,
		config: `{"ignition": {"version": "3.2.0"}, "storage": {"disks": [{"device": "{{.D0}}", "partitions": [
			{"number": 1, "label": "other", "sizeMiB": 32, "resize": true}]}]}}`,
		failStage: "disks",
		failMsg:   []string{"storage.disks.0", "label"},
		disks:     []diskExpect{untouched{0}},
	},
	{
		name:    "disks: wipePartitionEntry replaces a partition that does not match",
		scratch: []int{64},
		setup:   oneDataPart,
		config: `{"ignition": {"version": "3.4.0"}, "storage": {"disks": [{"device": "{{.D0}}", "partitions": [
			{"number": 1, "label": "new", "sizeMiB": 32, "wipePartitionEntry": true}]}]}}`,
		disks: []diskExpect{part{disk: 0, num: 1, label: "new", start: mib, end: 33*mib - 1}},
	},
	{
		name:    "disks: wipePartitionEntry keeps a partition that matches",
		scratch: []int{64},
		setup:   oneDataPart,
		config: `{"ignition": {"version": "3.4.0"}, "storage": {"disks": [{"device": "{{.D0}}", "partitions": [
			{"number": 1, "label": "data", "sizeMiB": 16, "wipePartitionEntry": true}]}]}}`,
		disks: []diskExpect{untouched{0}, filesOn{"D0p1", keptMarker}},
	},
	{
		name:    "disks: shouldExist false with wipePartitionEntry deletes",
		scratch: []int{64},
		setup:   twoSmallParts,
		config: `{"ignition": {"version": "3.4.0"}, "storage": {"disks": [{"device": "{{.D0}}", "partitions": [
			{"number": 2, "shouldExist": false, "wipePartitionEntry": true}]}]}}`,
		disks: []diskExpect{part{disk: 0, num: 1, label: "one", start: mib, end: 5*mib - 1}, noPart{0, 2}},
	},
	{
		name:    "disks: shouldExist false without wipePartitionEntry fails",
		scratch: []int{64},
		setup:   twoSmallParts,
		config: `{"ignition": {"version": "3.4.0"}, "storage": {"disks": [{"device": "{{.D0}}", "partitions": [
			{"number": 2, "shouldExist": false}]}]}}`,
		failStage: "disks",
		failMsg:   []string{"storage.disks.0"},
		disks:     []diskExpect{untouched{0}},
	},
	{
		name:    "disks: shouldExist false for an absent partition changes nothing",
		scratch: []int{64},
		setup:   twoSmallParts,
		config: `{"ignition": {"version": "3.4.0"}, "storage": {"disks": [{"device": "{{.D0}}", "partitions": [
			{"number": 3, "shouldExist": false}]}]}}`,
		disks: []diskExpect{untouched{0}},
	},
	{
		name:    "disks: wipeTable starts from an empty table",
		scratch: []int{64},
		setup:   twoSmallParts,
		config: `{"ignition": {"version": "3.4.0"}, "storage": {"disks": [{"device": "{{.D0}}", "wipeTable": true,
			"partitions": [{"number": 1, "label": "fresh"}]}]}}`,
		disks: []diskExpect{part{disk: 0, num: 1, label: "fresh", start: mib, end: lastLBA}, noPart{0, 2}},
	},
	{
		name:    "disks: start 0 takes the largest free block, not the first",
		scratch: []int{64},
		setup:   twoSmallParts,
		config: `{"ignition": {"version": "3.4.0"}, "storage": {"disks": [{"device": "{{.D0}}", "partitions": [
			{"number": 3, "label": "big", "startMiB": 0, "sizeMiB": 8}]}]}}`,
		disks: []diskExpect{part{disk: 0, num: 3, label: "big", start: 12 * mib, end: 20*mib - 1}},
	},
	{
		name:    "disks: size 0 from a start outside the largest free block fails",
		scratch: []int{64},
		setup:   twoSmallParts,
		config: `{"ignition": {"version": "3.4.0"}, "storage": {"disks": [{"device": "{{.D0}}", "partitions": [
			{"number": 3, "label": "x", "startMiB": 5, "sizeMiB": 0}]}]}}`,
		failStage: "disks",
		failMsg:   []string{"storage.disks.0"},
		disks:     []diskExpect{untouched{0}},
	},
	{
		name:    "disks: a mismatch on the second disk leaves the first untouched too",
		scratch: []int{64, 64},
		setup:   `sgdisk -n 1:2048:+16M -c 1:data "$D1" >/dev/null; sync_parts "$D1"`,
		config: `{"ignition": {"version": "3.4.0"}, "storage": {"disks": [
			{"device": "{{.D0}}", "partitions": [{"label": "a"}]},
			{"device": "{{.D1}}", "partitions": [{"number": 1, "label": "other"}]}]}}`,
		failStage: "disks",
		failMsg:   []string{"storage.disks.1"},
		disks:     []diskExpect{untouched{0}, untouched{1}},
	},
	{
		name:    "disks: three disks partitioned in one run",
		scratch: []int{64, 64, 64},
		config: `{"ignition": {"version": "3.4.0"}, "storage": {"disks": [
			{"device": "{{.D0}}", "partitions": [{"label": "d0"}]},
			{"device": "{{.D1}}", "partitions": [{"label": "d1a", "sizeMiB": 8}, {"label": "d1b"}]},
			{"device": "{{.D2}}", "wipeTable": true, "partitions": [{"number": 4, "label": "d2"}]}]}}`,
		disks: []diskExpect{
			part{disk: 0, num: 1, label: "d0", start: mib, end: lastLBA},
			part{disk: 1, num: 1, label: "d1a", start: mib, end: 9*mib - 1},
			part{disk: 1, num: 2, label: "d1b", start: 9 * mib, end: lastLBA},
			part{disk: 2, num: 4, label: "d2", start: mib, end: lastLBA},
			noPart{2, 1},
		},
	},
	{
		name:    "disks: partitions the config does not name are kept",
		scratch: []int{64},
		setup:   oneDataPart,
		config: `{"ignition": {"version": "3.4.0"}, "storage": {"disks": [{"device": "{{.D0}}", "partitions": [
			{"number": 2, "label": "new", "sizeMiB": 8}]}]}}`,
		disks: []diskExpect{
			part{disk: 0, num: 1, label: "data", start: mib, end: 17*mib - 1},
			part{disk: 0, num: 2, label: "new", start: 17 * mib, end: 25*mib - 1},
			filesOn{"D0p1", keptMarker},
		},
	},
	{
		name:    "disks: a unique GUID mismatch fails",
		scratch: []int{64},
		setup:   `sgdisk -n 1:2048:+8M -u 1:0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9 "$D0" >/dev/null; sync_parts "$D0"`,
		config: `{"ignition": {"version": "3.4.0"}, "storage": {"disks": [{"device": "{{.D0}}", "partitions": [
			{"number": 1, "guid": "11111111-2222-4333-8444-555555555555"}]}]}}`,
		failStage: "disks",
		failMsg:   []string{"storage.disks.0"},
		disks:     []diskExpect{untouched{0}},
	},
	{
		name:    "disks: type GUIDs compare without regard to case",
		scratch: []int{64},
		setup:   oneDataPart,
		config: `{"ignition": {"version": "3.4.0"}, "storage": {"disks": [{"device": "{{.D0}}", "partitions": [
			{"number": 1, "label": "data", "typeGuid": "0fc63daf-8483-4772-8e79-3d69d8477de4"}]}]}}`,
		disks: []diskExpect{untouched{0}},
	},

	// Filesystems.
	{
		name:    "filesystems: ext4 with label, UUID and mkfs options on a whole disk",
		scratch: []int{64},
		config: `{"ignition": {"version": "3.4.0"}, "storage": {"filesystems": [{"device": "{{.D0}}", "format": "ext4",
			"label": "bb-ext4", "uuid": "6f1c0d2e-0a4b-4c5d-8e9f-0a1b2c3d4e5f", "options": ["-m", "0"]}]}}`,
		disks: []diskExpect{
			fsOn{dev: "D0", typ: "ext4", label: "bb-ext4", uuid: "6f1c0d2e-0a4b-4c5d-8e9f-0a1b2c3d4e5f"},
			dumpe2fsHas{"D0", "Reserved block count: 0"},
		},
	},
	{
		name:    "filesystems: xfs on a new partition, mounted at /var and written",
		scratch: []int{512},
		config: `{"ignition": {"version": "3.4.0"}, "storage": {
			"disks": [{"device": "{{.D0}}", "partitions": [{"number": 1, "label": "var"}]}],
			"filesystems": [{"device": "{{.D0}}p1", "format": "xfs", "label": "bb-xfs",
				"uuid": "0d4b8e1f-2a3c-4d5e-9f60-718293a4b5c6", "path": "/var"}],
			"files": [{"path": "/var/lib/hello", "contents": {"source": "data:,on%20xfs"}}]}}`,
		disks: []diskExpect{
			fsOn{dev: "D0p1", typ: "xfs", label: "bb-xfs", uuid: "0d4b8e1f-2a3c-4d5e-9f60-718293a4b5c6"},
			filesOn{"D0p1", []expect{file{path: "/lib/hello", contents: "on xfs", mode: 0o644}}},
		},
		want: []expect{dir{path: "/var", mode: 0o755}},
	},
	{
		name:    "filesystems: btrfs with label and UUID, mounted at /srv and written",
		scratch: []int{256},
		config: `{"ignition": {"version": "3.4.0"}, "storage": {
			"filesystems": [{"device": "{{.D0}}", "format": "btrfs", "label": "bb-btrfs",
				"uuid": "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d", "path": "/srv"}],
			"files": [{"path": "/srv/www/index.html", "contents": {"source": "data:,hi"}}]}}`,
		disks: []diskExpect{
			fsOn{dev: "D0", typ: "btrfs", label: "bb-btrfs", uuid: "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"},
			filesOn{"D0", []expect{file{path: "/www/index.html", contents: "hi", mode: 0o644}}},
		},
	},
	{
		name:    "filesystems: swap with label and UUID",
		scratch: []int{64},
		config: `{"ignition": {"version": "3.4.0"}, "storage": {"filesystems": [{"device": "{{.D0}}", "format": "swap",
			"label": "bb-swap", "uuid": "8b9c0d1e-2f3a-4b4c-9d5e-6f7a8b9c0d1e"}]}}`,
		disks: []diskExpect{fsOn{dev: "D0", typ: "swap", label: "bb-swap", uuid: "8b9c0d1e-2f3a-4b4c-9d5e-6f7a8b9c0d1e"}},
	},
	{
		name:    "filesystems: vfat with label and volume ID (created, not mounted: no vfat in this kernel)",
		scratch: []int{64},
		config: `{"ignition": {"version": "3.4.0"}, "storage": {"filesystems": [{"device": "{{.D0}}", "format": "vfat",
			"label": "BBVFAT", "uuid": "1234-ABCD"}]}}`,
		disks: []diskExpect{fsOn{dev: "D0", typ: "vfat", label: "BBVFAT", uuid: "1234-ABCD"}},
	},
	{
		name:    "filesystems: an existing filesystem of the same format is reused",
		scratch: []int{64},
		setup:   ext4Keep,
		config:  `{"ignition": {"version": "3.4.0"}, "storage": {"filesystems": [{"device": "{{.D0}}", "format": "ext4"}]}}`,
		disks:   []diskExpect{untouched{0}, filesOn{"D0", keptMarker}},
	},
	{
		name:    "filesystems: an existing filesystem with the label and UUID asked for is reused and mounted",
		scratch: []int{64},
		setup:   ext4Keep,
		config: `{"ignition": {"version": "3.4.0"}, "storage": {
			"filesystems": [{"device": "{{.D0}}", "format": "ext4", "label": "keep", "uuid": "9C3F2A71-3F4E-4A8E-B1D2-5E6F70819203", "path": "/data"}],
			"files": [{"path": "/data/added", "contents": {"source": "data:,added"}}]}}`,
		disks: []diskExpect{filesOn{"D0", append([]expect{file{path: "/added", contents: "added", mode: 0o644}}, keptMarker...)}},
	},
	{
		name:      "filesystems: a different label fails with the filesystem untouched",
		scratch:   []int{64},
		setup:     ext4Keep,
		config:    `{"ignition": {"version": "3.4.0"}, "storage": {"filesystems": [{"device": "{{.D0}}", "format": "ext4", "label": "other"}]}}`,
		failStage: "disks",
		failMsg:   []string{"storage.filesystems.0", "keep", "other"},
		disks:     []diskExpect{untouched{0}},
	},
	{
		name:      "filesystems: a different UUID fails",
		scratch:   []int{64},
		setup:     ext4Keep,
		config:    `{"ignition": {"version": "3.4.0"}, "storage": {"filesystems": [{"device": "{{.D0}}", "format": "ext4", "uuid": "00000000-1111-4222-8333-444444444444"}]}}`,
		failStage: "disks",
		failMsg:   []string{"storage.filesystems.0"},
		disks:     []diskExpect{untouched{0}},
	},
	{
		name:      "filesystems: a different format fails",
		scratch:   []int{256},
		setup:     `mkfs.btrfs -q -L old "$D0"`,
		config:    `{"ignition": {"version": "3.4.0"}, "storage": {"filesystems": [{"device": "{{.D0}}", "format": "ext4"}]}}`,
		failStage: "disks",
		failMsg:   []string{"storage.filesystems.0", "btrfs", "ext4"},
		disks:     []diskExpect{untouched{0}},
	},
	{
		name:    "filesystems: wipeFilesystem replaces a different format",
		scratch: []int{512},
		setup:   ext4Keep,
		config: `{"ignition": {"version": "3.4.0"}, "storage": {"filesystems": [{"device": "{{.D0}}", "format": "xfs",
			"label": "new", "wipeFilesystem": true}]}}`,
		disks: []diskExpect{fsOn{dev: "D0", typ: "xfs", label: "new"}},
	},
	{
		name:    "filesystems: wipeFilesystem recreates the same format, and the old data is gone",
		scratch: []int{64},
		setup:   ext4Keep,
		config: `{"ignition": {"version": "3.4.0"}, "storage": {"filesystems": [{"device": "{{.D0}}", "format": "ext4",
			"label": "new", "wipeFilesystem": true}]}}`,
		disks: []diskExpect{fsOn{dev: "D0", typ: "ext4", label: "new"}, filesOn{"D0", []expect{absent{"/marker"}}}},
	},
	{
		name:    "filesystems: none with wipeFilesystem erases what was there",
		scratch: []int{64},
		setup:   ext4Keep,
		config:  `{"ignition": {"version": "3.3.0"}, "storage": {"filesystems": [{"device": "{{.D0}}", "format": "none", "wipeFilesystem": true}]}}`,
		disks:   []diskExpect{fsOn{dev: "D0", typ: ""}},
	},
	{
		name:      "filesystems: none on an existing filesystem without wipeFilesystem fails",
		scratch:   []int{64},
		setup:     ext4Keep,
		config:    `{"ignition": {"version": "3.3.0"}, "storage": {"filesystems": [{"device": "{{.D0}}", "format": "none"}]}}`,
		failStage: "disks",
		failMsg:   []string{"storage.filesystems.0"},
		disks:     []diskExpect{untouched{0}},
	},
	{
		name:    "filesystems: none on an empty device changes nothing",
		scratch: []int{64},
		config:  `{"ignition": {"version": "3.3.0"}, "storage": {"filesystems": [{"device": "{{.D0}}", "format": "none"}]}}`,
		disks:   []diskExpect{untouched{0}},
	},
	{
		name:      "filesystems: a LUKS header counts as existing data",
		scratch:   []int{64},
		setup:     `head -c 32 /dev/urandom > key; cryptsetup luksFormat --type luks2 --batch-mode --pbkdf pbkdf2 --pbkdf-force-iterations 1000 "$D0" key; rm key`,
		config:    `{"ignition": {"version": "3.4.0"}, "storage": {"filesystems": [{"device": "{{.D0}}", "format": "ext4"}]}}`,
		failStage: "disks",
		failMsg:   []string{"storage.filesystems.0", "crypto_LUKS"},
		disks:     []diskExpect{untouched{0}},
	},
	{
		name:    "filesystems: four formats on one disk, two mounted and written",
		scratch: []int{1024},
		config: `{"ignition": {"version": "3.4.0"}, "storage": {
			"disks": [{"device": "{{.D0}}", "partitions": [
				{"number": 1, "label": "e", "sizeMiB": 64}, {"number": 2, "label": "x", "sizeMiB": 320},
				{"number": 3, "label": "b", "sizeMiB": 256}, {"number": 4, "label": "s", "sizeMiB": 32}]}],
			"filesystems": [
				{"device": "{{.D0}}p1", "format": "ext4", "label": "e", "path": "/srv"},
				{"device": "{{.D0}}p2", "format": "xfs", "label": "x", "path": "/var"},
				{"device": "{{.D0}}p3", "format": "btrfs", "label": "b"},
				{"device": "{{.D0}}p4", "format": "swap", "label": "s"}],
			"files": [{"path": "/srv/a", "contents": {"source": "data:,a"}}, {"path": "/var/b", "contents": {"source": "data:,b"}}]}}`,
		disks: []diskExpect{
			fsOn{dev: "D0p1", typ: "ext4", label: "e"}, fsOn{dev: "D0p2", typ: "xfs", label: "x"},
			fsOn{dev: "D0p3", typ: "btrfs", label: "b"}, fsOn{dev: "D0p4", typ: "swap", label: "s"},
			filesOn{"D0p1", []expect{file{path: "/a", contents: "a", mode: 0o644}}},
			filesOn{"D0p2", []expect{file{path: "/b", contents: "b", mode: 0o644}}},
		},
	},
	{
		name:    "filesystems: every filesystem is judged before any is created",
		scratch: []int{64, 256},
		setup:   `mkfs.btrfs -q -L old "$D1"`,
		config: `{"ignition": {"version": "3.4.0"}, "storage": {"filesystems": [
			{"device": "{{.D0}}", "format": "ext4"}, {"device": "{{.D1}}", "format": "ext4"}]}}`,
		failStage: "disks",
		failMsg:   []string{"storage.filesystems.1"},
		disks:     []diskExpect{untouched{0}, untouched{1}},
	},
	{
		name:    "filesystems: wipeTable, then wipeFilesystem where the old filesystem was",
		scratch: []int{64},
		setup:   oneDataPart,
		config: `{"ignition": {"version": "3.4.0"}, "storage": {
			"disks": [{"device": "{{.D0}}", "wipeTable": true, "partitions": [{"number": 1, "label": "fresh", "sizeMiB": 16}]}],
			"filesystems": [{"device": "{{.D0}}p1", "format": "ext4", "label": "new", "wipeFilesystem": true}]}}`,
		disks: []diskExpect{
			part{disk: 0, num: 1, label: "fresh", start: mib, end: 17*mib - 1},
			fsOn{dev: "D0p1", typ: "ext4", label: "new"},
		},
	},
	{
		name:    "filesystems: wipeTable alone leaves the old filesystem, whose label then fails",
		scratch: []int{64},
		setup:   oneDataPart,
		config: `{"ignition": {"version": "3.4.0"}, "storage": {
			"disks": [{"device": "{{.D0}}", "wipeTable": true, "partitions": [{"number": 1, "label": "fresh", "sizeMiB": 16}]}],
			"filesystems": [{"device": "{{.D0}}p1", "format": "ext4", "label": "new"}]}}`,
		failStage: "disks",
		failMsg:   []string{"storage.filesystems.0"},
		disks: []diskExpect{
			part{disk: 0, num: 1, label: "fresh", start: mib, end: 17*mib - 1},
			fsOn{dev: "D0p1", typ: "ext4", label: "keep"},
		},
	},
	{
		name:    "filesystems: nested mounts on two new partitions, parents first",
		scratch: []int{128},
		config: `{"ignition": {"version": "3.4.0"}, "storage": {
			"disks": [{"device": "{{.D0}}", "partitions": [{"number": 1, "label": "var", "sizeMiB": 48}, {"number": 2, "label": "log"}]}],
			"filesystems": [
				{"device": "{{.D0}}p2", "format": "ext4", "path": "/var/log"},
				{"device": "{{.D0}}p1", "format": "ext4", "path": "/var", "mountOptions": ["noatime"]}],
			"files": [{"path": "/var/log/x", "contents": {"source": "data:,x"}}, {"path": "/var/y", "contents": {"source": "data:,y"}}]}}`,
		disks: []diskExpect{
			filesOn{"D0p1", []expect{file{path: "/y", contents: "y", mode: 0o644}, dir{path: "/log", mode: 0o755}}},
			filesOn{"D0p2", []expect{file{path: "/x", contents: "x", mode: 0o644}}},
		},
	},
	{
		name:    "filesystems: a new partition named by its by-partuuid link, mounted through it",
		scratch: []int{64},
		config: `{"ignition": {"version": "3.4.0"}, "storage": {
			"disks": [{"device": "{{.D0}}", "partitions": [{"number": 1, "label": "bb-byuuid", "guid": "3b1f8a52-9c1e-4e5b-a7c2-d2f0e8b6a901"}]}],
			"filesystems": [{"device": "/dev/disk/by-partuuid/3b1f8a52-9c1e-4e5b-a7c2-d2f0e8b6a901", "format": "ext4", "path": "/opt"}],
			"files": [{"path": "/opt/z", "contents": {"source": "data:,z"}}]}}`,
		disks: []diskExpect{
			fsOn{dev: "D0p1", typ: "ext4"},
			filesOn{"D0p1", []expect{file{path: "/z", contents: "z", mode: 0o644}}},
		},
	},
	{
		name:    "filesystems: an existing filesystem named by its by-uuid link is reused and written",
		scratch: []int{64},
		setup: markerFn + `mkfs.ext4 -q -L keep -U 2d6e4f81-93a5-4b7c-8d9e-0f1a2b3c4d5e "$D0"
marker "$D0" kept`,
		config: `{"ignition": {"version": "3.4.0"}, "storage": {
			"filesystems": [{"device": "/dev/disk/by-uuid/2d6e4f81-93a5-4b7c-8d9e-0f1a2b3c4d5e", "format": "ext4", "path": "/home"}],
			"files": [{"path": "/home/new", "contents": {"source": "data:,n"}}]}}`,
		disks: []diskExpect{filesOn{"D0", append([]expect{file{path: "/new", contents: "n", mode: 0o644}}, keptMarker...)}},
	},
}

// versionDiskScenarios: a partition and a filesystem in every spec version.
func versionDiskScenarios() []scenario {
	var out []scenario
	for _, v := range specVersions {
		out = append(out, scenario{
			name:    "disks: partition and ext4 in spec " + v,
			scratch: []int{64},
			config: fmt.Sprintf(`{"ignition": {"version": %q}, "storage": {
				"disks": [{"device": "{{.D0}}", "wipeTable": true, "partitions": [{"number": 1, "label": "v", "sizeMiB": 32}]}],
				"filesystems": [{"device": "{{.D0}}p1", "format": "ext4", "label": "v", "path": "/v"}],
				"files": [{"path": "/v/version", "contents": {"source": "data:,%s"}}]}}`, v, v),
			disks: []diskExpect{
				part{disk: 0, num: 1, label: "v", start: mib, end: 33*mib - 1},
				fsOn{dev: "D0p1", typ: "ext4", label: "v"},
				filesOn{"D0p1", []expect{file{path: "/version", contents: v, mode: 0o644}}},
			},
		})
	}
	return out
}

func TestDisksStage(t *testing.T) {
	all := append(versionDiskScenarios(), diskScenarios...)
	seen := map[string]bool{}
	for _, sc := range all {
		if seen[sc.name] {
			t.Fatalf("two scenarios named %q", sc.name)
		}
		seen[sc.name] = true
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			provision(t, sc)
		})
	}
}
