package disks

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ignition-go/ignition/config/types"
	"github.com/ignition-go/ignition/internal/exec/command"
	"github.com/ignition-go/ignition/internal/log"
)

// These tests run the real blkid, wipefs and mkfs tools on image files,
// which needs no root.

// fsImageSize is big enough for each format's mkfs: mkfs.xfs refuses
// less than 300 MiB, mkfs.btrfs less than about 109 MiB. The files are
// sparse.
var fsImageSize = map[string]int64{
	"ext4": 64 << 20, "xfs": 300 << 20, "btrfs": 128 << 20, "vfat": 64 << 20, "swap": 64 << 20, "none": 64 << 20,
}

var fsTools = map[string]string{
	"ext4": "mkfs.ext4", "xfs": "mkfs.xfs", "btrfs": "mkfs.btrfs", "vfat": "mkfs.vfat", "swap": "mkswap",
}

// fsNeedTools skips the test when a tool is missing.
func fsNeedTools(tb testing.TB, tools ...string) {
	tb.Helper()
	for _, tool := range append([]string{"blkid", "wipefs"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			tb.Skipf("%s is not installed: %v", tool, err)
		}
	}
}

// fsImage makes an empty (zero) image file of size bytes.
func fsImage(tb testing.TB, name string, size int64) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), name+".img")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		tb.Fatal(err)
	}
	return path
}

// fsRun runs a setup command.
func fsRun(tb testing.TB, argv ...string) {
	tb.Helper()
	if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
		tb.Fatalf("%q: %v\n%s", argv, err, out)
	}
}

// fsSum is an image's checksum, to prove it was not written.
func fsSum(tb testing.TB, path string) string {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		tb.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// fsBlkid reads an image with blkid's export format, independently of
// the code under test; labels in these tests are plain ASCII. Nothing
// found is an empty map.
func fsBlkid(tb testing.TB, path string) map[string]string {
	tb.Helper()
	out, err := exec.Command("blkid", "-p", "-o", "export", path).Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 2 {
		return map[string]string{}
	}
	if err != nil {
		tb.Fatalf("blkid %s: %v", path, err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		m[k] = strings.ReplaceAll(v, `\ `, " ")
	}
	return m
}

// fsRecorder runs commands for real and records them.
type fsRecorder struct {
	command.Exec
	mu    sync.Mutex
	calls [][]string
}

func (r *fsRecorder) Run(ctx context.Context, argv []string) error {
	r.mu.Lock()
	r.calls = append(r.calls, argv)
	r.mu.Unlock()
	return r.Exec.Run(ctx, argv)
}

// writes are the recorded commands that write (all but blkid).
func (r *fsRecorder) writes() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]string(nil), r.calls...)
}

func fsRealStage(parallel int) (*stage, *fsRecorder) {
	r := &fsRecorder{}
	return &stage{
		cfg:     &types.Config{},
		e:       Env{Parallel: parallel},
		cmd:     r,
		log:     log.Discard(),
		devices: map[string]string{},
	}, r
}

