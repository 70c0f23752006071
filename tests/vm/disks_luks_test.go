package vm

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// fastPBKDF are luksFormat options for volumes whose key is a random
// key file: pbkdf2 with few iterations instead of argon2id, whose
// calibration to 2 s of work and up to 1 GiB of memory (or half the
// guest's) makes every open under TCG take seconds. A random key needs
// no key stretching; Clevis formats its own key slots the same way.
var fastPBKDF = []string{"--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000"}

// luksGuest is what a guest needs for LUKS volumes.
var luksGuest = Machine{
	Tools:   []string{"cryptsetup", "dmsetup"},
	Modules: []string{"dm-crypt", "xts", "algif_skcipher"},
}

// luksDump is cryptsetup luksDump of an image, read on the host.
func luksDump(t *testing.T, img string) string {
	t.Helper()
	return hostOutput(t, "cryptsetup", "luksDump", img)
}

// luksField is a top-level field of a luksDump ("UUID", "Label").
func luksField(dump, name string) string {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `:\s*(.*?)\s*$`).FindStringSubmatch(dump)
	if m == nil {
		return ""
	}
	return m[1]
}

// hostKeyOpens says whether key opens the LUKS volume in img, asked on
// the host (a key slot check: no device-mapper needed).
func hostKeyOpens(t *testing.T, img string, key []byte) bool {
	t.Helper()
	kf := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(kf, key, 0o600); err != nil {
		t.Fatal(err)
	}
	err := exec.Command(hostTool(t, "cryptsetup"), "open", "--test-passphrase", "--key-file", kf, img).Run()
	if err != nil && exitCode(err) != 2 {
		t.Fatalf("cryptsetup open --test-passphrase %s: %v", img, err)
	}
	return err == nil
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

// randomKey is a fresh key for a test, printable.
func randomKey(t *testing.T) string {
	t.Helper()
	raw := make([]byte, 24)
	rand.Read(raw)
	return "vmtest-" + hex.EncodeToString(raw)
}

func TestDisksLUKS(t *testing.T) {
	ignitionBinary(t) // skips under -short; builds once
	// A key file given in the config as a data: URL: the volume is
	// formatted with it, ext4 on /dev/mapper/secret is mounted and
	// written, and the files stage puts the key into the target with a
	// crypttab line naming the volume by its LUKS UUID.
	t.Run("key file from a data URL", func(t *testing.T) {
		key := randomKey(t)
		const content = "written through /dev/mapper/secret\n"
		p := &provision{
			disks:   []Disk{{Name: "crypt", SizeMiB: 48}},
			machine: luksGuest,
			storage: storage{
				Luks: []obj{{"name": "secret", "device": "/dev/vdb", "label": "vmtest-luks",
					"keyFile": obj{"source": dataURL(key)}, "options": fastPBKDF}},
				Filesystems: []obj{{"device": "/dev/mapper/secret", "format": "ext4", "label": "secret",
					"path": "/var/secret", "wipeFilesystem": true}},
				Files: []obj{{"path": "/var/secret/hello.txt", "contents": obj{"source": dataURL(content)}}},
			},
			check: `
				cryptsetup status secret | grep -E '^ *device: +/dev/vdb$'
				cryptsetup luksDump /dev/vdb | grep -E '^Version:[[:space:]]+2$'
				uuid=$(cryptsetup luksUUID /dev/vdb)
				grep -x "secret UUID=$uuid /etc/luks/secret luks" /sysroot/etc/crypttab
				[ "$(wc -l </sysroot/etc/crypttab)" = 1 ]
				cmp /sysroot/etc/luks/secret /vmtest/expected-key
				[ "$(stat -c %a /sysroot/etc/luks/secret)" = 600 ]
				[ "$(stat -c %a /sysroot/etc/luks)" = 700 ]
				# mounted and unmounted by the stages
				grep -q 'mounting "/dev/mapper/secret" at "/sysroot/var/secret"' /tmp/ignition.log
				! grep -q ' /sysroot/var/secret ' /proc/mounts
				# closed, the volume opens again with the key in the target
				cryptsetup close secret
				[ ! -e /dev/mapper/secret ]
				cryptsetup open --key-file /sysroot/etc/luks/secret /dev/vdb again
				mkdir -p /mnt/s
				mount -t ext4 -o ro /dev/mapper/again /mnt/s
				[ "$(cat /mnt/s/hello.txt)" = "written through /dev/mapper/secret" ]
				umount /mnt/s
				cryptsetup close again
			`,
		}
		p.machine.Files = map[string]File{"/vmtest/expected-key": {Data: []byte(key)}}
		res := p.run(t)
		checkRoot(t, res)
		img := res.Disks[1]
		dump := luksDump(t, img)
		uuid := luksField(dump, "UUID")
		if luksField(dump, "Version") != "2" || luksField(dump, "Label") != "vmtest-luks" || uuid == "" {
			t.Errorf("luksDump: version %q label %q UUID %q, want 2, vmtest-luks and a UUID", luksField(dump, "Version"), luksField(dump, "Label"), uuid)
		}
		if !strings.Contains(dump, "PBKDF:      pbkdf2") {
			t.Errorf("luksDump shows no pbkdf2 key slot: the config's options did not reach luksFormat:\n%s", dump)
		}
		if !hostKeyOpens(t, img, []byte(key)) {
			t.Errorf("the config's key does not open %s", img)
		}
		if hostKeyOpens(t, img, []byte(key+"x")) {
			t.Errorf("a wrong key opens %s", img)
		}
		if got, want := rootFile(t, res, "/etc/crypttab"), "secret UUID="+uuid+" /etc/luks/secret luks\n"; got != want {
			t.Errorf("/etc/crypttab on the root disk: %q, want %q", got, want)
		}
		if got := rootFile(t, res, "/etc/luks/secret"); got != key {
			t.Errorf("/etc/luks/secret on the root disk: %q, want the config's key %q", got, key)
		}
	})

	// No key file: the stage generates one. The volume is on a partition
	// the same config makes, named by its partition GUID, which the stage
	// looks up with blkid (no udev, no /dev/disk links). The stage gives a
	// generated key's slot a fast PBKDF2 itself: no options here.
	t.Run("generated key", func(t *testing.T) {
		const partGUID = "5e3c5f4a-7d2b-4c1e-9a8f-0b1c2d3e4f50"
		p := &provision{
			disks:   []Disk{{Name: "crypt", SizeMiB: 48}},
			machine: luksGuest,
			storage: storage{
				Disks:       []obj{{"device": "/dev/vdb", "partitions": []obj{{"label": "cryptpart", "guid": partGUID}}}},
				Luks:        []obj{{"name": "gen", "device": "/dev/disk/by-partuuid/" + partGUID}},
				Filesystems: []obj{{"device": "/dev/mapper/gen", "format": "ext4", "label": "gen"}},
			},
			check: `
				grep -q 'disks: /dev/disk/by-partuuid/` + partGUID + ` is /dev/vdb1' /tmp/ignition.log
				cryptsetup status gen | grep -E '^ *device: +/dev/vdb1$'
				uuid=$(cryptsetup luksUUID /dev/vdb1)
				grep -x "gen UUID=$uuid /etc/luks/gen luks" /sysroot/etc/crypttab
				# 256 random bits, hex-encoded, no newline
				[ "$(wc -c </sysroot/etc/luks/gen)" = 64 ]
				grep -qE '^[0-9a-f]{64}$' /sysroot/etc/luks/gen
				[ "$(stat -c %a /sysroot/etc/luks/gen)" = 600 ]
				# the key is in no log (grep -f: the trace must not show it either)
				! grep -F -f /sysroot/etc/luks/gen /tmp/ignition.log
				grep -q 'generated a key for gen' /tmp/ignition.log
				cryptsetup close gen
				cryptsetup open --key-file /sysroot/etc/luks/gen /dev/vdb1 again
				[ "$(blkid -c /dev/null -s LABEL -o value /dev/mapper/again)" = gen ]
				cryptsetup close again
			`,
		}
		res := p.run(t)
		checkRoot(t, res)
		// The partition, copied out: cryptsetup on the host reads its
		// header from the start of a file.
		off, size := partition(t, res.Disks[1], 1)
		img := filepath.Join(t.TempDir(), "part.img")
		copyRange(t, res.Disks[1], img, off, size)
		dump := luksDump(t, img)
		if !strings.Contains(dump, "PBKDF:      pbkdf2") || !regexp.MustCompile(`Iterations:\s+1000\n`).MatchString(dump) {
			t.Errorf("luksDump shows no PBKDF2 key slot of 1000 iterations (the stage's for a generated key):\n%s", dump)
		}
		key := rootFile(t, res, "/etc/luks/gen")
		if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(key) {
			t.Fatalf("/etc/luks/gen on the root disk: %q, want 64 hex digits", key)
		}
		if strings.Contains(res.Serial, key) {
			t.Errorf("the generated key appears on the console")
		}
		if !hostKeyOpens(t, img, []byte(key)) {
			t.Errorf("the generated key in the target does not open the volume")
		}
		if got, want := rootFile(t, res, "/etc/crypttab"), "gen UUID="+luksField(dump, "UUID")+" /etc/luks/gen luks\n"; got != want {
			t.Errorf("/etc/crypttab on the root disk: %q, want %q", got, want)
		}
	})

	// discard and openOptions (3.4.0+): the mapping has them, and so does
	// the header (--persistent), so that any later open gets them.
	t.Run("discard and openOptions", func(t *testing.T) {
		key := randomKey(t)
		p := &provision{
			version: "3.4.0",
			disks:   []Disk{{Name: "crypt", SizeMiB: 48}},
			machine: luksGuest,
			storage: storage{
				Luks: []obj{{"name": "fast", "device": "/dev/vdb", "keyFile": obj{"source": dataURL(key)},
					"options": fastPBKDF, "discard": true, "openOptions": []string{"--perf-no_read_workqueue"}}},
			},
			check: `
				cryptsetup status fast | tee /tmp/status
				grep -E '^ *flags: .*discards' /tmp/status
				grep -E '^ *flags: .*no_read_workqueue' /tmp/status
				dmsetup table fast | tee /tmp/table
				grep -w allow_discards /tmp/table
				grep -w no_read_workqueue /tmp/table
				uuid=$(cryptsetup luksUUID /dev/vdb)
				grep -x "fast UUID=$uuid /etc/luks/fast luks,discard" /sysroot/etc/crypttab
				# opened again without any flag, it gets them from the header
				cryptsetup close fast
				cryptsetup open --key-file /sysroot/etc/luks/fast /dev/vdb again
				dmsetup table again | grep -w allow_discards
				dmsetup table again | grep -w no_read_workqueue
				cryptsetup close again
			`,
		}
		res := p.run(t)
		dump := luksDump(t, res.Disks[1])
		flags := luksField(dump, "Flags")
		if !strings.Contains(flags, "allow-discards") || !strings.Contains(flags, "no-read-workqueue") {
			t.Errorf("luksDump flags %q, want allow-discards and no-read-workqueue stored in the header", flags)
		}
	})
}
