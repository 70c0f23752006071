package exec

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ignition-go/ignition/internal/providers/drivetest"
)

// ignition.config.device + ignition.config.path: a config on a local
// filesystem found by label, read even in fetch-offline.
func TestCmdlineDevice(t *testing.T) {
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write([]byte(fileConfig("3.4.0", "/from-gzip=g")))
	w.Close()
	tests := []struct {
		name    string
		cmdline string
		files   map[string]string // on the drive labelled IGNCONFIG; nil: no drive
		late    int               // blkid lookups that miss it first
		want    string            // the one file of the config
		errText string
	}{
		{name: "device and path", cmdline: "ignition.config.device=IGNCONFIG ignition.config.path=/ignition/config.ign",
			files: map[string]string{"ignition/config.ign": fileConfig("3.4.0", "/from-device=d")}, want: "/from-device"},
		{name: "gzip", cmdline: "ignition.config.device=IGNCONFIG ignition.config.path=config.ign.gz",
			files: map[string]string{"config.ign.gz": gz.String()}, want: "/from-gzip"},
		{name: "late device", cmdline: "ignition.config.path=/c.ign ignition.config.device=IGNCONFIG",
			files: map[string]string{"c.ign": fileConfig("3.4.0", "/late=l")}, late: 2, want: "/late"},
		{name: "the URL wins", cmdline: "ignition.config.device=IGNCONFIG ignition.config.path=/c.ign ignition.config.url=" + dataURL(fileConfig("3.4.0", "/from-url=u")),
			files: map[string]string{"c.ign": fileConfig("3.4.0", "/from-device=d")}, want: "/from-url"},
		{name: "no device", cmdline: "ignition.config.device=IGNCONFIG ignition.config.path=/c.ign",
			errText: "ignition.config.device=IGNCONFIG ignition.config.path=/c.ign: no filesystem labelled IGNCONFIG appeared within 1s"},
		{name: "no file", cmdline: "ignition.config.device=IGNCONFIG ignition.config.path=/nonexistent.ign",
			files: map[string]string{"c.ign": "{}"}, errText: "config drive /dev/sdb1 has no /nonexistent.ign"},
		{name: "device without path", cmdline: "ignition.config.device=IGNCONFIG",
			files: map[string]string{"c.ign": "{}"}, errText: "has ignition.config.device=IGNCONFIG but no ignition.config.path"},
		{name: "path without device", cmdline: "ignition.config.path=/c.ign",
			errText: "has ignition.config.path=/c.ign but no ignition.config.device"},
		{name: "garbage", cmdline: "ignition.config.device=IGNCONFIG ignition.config.path=/c.ign",
			files: map[string]string{"c.ign": "{\n  \"ignition\": \n}"}, errText: "/c.ign on the filesystem labelled IGNCONFIG: config is not valid:\nerror at line 3 col 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHost(t)
			h.write(h.cmdline, "ro "+tt.cmdline+" quiet\n")
			// The provider must not be reached: its config would be used.
			h.write(h.configFile, fileConfig("3.4.0", "/from-provider=p"))
			r := &drivetest.Runner{}
			if tt.files != nil {
				r.Drives = []*drivetest.Drive{{Device: "/dev/sdb1", Label: "IGNCONFIG", Files: tt.files, AppearsAfter: tt.late}}
			}
			a := h.acquirer()
			a.Commands = r
			a.DeviceTimeout = time.Second
			cfg, err := a.Acquire(context.Background(), true) // offline: no network needed
			if tt.errText != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errText) {
					t.Fatalf("err = %v, want %q", err, tt.errText)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if got := paths(cfg); !reflect.DeepEqual(got, []string{tt.want}) {
					t.Errorf("files = %v, want only %s", got, tt.want)
				}
			}
			if m := r.Mounted(); len(m) != 0 {
				t.Errorf("left mounted: %v", m)
			}
		})
	}
}

func TestCmdlineArg(t *testing.T) {
	const c = `ro ignition.config.device=A "ignition.config.path=/x y" ignition.config.path="/b.ign" ignition.config.devicex=Z`
	if got := cmdlineArg(c, cmdlineDeviceKey); got != "A" {
		t.Errorf("device = %q", got)
	}
	if got := cmdlineArg(c, cmdlinePathKey); got != "/b.ign" {
		t.Errorf("path = %q", got)
	}
}

// The real thing: an ext4 filesystem with a label of its own on a loop
// device, found by blkid and mounted with mount, through the metal
// platform (which has nothing of its own).
func TestCmdlineDeviceLoop(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for loop devices and mount")
	}
	for _, tool := range []string{"mkfs.ext4", "losetup", "blkid", "mount", "umount", "truncate"} {
		if _, err := osexec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	run := func(name string, args ...string) string {
		t.Helper()
		out, err := osexec.Command(name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v: %s", name, args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	label := fmt.Sprintf("ign%d", time.Now().UnixNano()%1e9) // ext4 labels hold 16 bytes
	h := newHost(t)
	src := filepath.Join(h.root, "src")
	h.write(filepath.Join(src, "boot", "config.ign"), fileConfig("3.4.0", "/from-usb=u"))
	img := filepath.Join(h.root, "usb.img")
	run("truncate", "-s", "8M", img)
	run("mkfs.ext4", "-q", "-L", label, "-d", src, img)
	dev := run("losetup", "-f", "--show", img)
	t.Cleanup(func() {
		if out, err := osexec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
			t.Errorf("losetup -d %s: %v: %s", dev, err, out)
		}
	})

	h.write(h.cmdline, "ignition.config.device="+label+" ignition.config.path=/boot/config.ign\n")
	a := h.acquirer()
	a.Platform = "metal"
	cfg, err := a.Acquire(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	if got := paths(cfg); !reflect.DeepEqual(got, []string{"/from-usb"}) {
		t.Errorf("files = %v", got)
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mounts), " "+dev+" ") {
		t.Errorf("%s is still mounted", dev)
	}

	// Without the kernel arguments, metal has no config: base configs only.
	h.write(h.cmdline, "ro quiet\n")
	if _, err := a.Acquire(context.Background(), true); err != nil {
		t.Fatalf("metal without a config: %v", err)
	}
}
