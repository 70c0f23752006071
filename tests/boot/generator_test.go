package boot

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// runGenerator runs the generator on a fake kernel command line in a
// private mount namespace: the fake file is bound over /proc/cmdline and a
// fresh tmpfs over /run, so the host sees neither. It returns the units
// the generator made wanted ("initrd.target.wants/x.target") and
// /run/ignition.env.
func runGenerator(t *testing.T, cmdline string) (wants []string, env string) {
	t.Helper()
	dir := t.TempDir()
	fake := filepath.Join(dir, "cmdline")
	if err := os.WriteFile(fake, []byte(cmdline+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "normal")
	gen, err := filepath.Abs(filepath.Join(moduleDir, "ignition-generator"))
	if err != nil {
		t.Fatal(err)
	}
	script := `set -e
mount --bind "$1" /proc/cmdline
mount -t tmpfs tmpfs /run
"$2" "$3" "$3.early" "$3.late"
cat /run/ignition.env`
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", fake, gen, out)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	envOut, err := cmd.Output()
	if err != nil {
		t.Fatalf("generator on %q: %v: %s", cmdline, err, stderr.String())
	}
	err = filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&os.ModeSymlink != 0 {
			rel, _ := filepath.Rel(out, p)
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if want := "/usr/lib/systemd/system/" + filepath.Base(p); target != want {
				t.Errorf("%s -> %s, want -> %s", rel, target, want)
			}
			wants = append(wants, rel)
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	slices.Sort(wants)
	return wants, string(envOut)
}

func TestGenerator(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the generator reads /proc/cmdline and writes /run, faked with bind mounts in a mount namespace")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare is not installed (package util-linux)")
	}
	const (
		complete   = "initrd.target.wants/ignition-complete.target"
		diskful    = "initrd.target.wants/ignition-diskful.target"
		subsequent = "initrd.target.wants/ignition-subsequent.target"
	)
	for _, tc := range []struct {
		name, cmdline string
		wants         []string
		env           string
	}{
		{"first boot", "BOOT_IMAGE=/vmlinuz root=LABEL=root ignition.firstboot ignition.platform.id=qemu console=ttyS0",
			[]string{complete, diskful}, "PLATFORM_ID=qemu\n"},
		{"first boot =1", "root=/dev/vda1 ignition.firstboot=1 ignition.platform.id=metal",
			[]string{complete, diskful}, "PLATFORM_ID=metal\n"},
		{"live image", "ignition.firstboot ignition.platform.id=metal coreos.liveiso=x",
			[]string{complete}, "PLATFORM_ID=metal\n"},
		{"subsequent boot", "root=LABEL=root ignition.platform.id=aws",
			[]string{subsequent}, "PLATFORM_ID=aws\n"},
		{"firstboot=0", "root=LABEL=root ignition.firstboot=0 ignition.platform.id=aws",
			[]string{subsequent}, "PLATFORM_ID=aws\n"},
		{"lookalike argument", "root=LABEL=root ignition.firstbootx ignition.platform.idx=y",
			[]string{subsequent}, "PLATFORM_ID=\n"},
		{"last platform wins", "ignition.platform.id=aws root=x ignition.firstboot ignition.platform.id=gcp",
			[]string{complete, diskful}, "PLATFORM_ID=gcp\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wants, env := runGenerator(t, tc.cmdline)
			if !slices.Equal(wants, tc.wants) {
				t.Errorf("wanted units %q, want %q", wants, tc.wants)
			}
			if env != tc.env {
				t.Errorf("/run/ignition.env = %q, want %q", env, tc.env)
			}
		})
	}
}
