// Package boot tests the initramfs integration in dracut/30ignition: the
// generator and the units on the host, and the whole module in a QEMU
// boot of a dracut-built systemd initramfs (boot_test.go).
package boot

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// moduleDir is the dracut module under test.
const moduleDir = "../../dracut/30ignition"

// stageUnits are the stage services in the order they must run.
var stageUnits = []string{
	"ignition-fetch-offline.service",
	"ignition-fetch.service",
	"ignition-kargs.service",
	"ignition-disks.service",
	"ignition-mount.service",
	"ignition-files.service",
}

// unit is a parsed unit file: section -> key -> values in order. Values
// of list keys (After=, Requires=) are split into words.
type unit map[string]map[string][]string

func parseUnit(t *testing.T, name string) unit {
	t.Helper()
	f, err := os.Open(filepath.Join(moduleDir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unit{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s: malformed line %q", name, line)
			}
			switch k {
			case "After", "Before", "Requires", "Wants", "Conflicts":
				u[section][k] = append(u[section][k], strings.Fields(v)...)
			default:
				u[section][k] = append(u[section][k], v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return u
}

func (u unit) has(section, key, value string) bool {
	return slices.Contains(u[section][key], value)
}

// TestStageUnits checks what keeps a failed or misordered stage from
// provisioning half a machine: every stage is a oneshot that isolates
// emergency.target on failure, runs only in the initramfs, reads the
// platform from the generator's env file, and is ordered after the stage
// before it (by either side's After=/Before=).
func TestStageUnits(t *testing.T) {
	units := map[string]unit{}
	for _, name := range stageUnits {
		units[name] = parseUnit(t, name)
	}
	ordered := func(a, b string) bool {
		return units[a].has("Unit", "Before", b) || units[b].has("Unit", "After", a)
	}
	for i, name := range stageUnits {
		u := units[name]
		for _, c := range []struct{ section, key, value string }{
			{"Unit", "OnFailure", "emergency.target"},
			{"Unit", "OnFailureJobMode", "isolate"},
			{"Unit", "ConditionPathExists", "/etc/initrd-release"},
			{"Unit", "DefaultDependencies", "no"},
			{"Unit", "Before", "ignition-complete.target"},
			{"Service", "Type", "oneshot"},
			{"Service", "EnvironmentFile", "/run/ignition.env"},
		} {
			if !u.has(c.section, c.key, c.value) {
				t.Errorf("%s: no %s=%s in [%s]", name, c.key, c.value, c.section)
			}
		}
		stage := strings.TrimSuffix(strings.TrimPrefix(name, "ignition-"), ".service")
		exec := strings.Join(u["Service"]["ExecStart"], "\n")
		for _, want := range []string{"/usr/bin/ignition ", "-platform=${PLATFORM_ID}", "-stage=" + stage + " ", "$IGNITION_ARGS"} {
			if !strings.Contains(exec, want) {
				t.Errorf("%s: ExecStart %q lacks %q", name, exec, want)
			}
		}
		for _, later := range stageUnits[i+1:] {
			if ordered(later, name) {
				t.Errorf("%s is ordered before %s, which comes earlier", later, name)
			}
		}
		if i > 0 && !ordered(stageUnits[i-1], name) {
			t.Errorf("%s is not ordered after %s", name, stageUnits[i-1])
		}
	}
	disks, files, mount := units["ignition-disks.service"], units["ignition-files.service"], units["ignition-mount.service"]
	if !disks.has("Unit", "Before", "sysroot.mount") {
		t.Error("ignition-disks.service: not Before=sysroot.mount (it may create the root filesystem)")
	}
	if !files.has("Unit", "Before", "initrd-parse-etc.service") {
		t.Error("ignition-files.service: not Before=initrd-parse-etc.service (it may write /etc/fstab)")
	}
	if !strings.Contains(strings.Join(mount["Service"]["ExecStop"], ""), "-stage=umount") {
		t.Error("ignition-mount.service: stopping it does not run the umount stage")
	}
	fetch := units["ignition-fetch.service"]
	if !fetch.has("Unit", "ConditionPathExists", "/run/ignition/neednet") {
		t.Error("ignition-fetch.service: runs without the neednet flag")
	}
	if fetch.has("Unit", "Wants", "network-online.target") || fetch.has("Unit", "Requires", "network-online.target") {
		t.Error("ignition-fetch.service pulls in network-online.target on every boot, even when no config needs it")
	}
}

// TestUnitsVerify runs systemd-analyze verify on the module's units in a
// root holding the host's units, the module's, and what the initramfs
// adds (sysroot.mount comes from root= there), so that a typo in a key
// or a unit name is an error.
func TestUnitsVerify(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (package systemd)")
	}
	hostUnits := "/usr/lib/systemd/system"
	if _, err := os.Stat(filepath.Join(hostUnits, "initrd.target")); err != nil {
		t.Skipf("the host's systemd units are not in %s: %v", hostUnits, err)
	}
	root := t.TempDir()
	unitDir := filepath.Join(root, "usr/lib/systemd/system")
	if err := os.MkdirAll(unitDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", hostUnits+"/.", unitDir+"/").CombinedOutput(); err != nil {
		t.Fatalf("copying the host's units: %v: %s", err, out)
	}
	entries, err := os.ReadDir(moduleDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if strings.HasSuffix(n, ".service") || strings.HasSuffix(n, ".target") {
			data, err := os.ReadFile(filepath.Join(moduleDir, n))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(unitDir, n), data, 0o644); err != nil {
				t.Fatal(err)
			}
			names = append(names, n)
		}
	}
	files := map[string]string{
		"usr/lib/systemd/system/sysroot.mount": "[Mount]\nWhat=/dev/disk/by-label/root\nWhere=/sysroot\n",
		"etc/initrd-release":                   "",
	}
	for p, data := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// verify checks that each command exists and is executable in the
	// root; the programs' contents do not matter.
	for _, p := range []string{"usr/bin/ignition", "usr/bin/ignition-rmcfg", "bin/mount", "bin/sh"} {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte("#!/bin/true\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(sa, append([]string{"verify", "--root=" + root, "--man=no"}, names...)...)
	cmd.Dir = unitDir
	out, err := cmd.CombinedOutput()
	// verify exits 0 on some problems (an unknown key); any output is one.
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify %s: %v\n%s", strings.Join(names, " "), err, out)
	}
}