// TestFSCreateReal makes every format with a label, a uuid and options
// and checks with blkid that each took effect.
func TestFSCreateReal(t *testing.T) {
	tests := []struct {
		format string
		label  string
		uuid   string
		opts   []string
		want   map[string]string // what blkid must report
	}{
		{"ext4", "root", fsUUID, []string{"-b", "4096"}, map[string]string{"TYPE": "ext4", "LABEL": "root", "UUID": fsUUID, "BLOCK_SIZE": "4096"}},
		{"ext4", "", "", nil, map[string]string{"TYPE": "ext4"}},
		{"xfs", "data", fsUUID, []string{"-s", "size=4096"}, map[string]string{"TYPE": "xfs", "LABEL": "data", "UUID": fsUUID, "BLOCK_SIZE": "4096"}},
		{"btrfs", "my data", strings.ToUpper(fsUUID), []string{"-m", "single"}, map[string]string{"TYPE": "btrfs", "LABEL": "my data", "UUID": fsUUID}},
		{"vfat", "EFI-SYSTEM", "1234-abcd", []string{"-F", "32"}, map[string]string{"TYPE": "vfat", "LABEL": "EFI-SYSTEM", "UUID": "1234-ABCD", "VERSION": "FAT32"}},
		{"vfat", "efi", "89abCDEF", nil, map[string]string{"TYPE": "vfat", "LABEL": "efi", "UUID": "89AB-CDEF"}},
		{"swap", "sw", fsUUID, []string{"-p", "4096"}, map[string]string{"TYPE": "swap", "LABEL": "sw", "UUID": fsUUID}},
	}
	for _, tt := range tests {
		t.Run(tt.format+"_"+tt.label, func(t *testing.T) {
			fsNeedTools(t, fsTools[tt.format])
			img := fsImage(t, tt.format, fsImageSize[tt.format])
			s, _ := fsRealStage(1)
			j := fsJobFor(0, img, tt.format, fsOptOptions(tt.opts...))
			if tt.label != "" {
				j.fs.Label = &tt.label
			}
			if tt.uuid != "" {
				j.fs.UUID = &tt.uuid
			}
			if err := s.createFilesystems(context.Background(), []fsJob{j}); err != nil {
				t.Fatal(err)
			}
			got := fsBlkid(t, img)
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("blkid %s = %q, want %q (all: %v)", k, got[k], v, got)
				}
			}
			if _, ok := tt.want["UUID"]; !ok && got["UUID"] == "" {
				t.Errorf("no uuid: %v", got)
			}
		})
	}
}

// fsExisting puts format (with label and uuid, when not "") on a new
// image, with the real tool.
func fsExisting(t *testing.T, format, label, uuid string) string {
	t.Helper()
	fsNeedTools(t, fsTools[format])
	img := fsImage(t, format, fsImageSize[format])
	argv := mkfsArgv(types.Filesystem{Format: &format, Label: &label, UUID: &uuid}, img)
	fsRun(t, argv...)
	return img
}

// TestFSReuseReal: a matching filesystem is left byte for byte as it
// was, and nothing but blkid runs.
func TestFSReuseReal(t *testing.T) {
	tests := []struct {
		name, format, label, uuid string // what is there
		job                       []func(*types.Filesystem)
	}{
		{"format only", "ext4", "root", fsUUID, nil},
		{"label", "ext4", "root", fsUUID, []func(*types.Filesystem){fsOptLabel("root")}},
		{"uuid in capitals", "xfs", "data", fsUUID, []func(*types.Filesystem){fsOptUUID(strings.ToUpper(fsUUID))}},
		{"label and uuid", "btrfs", "b", fsUUID, []func(*types.Filesystem){fsOptLabel("b"), fsOptUUID(fsUUID)}},
		{"vfat id without dash", "vfat", "EFI", "1234ABCD", []func(*types.Filesystem){fsOptUUID("1234abcd"), fsOptLabel("EFI")}},
		{"vfat id with dash", "vfat", "EFI", "1234ABCD", []func(*types.Filesystem){fsOptUUID("1234-ABCD")}},
		{"swap", "swap", "sw", fsUUID, []func(*types.Filesystem){fsOptLabel("sw"), fsOptUUID(fsUUID)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := fsExisting(t, tt.format, tt.label, tt.uuid)
			before := fsSum(t, img)
			s, r := fsRealStage(0)
			if err := s.createFilesystems(context.Background(), []fsJob{fsJobFor(0, img, tt.format, tt.job...)}); err != nil {
				t.Fatal(err)
			}
			if w := r.writes(); len(w) != 0 {
				t.Errorf("commands ran on a reused filesystem: %q", w)
			}
			if fsSum(t, img) != before {
				t.Error("the reused image changed")
			}
		})
	}
}

