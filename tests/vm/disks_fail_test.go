package vm

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestDisksFailure: the disks stage failing half-way in the guest says
// which config entry failed and why, in its one CRITICAL line, and leaves
// the devices it had not reached as they were.
func TestDisksFailure(t *testing.T) {
	ignitionBinary(t) // skips under -short; builds once
	// storage.luks.0 over an ext4 filesystem without wipeVolume: refused.
	// storage.luks.1, on another disk, comes after it and is not made.
	t.Run("luks over a filesystem without wipeVolume", func(t *testing.T) {
		existing := ext4Image(t, 32, "keepme", "kept.txt", "data that must survive\n")
		uuidBefore := probe(t, existing, 0)["UUID"]
		p := &provision{
			disks:   []Disk{{Name: "existing", Image: existing}, {Name: "blank", SizeMiB: 32}},
			machine: luksGuest,
			storage: storage{
				Luks: []obj{
					{"name": "first", "device": "/dev/vdb", "keyFile": obj{"source": dataURL("k1")}, "options": fastPBKDF},
					{"name": "second", "device": "/dev/vdc", "keyFile": obj{"source": dataURL("k2")}, "options": fastPBKDF},
				},
				Filesystems: []obj{{"device": "/dev/mapper/second", "format": "ext4"}},
			},
			failStage: "disks",
			check: `
				grep -x 'CRITICAL : Ignition failed: disks: storage.luks.0 (first): /dev/vdb holds a filesystem of type ext4, not a LUKS volume; set wipeVolume to replace it' /tmp/ignition.log
				[ "$(blkid -c /dev/null -s LABEL -o value /dev/vdb)" = keepme ]
				! cryptsetup isLuks /dev/vdc
				[ ! -e /dev/mapper/first ] && [ ! -e /dev/mapper/second ]
				# the disks before it were done; the stage stops at the first failure
				[ "$(blkid -c /dev/null -s PARTLABEL -o value /dev/vda1)" = root ]
			`,
		}
		res := p.run(t)
		if tags := probe(t, existing, 0); tags["TYPE"] != "ext4" || tags["UUID"] != uuidBefore {
			t.Errorf("the refused disk now holds %v, want the ext4 it held (UUID %s)", tags, uuidBefore)
		}
		if got := ext4File(t, existing, 0, "/kept.txt"); got != "data that must survive\n" {
			t.Errorf("the refused disk's file now holds %q", got)
		}
		if !zeroes(t, res.Disks[2], 4<<20) {
			t.Errorf("the disk of storage.luks.1 was written")
		}
	})

	// Every partition table is planned before any is written: the
	// second disk's partition does not fit, so neither the root disk nor
	// the first data disk, planned fine, is touched.
	t.Run("partition that does not fit", func(t *testing.T) {
		p := &provision{
			disks: []Disk{{Name: "fits", SizeMiB: 32}, {Name: "small", SizeMiB: 32}},
			storage: storage{
				Disks: []obj{
					{"device": "/dev/vdb", "partitions": []obj{{"label": "a", "sizeMiB": 16}}},
					{"device": "/dev/vdc", "partitions": []obj{{"label": "big", "sizeMiB": 64}}},
				},
			},
			failStage: "disks",
			check: `
				grep -F 'CRITICAL : Ignition failed: disks: storage.disks.2 (/dev/vdc): partition 1 ("big", number 0): sgdisk cannot create it: ' /tmp/ignition.log
				! grep -q 'writing the partition table' /tmp/ignition.log
				! blkid -c /dev/null -p /dev/vda
				! blkid -c /dev/null -p /dev/vdb
			`,
		}
		res := p.run(t)
		for _, img := range res.Disks[:3] {
			if !zeroes(t, img, 1<<20) {
				t.Errorf("%s was written", img)
			}
		}
	})
}

// ext4Image makes a disk image holding an ext4 filesystem, labelled
// label, with one file.
func ext4Image(t *testing.T, sizeMiB int, label, name, content string) string {
	t.Helper()
	dir := t.TempDir()
	img := filepath.Join(dir, "ext4.img")
	src := filepath.Join(dir, "src")
	if err := os.WriteFile(src, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(int64(sizeMiB) << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, argv := range [][]string{
		{"mkfs.ext4", "-q", "-F", "-L", label, img},
		{"debugfs", "-w", "-R", "write " + src + " " + name, img},
	} {
		if out, err := exec.Command(hostTool(t, argv[0]), argv[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", argv, err, out)
		}
	}
	return img
}
