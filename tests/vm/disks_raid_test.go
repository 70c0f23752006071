package vm

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// mdExamine is what mdadm --examine says of one member image, by field.
func mdExamine(t *testing.T, img string) map[string]string {
	t.Helper()
	out := hostOutput(t, "mdadm", "--examine", img)
	fields := map[string]string{}
	for line := range strings.Lines(out) {
		if k, v, ok := strings.Cut(line, " : "); ok {
			fields[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return fields
}

// mdDataOffset is where a member's data starts, in bytes.
func mdDataOffset(t *testing.T, img string, examine map[string]string) int64 {
	t.Helper()
	m := regexp.MustCompile(`^(\d+) sectors`).FindStringSubmatch(examine["Data Offset"])
	if m == nil {
		t.Fatalf("%s: mdadm --examine gives no data offset: %v", img, examine)
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n * 512
}

func TestDisksRAID(t *testing.T) {
	ignitionBinary(t) // skips under -short; builds once
	// RAID1 over two whole disks, ext4 on /dev/md/data mounted by the
	// mount stage at /var/data, where the files stage writes a file.
	t.Run("raid1 mounted and written", func(t *testing.T) {
		const content = "written through /dev/md/data\n"
		p := &provision{
			disks:   []Disk{{Name: "m0", SizeMiB: 48}, {Name: "m1", SizeMiB: 48}},
			machine: Machine{Tools: []string{"mdadm"}, Modules: []string{"raid1"}},
			storage: storage{
				Raid: []obj{{"name": "data", "level": "raid1", "devices": []string{"/dev/vdb", "/dev/vdc"}}},
				Filesystems: []obj{{"device": "/dev/md/data", "format": "ext4", "label": "data",
					"path": "/var/data", "wipeFilesystem": true}},
				Files: []obj{{"path": "/var/data/hello.txt", "mode": 0o640,
					"contents": obj{"source": dataURL(content)}}},
			},
			check: `
				mdadm --detail /dev/md/data >/tmp/detail
				grep -E 'Raid Level : raid1$' /tmp/detail
				grep -E 'Active Devices : 2$' /tmp/detail
				grep -E 'Name : (any:)?data' /tmp/detail
				grep -E 'active sync +/dev/vdb$' /tmp/detail
				grep -E 'active sync +/dev/vdc$' /tmp/detail
				[ "$(blkid -c /dev/null -s TYPE -o value /dev/md/data)" = ext4 ]
				[ "$(blkid -c /dev/null -s LABEL -o value /dev/md/data)" = data ]
				# mounted by the mount stage, unmounted by the umount stage
				grep -q 'mounting "/dev/md/data (/dev/md[0-9]*)" at "/sysroot/var/data"' /tmp/ignition.log
				! grep -q ' /sysroot/var/data ' /proc/mounts
				[ -d /sysroot/var/data ]
				mkdir -p /mnt/data
				mount -t ext4 -o ro /dev/md/data /mnt/data
				[ "$(cat /mnt/data/hello.txt)" = "written through /dev/md/data" ]
				[ "$(stat -c %a /mnt/data/hello.txt)" = 640 ]
				umount /mnt/data
				# the array assembles again from its members alone
				mdadm --stop /dev/md/data
				mdadm --assemble /dev/md/again /dev/vdb /dev/vdc
				mdadm --detail /dev/md/again | grep -E 'Active Devices : 2$'
				mdadm --stop /dev/md/again
			`,
		}
		res := p.run(t)
		checkRoot(t, res)
		// Both members are mirrors: each holds the filesystem and the file.
		var uuids []string
		for _, img := range res.Disks[1:3] {
			ex := mdExamine(t, img)
			if ex["Raid Level"] != "raid1" || !strings.HasSuffix(ex["Name"], "data") || ex["Raid Devices"] != "2" {
				t.Errorf("%s: mdadm --examine: level %q name %q devices %q, want raid1, data, 2", img, ex["Raid Level"], ex["Name"], ex["Raid Devices"])
			}
			uuids = append(uuids, ex["Array UUID"])
			off := mdDataOffset(t, img, ex)
			if tags := probe(t, img, off); tags["TYPE"] != "ext4" || tags["LABEL"] != "data" {
				t.Errorf("%s: the array's data holds %v, want ext4 labelled data", img, tags)
			}
			if got := ext4File(t, img, off, "/hello.txt"); got != content {
				t.Errorf("%s: /hello.txt on the member holds %q, want %q", img, got, content)
			}
		}
		if uuids[0] == "" || uuids[0] != uuids[1] {
			t.Errorf("members have array UUIDs %q, want one", uuids)
		}
	})

	// RAID5 over three disks plus a spare: the array is made with its
	// three members active (a resync, not a degraded array recovering
	// onto its last member) and the fourth waiting as a spare. The
	// members are partitions the same config makes, named by their
	// labels, which the stage finds with blkid.
	t.Run("raid5 with a spare", func(t *testing.T) {
		var disks []obj
		var members []string
		for i, label := range []string{"r0", "r1", "r2", "spare"} {
			disks = append(disks, obj{"device": "/dev/vd" + string(rune('b'+i)),
				"partitions": []obj{{"label": label, "number": 1, "typeGuid": "A19D880F-05FC-4D3B-A006-743F0F84911E"}}})
			members = append(members, "/dev/disk/by-partlabel/"+label)
		}
		p := &provision{
			disks: []Disk{{Name: "r0", SizeMiB: 32}, {Name: "r1", SizeMiB: 32}, {Name: "r2", SizeMiB: 32},
				{Name: "spare", SizeMiB: 32}},
			machine: Machine{Tools: []string{"mdadm"}, Modules: []string{"raid456"}},
			storage: storage{
				Disks:       disks,
				Raid:        []obj{{"name": "five", "level": "raid5", "spares": 1, "devices": members}},
				Filesystems: []obj{{"device": "/dev/md/five", "format": "ext4", "label": "five"}},
			},
			check: `
				grep -q 'disks: /dev/disk/by-partlabel/spare is /dev/vde1' /tmp/ignition.log
				mdadm --detail /dev/md/five | tee /tmp/detail
				grep -E 'Raid Level : raid5$' /tmp/detail
				grep -E 'Raid Devices : 3$' /tmp/detail
				grep -E 'Active Devices : 3$' /tmp/detail
				grep -E 'Spare Devices : 1$' /tmp/detail
				grep -E 'spare +/dev/vde1$' /tmp/detail
				[ "$(blkid -c /dev/null -s LABEL -o value /dev/md/five)" = five ]
			`,
		}
		res := p.run(t)
		checkRoot(t, res)
		roles := map[string]int{}
		for i, img := range res.Disks[1:5] {
			off, size := partition(t, img, 1)
			part := filepath.Join(t.TempDir(), "part.img")
			copyRange(t, img, part, off, size)
			ex := mdExamine(t, part)
			if ex["Raid Level"] != "raid5" || ex["Raid Devices"] != "3" {
				t.Errorf("%s partition 1: mdadm --examine: level %q devices %q, want raid5 over 3", img, ex["Raid Level"], ex["Raid Devices"])
			}
			role := ex["Device Role"]
			roles[strings.Fields(role + " x")[0]]++
			if i == 3 && role != "spare" {
				t.Errorf("%s partition 1 (the last device, spares: 1): role %q, want spare", img, role)
			}
		}
		if roles["Active"] != 3 || roles["spare"] != 1 {
			t.Errorf("member roles %v, want 3 active and 1 spare", roles)
		}
	})
}