// fsWriteMDSuperblock writes an md RAID version 1.2 superblock (4 KiB
// into the device, as mdadm --metadata=1.2 does), since md arrays cannot
// be made on a machine without the md driver.
func fsWriteMDSuperblock(t *testing.T, img string) {
	t.Helper()
	const maxDev = 2
	sb := make([]byte, 256+2*maxDev)
	le := binary.LittleEndian
	le.PutUint32(sb[0:], 0xa92b4efc) // magic
	le.PutUint32(sb[4:], 1)          // major version
	copy(sb[16:32], []byte("0123456789abcdef"))
	copy(sb[32:64], "host:data") // set name
	le.PutUint32(sb[72:], 1)     // level
	le.PutUint32(sb[92:], 2)     // raid disks
	le.PutUint64(sb[128:], 2048) // data offset
	le.PutUint64(sb[136:], 1024) // data size
	le.PutUint64(sb[144:], 8)    // superblock offset, in sectors
	copy(sb[168:184], []byte("fedcba9876543210"))
	le.PutUint32(sb[220:], maxDev)
	le.PutUint16(sb[258:], 1) // dev_roles[1]
	var sum uint64
	for i := 0; i+4 <= len(sb); i += 4 {
		sum += uint64(le.Uint32(sb[i:]))
	}
	le.PutUint32(sb[216:], uint32(sum&0xffffffff+sum>>32))
	f, err := os.OpenFile(img, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(sb, 4096); err != nil {
		t.Fatal(err)
	}
}

// fsNotEmpty makes an image that holds something other than a
// filesystem the config could want, and says what blkid calls it.
var fsNotEmpty = map[string]func(t *testing.T) string{
	"LUKS": func(t *testing.T) string {
		fsNeedTools(t, "cryptsetup")
		img := fsImage(t, "luks", 32<<20)
		key := filepath.Join(t.TempDir(), "key")
		if err := os.WriteFile(key, []byte("secret"), 0o600); err != nil {
			t.Fatal(err)
		}
		// PBKDF2 with few iterations: argon2 would take a second and a
		// gigabyte per test.
		fsRun(t, "cryptsetup", "luksFormat", "--batch-mode", "--type", "luks2", "--pbkdf", "pbkdf2",
			"--pbkdf-force-iterations", "1000", "--key-file", key, img)
		return img
	},
	"RAID": func(t *testing.T) string {
		img := fsImage(t, "raid", 64<<20)
		fsWriteMDSuperblock(t, img)
		return img
	},
	"partition table": func(t *testing.T) string {
		fsNeedTools(t, "sgdisk")
		img := fsImage(t, "gpt", 64<<20)
		fsRun(t, "sgdisk", "--new=1:0:+16M", img)
		return img
	},
	"two signatures": func(t *testing.T) string {
		// A btrfs with an ext4 superblock over its start: blkid sees
		// both and will not choose.
		img := fsExisting(t, "btrfs", "", "")
		other := fsExisting(t, "ext4", "", "")
		b, err := os.ReadFile(other)
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(img, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteAt(b[:4096], 0); err != nil {
			t.Fatal(err)
		}
		return img
	},
}

// TestFSRefuseReal: anything on the device that is not what the config
// wants fails naming both, and leaves the image as it was.
func TestFSRefuseReal(t *testing.T) {
	tests := []struct {
		name  string
		image func(t *testing.T) string
		job   func(img string) fsJob
		err   string
	}{
		{
			name:  "format",
			image: func(t *testing.T) string { return fsExisting(t, "xfs", "data", "") },
			job:   func(img string) fsJob { return fsJobFor(2, img, "ext4") },
			err:   `the device has xfs (label "data"`,
		},
		{
			name:  "label",
			image: func(t *testing.T) string { return fsExisting(t, "ext4", "root", fsUUID) },
			job:   func(img string) fsJob { return fsJobFor(2, img, "ext4", fsOptLabel("var")) },
			err:   `the device has ext4 (label "root", uuid ` + fsUUID + `), the config wants ext4 (label "var")`,
		},
		{
			name:  "uuid",
			image: func(t *testing.T) string { return fsExisting(t, "vfat", "EFI", "1234ABCD") },
			job:   func(img string) fsJob { return fsJobFor(2, img, "vfat", fsOptUUID("1234-ABCE")) },
			err:   `the device has vfat (label "EFI", uuid 1234-ABCD), the config wants vfat (uuid 1234-ABCE)`,
		},
		{
			name:  "none over a filesystem",
			image: func(t *testing.T) string { return fsExisting(t, "swap", "", "") },
			job:   func(img string) fsJob { return fsJobFor(2, img, "none") },
			err:   "the device has swap (uuid ",
		},
		{
			name:  "LUKS",
			image: fsNotEmpty["LUKS"],
			job:   func(img string) fsJob { return fsJobFor(2, img, "ext4") },
			err:   "the device has crypto_LUKS (uuid ",
		},
		{
			name:  "RAID",
			image: fsNotEmpty["RAID"],
			job:   func(img string) fsJob { return fsJobFor(2, img, "xfs") },
			err:   `the device has linux_raid_member (label "host:data", uuid 30313233-3435-3637-3839-616263646566), the config wants xfs`,
		},
		{
			name:  "partition table",
			image: fsNotEmpty["partition table"],
			job:   func(img string) fsJob { return fsJobFor(2, img, "vfat") },
			err:   "the device has a gpt partition table, the config wants vfat",
		},
		{
			name:  "two signatures",
			image: fsNotEmpty["two signatures"],
			job:   func(img string) fsJob { return fsJobFor(2, img, "btrfs") },
			err:   "the device has several signatures blkid cannot choose between (filesystem:ext4:1.0 filesystem:btrfs)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := tt.image(t)
			before := fsSum(t, img)
			s, r := fsRealStage(0)
			err := s.createFilesystems(context.Background(), []fsJob{tt.job(img)})
			prefix := "storage.filesystems.2 (" + img + "): "
			if err == nil || !strings.Contains(err.Error(), prefix+tt.err) {
				t.Fatalf("error = %v, want one containing %q", err, prefix+tt.err)
			}
			if w := r.writes(); len(w) != 0 {
				t.Errorf("commands ran: %q", w)
			}
			if fsSum(t, img) != before {
				t.Error("the image changed")
			}
		})
	}
}

// TestFSWipeReal: wipeFilesystem replaces whatever is there; none with
// wipeFilesystem leaves nothing.
func TestFSWipeReal(t *testing.T) {
	tests := []struct {
		name   string
		image  func(t *testing.T) string
		format string
	}{
		{"xfs to ext4", func(t *testing.T) string { return fsExisting(t, "xfs", "data", "") }, "ext4"},
		{"ext4 to ext4", func(t *testing.T) string { return fsExisting(t, "ext4", "old", "") }, "ext4"},
		{"btrfs to swap", func(t *testing.T) string { return fsExisting(t, "btrfs", "b", "") }, "swap"},
		{"LUKS to xfs", func(t *testing.T) string {
			img := fsNotEmpty["LUKS"](t)
			// xfs needs room; the LUKS header stays at the start.
			if err := os.Truncate(img, fsImageSize["xfs"]); err != nil {
				t.Fatal(err)
			}
			return img
		}, "xfs"},
		{"RAID to vfat", fsNotEmpty["RAID"], "vfat"},
		{"partition table to ext4", fsNotEmpty["partition table"], "ext4"},
		{"two signatures to btrfs", fsNotEmpty["two signatures"], "btrfs"},
		{"ext4 to none", func(t *testing.T) string { return fsExisting(t, "ext4", "old", "") }, "none"},
		{"vfat to none", func(t *testing.T) string { return fsExisting(t, "vfat", "OLD", "") }, "none"},
		{"LUKS to none", fsNotEmpty["LUKS"], "none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tool, ok := fsTools[tt.format]; ok {
				fsNeedTools(t, tool)
			}
			img := tt.image(t)
			s, r := fsRealStage(0)
			j := fsJobFor(0, img, tt.format, fsOptWipe, fsOptLabel("new"))
			if tt.format == "none" {
				j.fs.Label = nil
			}
			if err := s.createFilesystems(context.Background(), []fsJob{j}); err != nil {
				t.Fatal(err)
			}
			got := fsBlkid(t, img)
			if tt.format == "none" {
				if len(got) != 0 {
					t.Errorf("blkid still finds %v", got)
				}
			} else if got["TYPE"] != tt.format || got["LABEL"] != "new" {
				t.Errorf("blkid = %v, want %s labelled new", got, tt.format)
			}
			if w := r.writes(); len(w) == 0 || w[0][0] != "wipefs" {
				t.Errorf("commands = %q, want wipefs first", w)
			}
		})
	}
}

