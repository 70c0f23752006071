package providers

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ignition-go/ignition/internal/log"
	"github.com/ignition-go/ignition/internal/providers/drivetest"
)

func driveHost(r *drivetest.Runner) Host {
	h := Host{Log: log.Discard(), Getenv: func(string) (string, bool) { return "", false }}
	if r != nil {
		h.Commands = r
	}
	return h
}

func TestFindDrive(t *testing.T) {
	upper := &drivetest.Drive{Device: "/dev/sr0", Label: "CONFIG-2"}
	lower := &drivetest.Drive{Device: "/dev/vdb", Label: "config-2"}
	for _, tc := range []struct {
		name   string
		drives []*drivetest.Drive
		want   string
	}{
		{"first label wins", []*drivetest.Drive{upper, lower}, "/dev/vdb"},
		{"second label", []*drivetest.Drive{upper}, "/dev/sr0"},
		{"none", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &drivetest.Runner{Drives: tc.drives}
			got, err := FindDrive(context.Background(), driveHost(r), "config-2", "CONFIG-2")
			if tc.want == "" {
				if !errors.Is(err, ErrNoDrive) || !strings.Contains(err.Error(), "config-2 or CONFIG-2") {
					t.Fatalf("= %q, %v; want ErrNoDrive naming both labels", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("= %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// blkid failing for any reason but "no match" must not read as "no
// drive", which would provision the machine without its config.
func TestFindDriveBlkidFails(t *testing.T) {
	for _, fail := range []error{drivetest.ExitStatus(4), errors.New(`exec: "blkid": executable file not found in $PATH`)} {
		r := &drivetest.Runner{BlkidErr: fail}
		_, err := FindDrive(context.Background(), driveHost(r), "cidata")
		if err == nil || errors.Is(err, ErrNoDrive) || !errors.Is(err, fail) || !strings.Contains(err.Error(), "labelled cidata") {
			t.Errorf("blkid failing with %v: err = %v", fail, err)
		}
	}
}

func TestReadFromDrive(t *testing.T) {
	drive := &drivetest.Drive{Device: "/dev/vdb", Label: "config-2", Files: map[string]string{
		"openstack/latest/user_data": `{"ignition": {"version": "3.4.0"}}`,
	}}
	for _, tc := range []struct {
		name    string
		path    string
		drives  []*drivetest.Drive
		want    string
		is      error
		errText string
	}{
		{name: "file", path: "openstack/latest/user_data", drives: []*drivetest.Drive{drive}, want: drive.Files["openstack/latest/user_data"]},
		{name: "leading slash", path: "/openstack/latest/user_data", drives: []*drivetest.Drive{drive}, want: drive.Files["openstack/latest/user_data"]},
		{name: "no file", path: "openstack/latest/vendor_data", drives: []*drivetest.Drive{drive}, is: fs.ErrNotExist, errText: "config drive /dev/vdb has no openstack/latest/vendor_data"},
		{name: "no drive", path: "openstack/latest/user_data", is: ErrNoDrive},
		{name: "outside the drive", path: "../../etc/passwd", drives: []*drivetest.Drive{drive}, errText: "config drive /dev/vdb"},
		{name: "mount fails", path: "x", drives: []*drivetest.Drive{{Device: "/dev/sr0", Label: "config-2", MountErr: errors.New("mount: wrong fs type")}}, errText: "mounting config drive /dev/sr0: mount: wrong fs type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &drivetest.Runner{Drives: tc.drives}
			got, err := ReadFromDrive(context.Background(), driveHost(r), tc.path, "config-2")
			if tc.want != "" {
				if err != nil || string(got) != tc.want {
					t.Fatalf("= %q, %v; want %q", got, err, tc.want)
				}
			} else {
				if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) || !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("err = %v, want %v / %q", err, tc.is, tc.errText)
				}
			}
			if m := r.Mounted(); len(m) != 0 {
				t.Errorf("left mounted: %v", m)
			}
			for _, c := range r.Calls() {
				if c[0] == "mount" {
					if _, err := os.Stat(c[len(c)-1]); !errors.Is(err, fs.ErrNotExist) {
						t.Errorf("mount point %s left behind: %v", c[len(c)-1], err)
					}
				}
			}
		})
	}
}

// The real thing: blkid finds an ext4 filesystem labelled config-2 on a
// loop device, mount and umount run for real, and nothing is left behind.
func TestReadFromDriveLoop(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for loop devices and mount")
	}
	for _, tool := range []string{"mkfs.ext4", "losetup", "blkid", "mount", "umount"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	const cfg = `{"ignition": {"version": "3.4.0"}}`
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(filepath.Join(src, "openstack", "latest"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "openstack", "latest", "user_data"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "drive.img")
	run := func(name string, args ...string) string {
		t.Helper()
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v: %s", name, args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	run("truncate", "-s", "8M", img)
	run("mkfs.ext4", "-q", "-L", "config-2", "-d", src, img)
	dev := run("losetup", "-f", "--show", img)
	t.Cleanup(func() {
		if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
			t.Errorf("losetup -d %s: %v: %s", dev, err, out)
		}
	})
	// Another config-2 drive on this machine (another test's) would be
	// as good an answer as ours, so the test cannot tell them apart.
	if devs := strings.Fields(run("blkid", "-c", "/dev/null", "-o", "device", "-t", "LABEL=config-2")); len(devs) != 1 || devs[0] != dev {
		t.Skipf("blkid finds config-2 on %v, not only on our %s", devs, dev)
	}

	got, err := ReadFromDrive(context.Background(), driveHost(nil), "openstack/latest/user_data", "CONFIG-2", "config-2")
	if err != nil || string(got) != cfg {
		t.Fatalf("= %q, %v; want %q", got, err, cfg)
	}
	_, err = ReadFromDrive(context.Background(), driveHost(nil), "openstack/latest/vendor_data", "config-2")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: err = %v, want ErrNotExist", err)
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mounts), " "+dev+" ") || strings.Contains(string(mounts), "ignition-drive-") {
		t.Errorf("the drive is still mounted:\n%s", mounts)
	}
	if left, _ := filepath.Glob(filepath.Join(os.TempDir(), "ignition-drive-*")); len(left) != 0 {
		t.Logf("ignition-drive-* dirs in %s (maybe another test's): %v", os.TempDir(), left)
	}
}

func TestUserDataFromDrive(t *testing.T) {
	const cfg = `{"ignition": {"version": "3.4.0"}}`
	for _, tc := range []struct {
		name    string
		files   map[string]string // nil: no drive
		want    string
		is      []error
		errText string
	}{
		{name: "plain", files: map[string]string{"user-data": cfg}, want: cfg},
		{name: "gzip", files: map[string]string{"user-data": string(gz(t, cfg))}, want: cfg},
		{name: "no drive", is: []error{ErrNoConfig, ErrNoDrive}},
		{name: "no file", files: map[string]string{"meta-data": "x"}, is: []error{ErrNoConfig, fs.ErrNotExist}},
		{name: "empty", files: map[string]string{"user-data": " \n"}, is: []error{ErrNoConfig}, errText: "user-data on the config drive labelled cidata or CIDATA is empty"},
		{name: "bad gzip", files: map[string]string{"user-data": "\x1f\x8bxx"}, errText: "user-data on the config drive labelled cidata or CIDATA: user data looks gzip-compressed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &drivetest.Runner{}
			if tc.files != nil {
				r.Drives = []*drivetest.Drive{{Device: "/dev/sr0", Label: "CIDATA", Files: tc.files}}
			}
			got, err := UserDataFromDrive(context.Background(), driveHost(r), "user-data", "cidata", "CIDATA")
			if tc.want != "" {
				if err != nil || string(got) != tc.want {
					t.Fatalf("= %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.errText) {
				t.Fatalf("err = %v, want %q", err, tc.errText)
			}
			for _, is := range tc.is {
				if !errors.Is(err, is) {
					t.Errorf("err = %v, not %v", err, is)
				}
			}
			if len(tc.is) == 0 && errors.Is(err, ErrNoConfig) {
				t.Errorf("err = %v is ErrNoConfig", err)
			}
		})
	}
}
