package qemu

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/ignition-go/ignition/tests/vm"
)

// goBuild builds a static binary of pkg into dir.
func goBuild(t *testing.T, dir, name, pkg string) string {
	t.Helper()
	out := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

var (
	largeRE   = regexp.MustCompile(`FWCFG-LARGE bytes=(\d+) ns=(\d+) sha256=([0-9a-f]+)`)
	chunkedRE = regexp.MustCompile(`FWCFG-CHUNKED bytes=(\d+) ns=(\d+)`)
)

// TestFwCfgInVM boots a QEMU machine given a config with -fw_cfg, runs the
// real binary's fetch-offline stage on the platform "qemu" in it (real
// qemu_fw_cfg sysfs file, real provider, real engine) and checks the
// config cache. It then times reading the entry through sysfs, ours
// against 4 KiB reads each from a fresh open and seek.
func TestFwCfgInVM(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a QEMU machine")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command to build the guest's binaries")
	}
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Skip("needs qemu-system-x86_64")
	}
	dir := t.TempDir()
	ignition := goBuild(t, dir, "ignition", "github.com/ignition-go/ignition/cmd/ignition")
	reader := goBuild(t, dir, "fwcfgread", "./testdata/fwcfgread")

	// A valid config of about 512 KiB (or of $FWCFG_VM_BLOB_KIB KiB of
	// data, base64-encoded, for a one-off measurement): one file with
	// inline contents.
	blobKiB := 380
	if v, err := strconv.Atoi(os.Getenv("FWCFG_VM_BLOB_KIB")); err == nil && v > 0 {
		blobKiB = v
	}
	blob := make([]byte, blobKiB<<10)
	for i := range blob {
		blob[i] = byte(i * 7 % 251)
	}
	cfg := fmt.Sprintf(`{"ignition": {"version": "3.4.0"}, "storage": {"files": [{"path": "/big", "contents": {"source": "data:;base64,%s"}}]}}`,
		base64.StdEncoding.EncodeToString(blob))
	cfgFile := filepath.Join(dir, "config.ign")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	// The harness has no option for extra QEMU arguments: a wrapper adds
	// the fw_cfg entry, as a user of the platform would.
	wrapper := filepath.Join(dir, "qemu")
	script := fmt.Sprintf("#!/bin/sh\nexec %s \"$@\" -fw_cfg name=opt/com.coreos/config,file=%s\n", qemu, cfgFile)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("VMTEST_QEMU", wrapper)

	res := (&vm.Machine{
		Modules: []string{"qemu_fw_cfg"},
		Files: map[string]vm.File{
			"/bin/ignition":  {Src: ignition, Mode: 0o755},
			"/bin/fwcfgread": {Src: reader, Mode: 0o755},
		},
		Script: `
ignition -platform qemu -stage fetch-offline -log-to-stdout -config-cache /tmp/cache.json -neednet /tmp/neednet -state-file /tmp/state
test -s /tmp/cache.json
grep -q '"path":"/big"' /tmp/cache.json
test ! -e /tmp/neednet
cat /sys/firmware/qemu_fw_cfg/by_name/opt/com.coreos/config/size
fwcfgread -limit 20m /sys/firmware/qemu_fw_cfg/by_name/opt/com.coreos/config/raw
`,
		Timeout: 45 * time.Minute,
	}).MustPass(t)

	m := largeRE.FindStringSubmatch(res.Serial)
	c := chunkedRE.FindStringSubmatch(res.Serial)
	if m == nil || c == nil {
		t.Fatalf("no timings in the console:\n%s", res.Tail(30))
	}
	if m[1] != strconv.Itoa(len(cfg)) || m[3] != fmt.Sprintf("%x", sha256.Sum256([]byte(cfg))) {
		t.Errorf("ReadLarge read %s bytes (sha256 %s) of a %d-byte config", m[1], m[3], len(cfg))
	}
	largeNs, _ := strconv.ParseFloat(m[2], 64)
	chunkBytes, _ := strconv.ParseFloat(c[1], 64)
	chunkNs, _ := strconv.ParseFloat(c[2], 64)
	t.Logf("fw_cfg sysfs, %d-byte config, under TCG: ReadLarge %.2f s; 4 KiB reads with re-open and seek: %.0f bytes in %.2f s",
		len(cfg), largeNs/1e9, chunkBytes, chunkNs/1e9)
}