// TestFSNoneOnEmptyReal: format none on an empty device does nothing.
func TestFSNoneOnEmptyReal(t *testing.T) {
	fsNeedTools(t)
	img := fsImage(t, "empty", 16<<20)
	s, r := fsRealStage(0)
	if err := s.createFilesystems(context.Background(), []fsJob{fsJobFor(0, img, "none", fsOptWipe)}); err != nil {
		t.Fatal(err)
	}
	if w := r.writes(); len(w) != 0 {
		t.Errorf("commands ran: %q", w)
	}
}

// TestFSProbeAllBeforeCreateReal: when the second entry cannot be
// applied, the first (empty) image is not written either.
func TestFSProbeAllBeforeCreateReal(t *testing.T) {
	fsNeedTools(t, "mkfs.ext4", "mkfs.xfs")
	first := fsImage(t, "first", 64<<20)
	second := fsExisting(t, "xfs", "data", "")
	before := [2]string{fsSum(t, first), fsSum(t, second)}
	s, r := fsRealStage(0)
	err := s.createFilesystems(context.Background(), []fsJob{
		fsJobFor(0, first, "ext4"),
		fsJobFor(1, second, "ext4"),
	})
	want := "storage.filesystems.1 (" + second + `): the device has xfs (label "data"`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error = %v, want %q", err, want)
	}
	if w := r.writes(); len(w) != 0 {
		t.Errorf("commands ran: %q", w)
	}
	if after := [2]string{fsSum(t, first), fsSum(t, second)}; after != before {
		t.Error("an image changed")
	}
}

