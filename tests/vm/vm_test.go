package vm

// These tests boot QEMU: they prove the runner against the things it is
// for (md, dm-crypt, vfat, networking, a TPM), running the host's own tools
// in the guest. Each costs a few seconds of boot plus its work.

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// hostBlkid returns blkid's KEY=value pairs for an image, probed on the
// host, to check what the guest wrote; it skips the check (not the test)
// without blkid.
func hostBlkid(t *testing.T, img string) map[string]string {
	t.Helper()
	bin, err := exec.LookPath("blkid")
	if err != nil {
		t.Logf("no blkid on the host; not checking %s from outside", img)
		return nil
	}
	out, err := exec.Command(bin, "-p", "-o", "export", img).Output()
	if err != nil {
		t.Fatalf("blkid -p %s: %v", img, err)
	}
	tags := map[string]string{}
	for line := range strings.Lines(string(out)) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			tags[k] = v
		}
	}
	return tags
}

func TestExitStatus(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script string
		want   int
	}{
		{"pass", "echo hello from the guest; true", 0},
		{"fail", "exit 3", 3},
		{"set -e stops at a failing command", "false; echo not reached", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := (&Machine{Script: tc.script}).Run(t)
			if res.ExitCode != tc.want || res.Passed != (tc.want == 0) {
				t.Fatalf("exit %d (passed %v), want %d; console:\n%s", res.ExitCode, res.Passed, tc.want, res.Tail(30))
			}
			if tc.want == 1 && strings.Contains(res.Serial, "not reached\n") {
				t.Errorf("the script went on after a failing command:\n%s", res.Tail(30))
			}
		})
	}
}

// TestNoVerdict covers the runs that end without the script's exit status:
// the machine stops early or the timeout hits. Run fails the test on
// those, so this calls boot directly to see the error.
func TestNoVerdict(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU; skipped with -short")
	}
	h, err := findHost(false)
	if err != nil {
		t.Skipf("vm: %v", err)
	}
	type noVerdict struct {
		name string
		m    Machine
		want string
	}
	cases := []noVerdict{
		{"stopped", Machine{Script: "echo bye; reboot -f"}, "stopped before the script reported"},
		{"timeout", Machine{Script: "sleep 600", Timeout: 10 * time.Second}, "no exit status within the 10s timeout"},
	}
	// kvm_intel refuses to load on QEMU's emulated CPU, which has no VMX.
	if ix, err := loadModIndex(h.modDir); err == nil {
		if files, err := ix.lookup("kvm_intel"); err == nil && len(files) == 1 {
			cases = append(cases, noVerdict{"module fails to load",
				Machine{Modules: []string{"kvm_intel"}, Script: "true"}, "VMTEST-SETUP-FAILED: insmod"})
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := tc.m.boot(t.Context(), h, t.TempDir(), t.Logf)
			if err == nil {
				t.Fatalf("no error; exit %d", res.ExitCode)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "console tail:") {
				t.Fatalf("error %q, want %q and the console tail", err, tc.want)
			}
			t.Logf("error as expected: %.200s…", err)
		})
	}
}

