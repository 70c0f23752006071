package disks

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ignition-go/ignition/config/types"
)

// fsLoop attaches img to a loop device for the test.
func fsLoop(t *testing.T, img string) string {
	t.Helper()
	out, err := exec.Command("losetup", "-f", "--show", img).Output()
	if err != nil {
		t.Fatalf("losetup %s: %v", img, err)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() {
		if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
			t.Errorf("losetup -d %s: %v: %s", dev, err, out)
		}
	})
	return dev
}

// fsMount mounts dev and returns where; the test's cleanup unmounts it
// if the test has not.
func fsMount(t *testing.T, dev, format string) (dir string, unmount func()) {
	t.Helper()
	dir = t.TempDir()
	fsRun(t, "mount", "-t", format, dev, dir)
	mounted := true
	unmount = func() {
		if mounted {
			mounted = false
			if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
				t.Errorf("umount %s: %v: %s", dir, err, out)
			}
		}
	}
	t.Cleanup(unmount)
	return dir, unmount
}

// TestFSMountRoot makes ext4, xfs and btrfs on loop devices, mounts each
// and writes a file, then runs the same config again and checks the
// reused filesystem still has the file.
func TestFSMountRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to attach loop devices and mount")
	}
	fsNeedTools(t, "losetup", "mount", "umount")
	kernelFS, err := os.ReadFile("/proc/filesystems")
	if err != nil {
		t.Skipf("cannot tell which filesystems the kernel has: %v", err)
	}
	for _, format := range []string{"ext4", "xfs", "btrfs"} {
		t.Run(format, func(t *testing.T) {
			fsNeedTools(t, fsTools[format])
			if !strings.Contains(string(kernelFS), "\t"+format+"\n") {
				t.Skipf("the kernel has no %s", format)
			}
			dev := fsLoop(t, fsImage(t, format, fsImageSize[format]))
			jobs := []fsJob{fsJobFor(0, dev, format, fsOptLabel("test-"+format), fsOptUUID(fsUUID))}

			s, _ := fsRealStage(0)
			if err := s.createFilesystems(context.Background(), jobs); err != nil {
				t.Fatal(err)
			}
			dir, unmount := fsMount(t, dev, format)
			if err := os.WriteFile(filepath.Join(dir, "marker"), []byte("kept"), 0o644); err != nil {
				t.Fatal(err)
			}
			unmount()

			// The second time through the whole stage, as Ignition runs it.
			r := &fsRecorder{}
			cfg := types.Config{Storage: types.Storage{Filesystems: []types.Filesystem{jobs[0].fs}}}
			if _, err := Run(context.Background(), cfg, Env{Commands: r}); err != nil {
				t.Fatalf("second run: %v", err)
			}
			if w := r.writes(); len(w) != 0 {
				t.Errorf("second run wrote: %q", w)
			}
			dir, _ = fsMount(t, dev, format)
			if b, err := os.ReadFile(filepath.Join(dir, "marker")); err != nil || string(b) != "kept" {
				t.Errorf("marker after reuse: %q, %v", b, err)
			}
		})
	}
}
