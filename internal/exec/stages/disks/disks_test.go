package disks

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ignition-go/ignition/config/types"
	"github.com/ignition-go/ignition/internal/log"
)

// fakeBlkid answers "blkid -c /dev/null -o device -t TAG=value" from a
// table and records every command; anything else fails the test.
type fakeBlkid struct {
	mu    sync.Mutex
	tags  map[string]string // "PARTLABEL=root" → "/dev/loop3p1\n"
	calls [][]string
	t     *testing.T
}

func (f *fakeBlkid) Run(ctx context.Context, argv []string) error {
	_, err := f.Output(ctx, argv)
	return err
}

func (f *fakeBlkid) Output(_ context.Context, argv []string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, argv)
	if len(argv) != 7 || argv[0] != "blkid" || argv[5] != "-t" {
		f.t.Errorf("unexpected command %q", argv)
		return nil, errors.New("unexpected")
	}
	out, ok := f.tags[argv[6]]
	if !ok {
		return nil, errors.New("blkid: exit status 2")
	}
	return []byte(out), nil
}

// someBlockDevice returns a block device node of this machine (one need
// not be attached to anything for os.Stat), or skips.
func someBlockDevice(t *testing.T) string {
	for _, p := range []string{"/dev/loop0", "/dev/vda", "/dev/sda", "/dev/nvme0n1"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode()&os.ModeDevice != 0 && fi.Mode()&os.ModeCharDevice == 0 {
			return p
		}
	}
	t.Skip("no block device node on this machine")
	return ""
}

func newTestStage(t *testing.T, cmd *fakeBlkid, timeout time.Duration) (*stage, *bytes.Buffer) {
	var buf bytes.Buffer
	return &stage{
		cfg:     &types.Config{},
		e:       Env{DeviceTimeout: timeout},
		cmd:     cmd,
		log:     log.NewWithSink(log.NewWriterSink(&buf)),
		devices: map[string]string{},
	}, &buf
}

func TestDeviceResolution(t *testing.T) {
	blk := someBlockDevice(t)
	dir := t.TempDir()
	link := filepath.Join(dir, "by-id-disk0")
	if err := os.Symlink(blk, link); err != nil {
		t.Fatal(err)
	}
	dangling := filepath.Join(dir, "later")
	if err := os.Symlink(filepath.Join(dir, "not-yet"), dangling); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		tags       map[string]string
		want       string // "" means an error containing wantErr
		wantErr    string
		alias      bool
	}{
		{name: "a device node is itself", path: blk, want: blk},
		{name: "a udev link is followed", path: link, want: blk, alias: true},
		{name: "no udev link: blkid finds the partition label", path: "/dev/disk/by-partlabel/root",
			tags: map[string]string{"PARTLABEL=root": "/dev/loop3p1\n"}, want: "/dev/loop3p1", alias: true},
		{name: "udev escapes are undone", path: `/dev/disk/by-label/a\x2fb\x20c`,
			tags: map[string]string{"LABEL=a/b c": "/dev/vdb\n"}, want: "/dev/vdb", alias: true},
		{name: "by-partuuid", path: "/dev/disk/by-partuuid/6c8f6c23-42e4-4e4c-8d43-b7e6d4c2e6e1",
			tags: map[string]string{"PARTUUID=6c8f6c23-42e4-4e4c-8d43-b7e6d4c2e6e1": "/dev/vdc2\n"}, want: "/dev/vdc2", alias: true},
		{name: "two devices with the label", path: "/dev/disk/by-label/data",
			tags: map[string]string{"LABEL=data": "/dev/vdb\n/dev/vdc\n"}, wantErr: "LABEL=data names 2 devices (/dev/vdb, /dev/vdc): the alias is ambiguous"},
		{name: "never appears", path: "/dev/disk/by-partlabel/missing", wantErr: "device /dev/disk/by-partlabel/missing did not appear within 150ms"},
		{name: "a dangling link never resolves", path: dangling, wantErr: "did not appear within 150ms"},
		{name: "not a block device: no waiting", path: "/dev/null", wantErr: "/dev/null is not a block device"},
		{name: "by-id needs udev: no blkid fallback", path: "/dev/disk/by-id/virtio-abc", wantErr: "no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeBlkid{tags: tc.tags, t: t}
			s, logs := newTestStage(t, f, 150*time.Millisecond)
			got, err := s.device(context.Background(), tc.path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("device(%q) = %q, %v; want an error with %q", tc.path, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("device(%q) = %q, %v; want %q", tc.path, got, err, tc.want)
			}
			wantMap := map[string]string{}
			if tc.alias {
				wantMap[tc.path] = tc.want
				if !strings.Contains(logs.String(), tc.path+" is "+tc.want) {
					t.Errorf("the alias was not logged:\n%s", logs)
				}
			}
			if !reflect.DeepEqual(s.devices, wantMap) {
				t.Errorf("devices = %v, want %v", s.devices, wantMap)
			}
			// Resolved once: a second lookup asks nothing of the host.
			n := len(f.calls)
			if again, err := s.device(context.Background(), tc.path); err != nil || again != got || len(f.calls) != n && tc.alias {
				t.Errorf("second lookup = %q, %v after %d more commands", again, err, len(f.calls)-n)
			}
		})
	}
}