// TestFilesToolsDisks: files from data and from the host (a bash script,
// which brings bash and its libraries), a host tool that replaces a busybox
// applet, a disk from an existing image, the disks' order and serials, and
// the machine's size and kernel command line.
func TestFilesToolsDisks(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "hello")
	if err := os.WriteFile(script, []byte("#!/bin/bash\necho \"hello from bash ${BASH_VERSINFO[0]}\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "existing.img")
	if err := os.WriteFile(img, append([]byte("PRESET-CONTENT"), make([]byte, 1<<20)...), 0o644); err != nil {
		t.Fatal(err)
	}
	m := &Machine{
		Disks: []Disk{{Name: "first", SizeMiB: 4}, {Name: "preset", Image: img}},
		Files: map[string]File{
			"/etc/vmtest/config.json": {Data: []byte(`{"ok":true}`)},
			"/usr/local/bin/hello":    {Src: script},
		},
		Tools:  []string{"mkfs.vfat"},
		CPUs:   2,
		Memory: 768,
		Append: "vmtest.marker=42",
		Script: `
			[ "$(nproc)" = 2 ]
			mem=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
			[ "$mem" -gt 600000 ] && [ "$mem" -le 786432 ] || { echo "MemTotal $mem kB"; exit 1; }
			grep -qw vmtest.marker=42 /proc/cmdline
			[ "$(cat /etc/vmtest/config.json)" = '{"ok":true}' ]
			hello | grep -x 'hello from bash [0-9]*'
			# dosfstools' mkfs.vfat, not busybox's applet of the same name
			mkfs.vfat --help 2>&1 | grep -q 'Create FAT filesystem in TARGET'
			[ "$(cat /sys/block/vda/serial)" = first ]
			[ "$(cat /sys/block/vdb/serial)" = preset ]
			[ "$(cat /sys/block/vda/size)" = 8192 ]
			[ "$(head -c 14 /dev/vdb)" = PRESET-CONTENT ]
			printf GUEST-WROTE-THIS | dd of=/dev/vda bs=512 seek=1 conv=fsync 2>/dev/null
		`,
	}
	res := m.MustPass(t)
	got, err := os.ReadFile(res.Disks[0])
	if err != nil {
		t.Fatal(err)
	}
	if want := "GUEST-WROTE-THIS"; string(got[512:512+len(want)]) != want {
		t.Errorf("disk image %s at 512: %q, want %q", res.Disks[0], got[512:512+len(want)], want)
	}
	if res.Disks[1] != img {
		t.Errorf("Disks[1] = %s, want the existing image %s", res.Disks[1], img)
	}
}

// TestRAID1: md RAID1 over two virtio disks, ext4 on it, data written,
// the array stopped and assembled again, data read back.
func TestRAID1(t *testing.T) {
	m := &Machine{
		Disks:   []Disk{{SizeMiB: 64}, {SizeMiB: 64}},
		Tools:   []string{"mdadm", "mkfs.ext4"},
		Extra:   []string{"/etc/mke2fs.conf"},
		Modules: []string{"raid1", "ext4"},
		Script: `
			mdadm --create /dev/md0 --run --metadata=1.2 --level=1 --raid-devices=2 --assume-clean /dev/vda /dev/vdb
			grep -A1 '^md0 : active raid1' /proc/mdstat | grep -q '\[UU\]'
			mkfs.ext4 -q -L raidfs /dev/md0
			mkdir -p /mnt/r
			mount -t ext4 /dev/md0 /mnt/r
			echo raid-data > /mnt/r/file
			umount /mnt/r
			mdadm --stop /dev/md0
			mdadm --assemble /dev/md0 /dev/vda /dev/vdb
			mount -t ext4 -o ro /dev/md0 /mnt/r
			[ "$(cat /mnt/r/file)" = raid-data ]
			umount /mnt/r
			mdadm --stop /dev/md0
		`,
	}
	res := m.MustPass(t)
	for _, img := range res.Disks {
		if tags := hostBlkid(t, img); tags != nil && tags["TYPE"] != "linux_raid_member" {
			t.Errorf("%s: blkid %v, want TYPE=linux_raid_member", img, tags)
		}
	}
}

// TestLUKS: cryptsetup luksFormat and open with a key file, ext4 inside,
// data written, the mapping closed and opened again, data read back.
func TestLUKS(t *testing.T) {
	m := &Machine{
		Disks:   []Disk{{SizeMiB: 64}},
		Tools:   []string{"cryptsetup", "mkfs.ext4"},
		Extra:   []string{"/etc/mke2fs.conf"},
		Modules: []string{"dm-crypt", "xts", "algif_skcipher", "ext4"},
		Files:   map[string]File{"/etc/luks.key": {Data: []byte("not-a-secret-test-key"), Mode: 0o600}},
		Script: `
			# pbkdf2 with few iterations: argon2's memory-hard default is slow under TCG
			cryptsetup luksFormat --batch-mode --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file /etc/luks.key /dev/vda
			cryptsetup open --key-file /etc/luks.key /dev/vda secure
			[ -b /dev/mapper/secure ]
			mkfs.ext4 -q /dev/mapper/secure
			mkdir -p /mnt/c
			mount -t ext4 /dev/mapper/secure /mnt/c
			echo luks-data > /mnt/c/file
			umount /mnt/c
			cryptsetup close secure
			cryptsetup open --key-file /etc/luks.key /dev/vda secure
			mount -t ext4 -o ro /dev/mapper/secure /mnt/c
			[ "$(cat /mnt/c/file)" = luks-data ]
			umount /mnt/c
			cryptsetup close secure
		`,
	}
	res := m.MustPass(t)
	if tags := hostBlkid(t, res.Disks[0]); tags != nil && tags["TYPE"] != "crypto_LUKS" {
		t.Errorf("blkid %v, want TYPE=crypto_LUKS", tags)
	}
}

// TestVFAT: mkfs.vfat and a vfat mount, which the host kernel cannot do.
func TestVFAT(t *testing.T) {
	m := &Machine{
		Disks:   []Disk{{SizeMiB: 32}},
		Tools:   []string{"mkfs.vfat"},
		Modules: []string{"vfat", "nls_cp437", "nls_ascii"},
		Script: `
			mkfs.vfat -n VMTEST /dev/vda
			mkdir -p /mnt/v
			mount -t vfat /dev/vda /mnt/v
			echo vfat-data > /mnt/v/HELLO.TXT
			umount /mnt/v
			mount -t vfat -o ro /dev/vda /mnt/v
			[ "$(cat /mnt/v/hello.txt)" = vfat-data ]
			umount /mnt/v
		`,
	}
	res := m.MustPass(t)
	if tags := hostBlkid(t, res.Disks[0]); tags != nil && (tags["TYPE"] != "vfat" || tags["LABEL"] != "VMTEST") {
		t.Errorf("blkid %v, want TYPE=vfat LABEL=VMTEST", tags)
	}
}

// TestNet: the guest fetches from a server on the host's 127.0.0.1
// through the user-mode network's gateway 10.0.2.2.
func TestNet(t *testing.T) {
	token := make([]byte, 16)
	rand.Read(token)
	want := hex.EncodeToString(token)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/token" {
			http.NotFound(w, r)
			return
		}
		hits.Add(1)
		fmt.Fprint(w, want)
	}))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	m := &Machine{
		Net: true,
		Script: fmt.Sprintf(`
			ip addr show eth0 | grep -q 'inet 10.0.2.15/24'
			[ "$(wget -q -O - http://10.0.2.2:%s/token)" = %s ]
			! wget -q -O - http://10.0.2.2:%s/missing
		`, u.Port(), want, u.Port()),
	}
	m.MustPass(t)
	if n := hits.Load(); n != 1 {
		t.Errorf("the host server saw %d requests for /token, want 1", n)
	}
}

// TestTPM: with swtpm attached the guest has a TPM 2.0 device, and when
// the host has tpm2-tools the guest can talk to it.
func TestTPM(t *testing.T) {
	m := &Machine{
		TPM: true,
		Script: `
			[ -c /dev/tpm0 ]
			[ -c /dev/tpmrm0 ]
			[ "$(cat /sys/class/tpm/tpm0/tpm_version_major)" = 2 ]
		`,
	}
	if _, err := lookPath("tpm2_getrandom"); err == nil {
		m.Tools = []string{"tpm2_getrandom"}
		// tpm2-tools dlopen their transport ("TCTI") libraries.
		m.Extra = []string{"/usr/lib/*/libtss2-tcti-device.so*"}
		m.Script += "tpm2_getrandom -T device:/dev/tpmrm0 --hex 16 | grep -E '^[0-9a-f]{32}$'\n"
	} else {
		t.Log("no tpm2_getrandom on the host; checking the device nodes only")
	}
	m.MustPass(t)
}
