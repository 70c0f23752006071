package mount

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ignition-go/ignition/config/types"
	"github.com/ignition-go/ignition/internal/log"
)

// recorder records every command and fails those whose last argument is
// in fail.
type recorder struct {
	argv [][]string
	fail map[string]bool
	// dirs records, at each command, whether its last argument existed.
	dirs []bool
}

func (r *recorder) Run(_ context.Context, argv []string) error {
	r.argv = append(r.argv, argv)
	_, err := os.Stat(argv[len(argv)-1])
	r.dirs = append(r.dirs, err == nil)
	if r.fail[argv[len(argv)-1]] {
		return errors.New("exit status 32")
	}
	return nil
}

func str(s string) *string { return &s }

func fsys(device, format, path string, opts ...string) types.Filesystem {
	f := types.Filesystem{Device: device, MountOptions: opts}
	if format != "" {
		f.Format = str(format)
	}
	if path != "" {
		f.Path = str(path)
	}
	return f
}

func testConfig() types.Config {
	var c types.Config
	c.Storage.Filesystems = []types.Filesystem{
		fsys("/dev/vdb2", "xfs", "/var/log", "noatime"),   // 0
		fsys("/dev/vdb3", "swap", "/swap"),                // 1: skipped
		fsys("/dev/vdb1", "ext4", "/var", "ro", "noexec"), // 2
		fsys("/dev/vdc", "ext4", ""),                      // 3: no path
		fsys("/dev/vdd", "none", "/none"),                 // 4: skipped
		fsys("share", "virtiofs", "/srv/share"),           // 5
		fsys("/dev/vde", "btrfs", "/home/"),               // 6
	}
	return c
}

func TestMountOrderOptionsAndMountPoints(t *testing.T) {
	root := t.TempDir()
	rec := &recorder{}
	var logs bytes.Buffer
	err := Mount(context.Background(), testConfig(), Env{Root: root, Commands: rec, Log: log.NewWithSink(log.NewWriterSink(&logs))})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"mount", "-t", "ext4", "-o", "ro,noexec", "/dev/vdb1", filepath.Join(root, "var")},
		{"mount", "-t", "btrfs", "/dev/vde", filepath.Join(root, "home")},
		{"mount", "-t", "xfs", "-o", "noatime", "/dev/vdb2", filepath.Join(root, "var/log")},
		{"mount", "-t", "virtiofs", "share", filepath.Join(root, "srv/share")},
	}
	if !reflect.DeepEqual(rec.argv, want) {
		t.Errorf("commands:\n got %q\nwant %q", rec.argv, want)
	}
	for i, ok := range rec.dirs {
		if !ok {
			t.Errorf("mount point of %q did not exist when it was mounted", rec.argv[i])
		}
	}
	for _, p := range []string{"var/log", "srv/share", "home"} {
		fi, err := os.Stat(filepath.Join(root, p))
		if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o755 {
			t.Errorf("mount point %s: %v %v", p, fi, err)
		}
	}
	for _, p := range []string{"swap", "none"} {
		if _, err := os.Lstat(filepath.Join(root, p)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s was created for a filesystem that is not mounted: %v", p, err)
		}
	}
	if !strings.Contains(logs.String(), `[finished] mounting "/dev/vdb1" at "`+filepath.Join(root, "var")+`"`) {
		t.Errorf("log:\n%s", logs.String())
	}
}

func TestUmountReverseOrder(t *testing.T) {
	root := t.TempDir()
	rec := &recorder{}
	if err := Umount(context.Background(), testConfig(), Env{Root: root, Commands: rec, Mounted: allMounted}); err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"umount", filepath.Join(root, "srv/share")},
		{"umount", filepath.Join(root, "var/log")},
		{"umount", filepath.Join(root, "home")},
		{"umount", filepath.Join(root, "var")},
	}
	if !reflect.DeepEqual(rec.argv, want) {
		t.Errorf("commands:\n got %q\nwant %q", rec.argv, want)
	}
}