// TestDeviceWaits: a device that appears while the stage waits is found.
func TestDeviceWaits(t *testing.T) {
	f := &fakeBlkid{t: t, tags: map[string]string{}}
	s, _ := newTestStage(t, f, 5*time.Second)
	go func() {
		time.Sleep(200 * time.Millisecond)
		f.mu.Lock()
		f.tags["PARTLABEL=late"] = "/dev/vdb9\n"
		f.mu.Unlock()
	}()
	start := time.Now()
	got, err := s.device(context.Background(), "/dev/disk/by-partlabel/late")
	if err != nil || got != "/dev/vdb9" {
		t.Fatalf("device = %q, %v", got, err)
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 3*time.Second {
		t.Errorf("took %v", d)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) < 2 {
		t.Errorf("asked blkid %d times; it should have polled", len(f.calls))
	}
}

// TestDeviceCancelled: a cancelled context ends the wait at once, with
// the context's error rather than a timeout.
func TestDeviceCancelled(t *testing.T) {
	s, _ := newTestStage(t, &fakeBlkid{t: t}, time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := s.device(ctx, "/dev/disk/by-label/never")
	if err == nil || strings.Contains(err.Error(), "did not appear within 1h") {
		t.Fatalf("err = %v", err)
	}
}

func TestNothingToDo(t *testing.T) {
	virtiofs, none, ext4 := "virtiofs", "none", "ext4"
	for _, tc := range []struct {
		name string
		st   types.Storage
		work bool
	}{
		{"empty", types.Storage{}, false},
		{"files only", types.Storage{Files: []types.File{{Node: types.Node{Path: "/etc/x"}}}}, false},
		{"a virtiofs share", types.Storage{Filesystems: []types.Filesystem{{Device: "share", Format: &virtiofs}}}, false},
		{"no format: mount only", types.Storage{Filesystems: []types.Filesystem{{Device: "/dev/vdb"}}}, false},
		{"none still checks the device is empty", types.Storage{Filesystems: []types.Filesystem{{Device: "/dev/vdb", Format: &none}}}, true},
		{"ext4", types.Storage{Filesystems: []types.Filesystem{{Device: "/dev/vdb", Format: &ext4}}}, true},
		{"a disk", types.Storage{Disks: []types.Disk{{Device: "/dev/vdb"}}}, true},
		{"raid", types.Storage{Raid: []types.Raid{{Name: "md0"}}}, true},
		{"luks", types.Storage{Luks: []types.Luks{{Name: "data"}}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			f := &fakeBlkid{t: t}
			res, err := Run(context.Background(), types.Config{Storage: tc.st},
				Env{Commands: f, Log: log.NewWithSink(log.NewWriterSink(&buf)), DeviceTimeout: 50 * time.Millisecond})
			if !tc.work {
				if err != nil || res.Devices != nil || !strings.Contains(buf.String(), "nothing to do") || len(f.calls) != 0 {
					t.Fatalf("Run = %v, %v, commands %q\n%s", res, err, f.calls, buf.String())
				}
				return
			}
			// Work to do on devices that do not exist: the stage looks
			// for them, and fails naming the entry.
			if err == nil || !strings.Contains(err.Error(), "storage.") || strings.Contains(buf.String(), "nothing to do") {
				t.Fatalf("Run = %v, %v\n%s", res, err, buf.String())
			}
		})
	}
}

func TestUnescapeUdev(t *testing.T) {
	for in, want := range map[string]string{
		"root":                "root",
		`a\x2fb`:              "a/b",
		`EFI\x20System`:       "EFI System",
		`trailing\x2`:         `trailing\x2`,
		`bad\xzz`:             `bad\xzz`,
		`\x5c\x5c`:            `\\`,
		"data-7e4c-4f3b-a1a2": "data-7e4c-4f3b-a1a2",
	} {
		if got := unescapeUdev(in); got != want {
			t.Errorf("unescapeUdev(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSameDiskTwice: two entries that resolve to one disk (a node and a
// link to it) are refused before any table is read or written.
func TestSameDiskTwice(t *testing.T) {
	blk := someBlockDevice(t)
	link := filepath.Join(t.TempDir(), "alias")
	if err := os.Symlink(blk, link); err != nil {
		t.Fatal(err)
	}
	f := &fakeBlkid{t: t}
	_, err := Run(context.Background(), types.Config{Storage: types.Storage{Disks: []types.Disk{{Device: blk}, {Device: link}}}},
		Env{Commands: f, DeviceTimeout: time.Second})
	want := "storage.disks.1 (" + link + ") and storage.disks.0 name the same disk, " + blk
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
	if len(f.calls) != 0 {
		t.Errorf("commands ran: %q", f.calls)
	}
}
