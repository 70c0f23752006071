package vm

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDisksReuse: layered devices (LUKS on RAID1, ext4 in it) made on a
// first boot, and a second boot over the same disks with the same
// storage (as when a first boot is retried): the array is assembled, not
// created again, the volume reused with its key, the filesystem kept
// with its data. The second config names the filesystem by its label,
// which the stage finds with blkid inside the opened volume.
func TestDisksReuse(t *testing.T) {
	ignitionBinary(t) // skips under -short; builds once
	key := randomKey(t)
	store := func(fsDevice, file, content string) storage {
		return storage{
			Raid: []obj{{"name": "data", "level": "raid1", "devices": []string{"/dev/vdb", "/dev/vdc"}}},
			Luks: []obj{{"name": "vault", "device": "/dev/md/data", "keyFile": obj{"source": dataURL(key)},
				"options": fastPBKDF}},
			Filesystems: []obj{{"device": fsDevice, "format": "ext4", "label": "vault", "path": "/var/vault"}},
			Files:       []obj{{"path": "/var/vault/" + file, "contents": obj{"source": dataURL(content)}}},
		}
	}
	guest := merge(luksGuest, Machine{Tools: []string{"mdadm"}, Modules: []string{"raid1"}})

	first := &provision{
		disks:   []Disk{{Name: "m0", SizeMiB: 48}, {Name: "m1", SizeMiB: 48}},
		machine: guest,
		storage: store("/dev/mapper/vault", "first.txt", "first boot\n"),
		check: `
			grep -q 'creating the raid1 array /dev/md/data' /tmp/ignition.log
			grep -q 'creating the LUKS2 volume vault on /dev/md' /tmp/ignition.log
			grep -q 'storage.filesystems.1 (/dev/mapper/vault): creating ext4' /tmp/ignition.log
		`,
	}
	res1 := first.run(t)
	uuid1 := luksField(luksDumpOnMember(t, res1.Disks[1]), "UUID")
	if uuid1 == "" {
		t.Fatal("no LUKS volume on the array after the first boot")
	}

	second := &provision{
		rootImage: res1.Disks[0],
		disks:     []Disk{{Name: "m0", Image: res1.Disks[1]}, {Name: "m1", Image: res1.Disks[2]}},
		machine:   guest,
		storage:   store("/dev/disk/by-label/vault", "second.txt", "second boot\n"),
		check: `
			grep -q 'assembling the existing array /dev/md/data' /tmp/ignition.log
			! grep -q 'creating the raid1 array' /tmp/ignition.log
			grep -q 'reusing the LUKS2 volume on /dev/md' /tmp/ignition.log
			! grep -q 'creating the LUKS2 volume' /tmp/ignition.log
			grep -q 'storage.filesystems.1 (/dev/disk/by-label/vault, /dev/.*): reusing ext4 "vault"' /tmp/ignition.log
			! grep -q 'storage.filesystems.1 .*creating ext4' /tmp/ignition.log
			uuid=$(cryptsetup luksUUID /dev/md/data)
			grep -x "vault UUID=$uuid /etc/luks/vault luks" /sysroot/etc/crypttab
			mkdir -p /mnt/v
			mount -t ext4 -o ro /dev/mapper/vault /mnt/v
			[ "$(cat /mnt/v/first.txt)" = "first boot" ]
			[ "$(cat /mnt/v/second.txt)" = "second boot" ]
			umount /mnt/v
		`,
	}
	res2 := second.run(t)
	checkRoot(t, res2)
	for _, img := range res2.Disks[1:3] {
		if uuid := luksField(luksDumpOnMember(t, img), "UUID"); uuid != uuid1 {
			t.Errorf("%s: the LUKS volume on the array has UUID %q after the second boot, %q after the first", img, uuid, uuid1)
		}
	}
}

// luksDumpOnMember is luksDump of the LUKS volume on a RAID1 array, read
// from one member's copy of the array's data.
func luksDumpOnMember(t *testing.T, img string) string {
	t.Helper()
	ex := mdExamine(t, img)
	off := mdDataOffset(t, img, ex)
	fi, err := os.Stat(img)
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "array.img")
	copyRange(t, img, data, off, fi.Size()-off)
	return luksDump(t, data)
}