func TestMountFailureNamesEntry(t *testing.T) {
	root := t.TempDir()
	rec := &recorder{fail: map[string]bool{filepath.Join(root, "home"): true}}
	err := Mount(context.Background(), testConfig(), Env{Root: root, Commands: rec})
	if err == nil {
		t.Fatal("no error")
	}
	for _, s := range []string{"storage.filesystems.6", "/dev/vde", "exit status 32"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
	if len(rec.argv) != 2 {
		t.Errorf("mounting went on after a failure: %q", rec.argv)
	}
}

func TestUmountTriesEveryFilesystem(t *testing.T) {
	root := t.TempDir()
	rec := &recorder{fail: map[string]bool{filepath.Join(root, "var/log"): true, filepath.Join(root, "var"): true}}
	err := Umount(context.Background(), testConfig(), Env{Root: root, Commands: rec, Mounted: allMounted})
	if err == nil {
		t.Fatal("no error")
	}
	if len(rec.argv) != 4 {
		t.Errorf("umount did not try every filesystem: %q", rec.argv)
	}
	for _, s := range []string{"storage.filesystems.0 (/dev/vdb2)", "storage.filesystems.2 (/dev/vdb1)"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
	if strings.Contains(err.Error(), "storage.filesystems.6") {
		t.Errorf("error %q names a filesystem that unmounted", err)
	}
}

func TestMountPointThroughSymlinkStaysInRoot(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(root, "var")); err != nil {
		t.Fatal(err)
	}
	var c types.Config
	c.Storage.Filesystems = []types.Filesystem{fsys("/dev/vdb2", "xfs", "/var/log")}
	rec := &recorder{}
	err := Mount(context.Background(), c, Env{Root: root, Commands: rec})
	if err == nil {
		t.Fatal("mount point created through a symlink leading out of the root")
	}
	if !strings.Contains(err.Error(), "storage.filesystems.0 (/dev/vdb2)") {
		t.Errorf("error %q does not name the entry", err)
	}
	if len(rec.argv) != 0 {
		t.Errorf("mounted anyway: %q", rec.argv)
	}
	if _, err := os.Stat(filepath.Join(outside, "log")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("created outside the root: %v", err)
	}
}

func TestNothingToMount(t *testing.T) {
	rec := &recorder{}
	var c types.Config
	c.Storage.Filesystems = []types.Filesystem{fsys("/dev/vdc", "swap", "")}
	for _, f := range []func(context.Context, types.Config, Env) error{Mount, Umount} {
		if err := f(context.Background(), c, Env{Root: t.TempDir(), Commands: rec, Mounted: allMounted}); err != nil {
			t.Fatal(err)
		}
	}
	if len(rec.argv) != 0 {
		t.Errorf("ran %q", rec.argv)
	}
}

// allMounted stands in for /proc/self/mountinfo when the recorder only
// pretends to mount.
func allMounted(string) (bool, error) { return true, nil }

// TestUmountSkipsWhatIsNotMounted: at shutdown systemd may have unmounted
// a filesystem before the umount stage gets to it; that is not a failure.
func TestUmountSkipsWhatIsNotMounted(t *testing.T) {
	root := t.TempDir()
	rec := &recorder{}
	var logs bytes.Buffer
	gone := filepath.Join(root, "var/log")
	err := Umount(context.Background(), testConfig(), Env{Root: root, Commands: rec, Log: log.NewWithSink(log.NewWriterSink(&logs)),
		Mounted: func(p string) (bool, error) { return p != gone, nil }})
	if err != nil {
		t.Fatal(err)
	}
	for _, argv := range rec.argv {
		if argv[len(argv)-1] == gone {
			t.Errorf("ran %q on what is not mounted", argv)
		}
	}
	if len(rec.argv) != 3 || !strings.Contains(logs.String(), "is not mounted (any more)") {
		t.Errorf("commands %q\n%s", rec.argv, logs.String())
	}
}

func TestInMountinfo(t *testing.T) {
	info := `22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
35 22 0:31 / /sysroot/var\040data rw - xfs /dev/vdb1 rw
36 22 0:32 / /sysroot/srv rw - ext4 /dev/vdb2 rw
`
	for path, want := range map[string]bool{"/": true, "/sysroot/var data": true, "/sysroot/srv": true, "/sysroot": false, "/sysroot/var": false} {
		if got := inMountinfo(info, path); got != want {
			t.Errorf("inMountinfo(%q) = %v, want %v", path, got, want)
		}
	}
	// The real file lists / at least.
	if ok, err := mountedFromMountinfo("/"); err != nil || !ok {
		t.Errorf("mountedFromMountinfo(/) = %v, %v", ok, err)
	}
}