// TestFSParallelReal makes the four formats at once, for real.
func TestFSParallelReal(t *testing.T) {
	fsNeedTools(t, "mkfs.ext4", "mkfs.xfs", "mkfs.btrfs", "mkfs.vfat")
	var jobs []fsJob
	for i, format := range []string{"ext4", "xfs", "btrfs", "vfat"} {
		jobs = append(jobs, fsJobFor(i, fsImage(t, format, fsImageSize[format]), format, fsOptLabel("p"+format)))
	}
	s, _ := fsRealStage(4)
	if err := s.createFilesystems(context.Background(), jobs); err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		if got := fsBlkid(t, j.device); got["TYPE"] != deref(j.fs.Format) || got["LABEL"] != deref(j.fs.Label) {
			t.Errorf("%s: blkid = %v", j.entry, got)
		}
	}
}

// BenchmarkCreateFilesystems makes ext4, xfs, btrfs and vfat on four
// image files, one after another and all at once.
func BenchmarkCreateFilesystems(b *testing.B) {
	fsNeedTools(b, "mkfs.ext4", "mkfs.xfs", "mkfs.btrfs", "mkfs.vfat")
	formats := []string{"ext4", "xfs", "btrfs", "vfat"}
	for _, bench := range []struct {
		name     string
		parallel int
	}{{"serial", 1}, {"parallel", 4}} {
		b.Run(bench.name, func(b *testing.B) {
			var jobs []fsJob
			for i, format := range formats {
				jobs = append(jobs, fsJobFor(i, fsImage(b, format, fsImageSize[format]), format))
			}
			s := &stage{cfg: &types.Config{}, e: Env{Parallel: bench.parallel}, cmd: command.Exec{}, log: log.Discard(), devices: map[string]string{}}
			for range b.N {
				b.StopTimer()
				// Start each round from empty images.
				for _, j := range jobs {
					if err := os.Truncate(j.device, 0); err != nil {
						b.Fatal(err)
					}
					if err := os.Truncate(j.device, fsImageSize[deref(j.fs.Format)]); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				if err := s.createFilesystems(context.Background(), jobs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
