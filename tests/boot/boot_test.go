package boot

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ignition-go/ignition/tests/vm"
)

// The boot test builds a systemd initramfs with Debian's dracut, our
// module and a test-only unit that powers the machine off once
// ignition-complete.target is reached, then boots it in QEMU (TCG) on a
// scratch disk holding a ROOT ext4 filesystem and free space, with the
// config on fw_cfg. The disk is inspected from the host with sgdisk and
// debugfs (no root or loop devices needed) and the serial console for the
// stages' order and timing. A second boot with a broken config must stop
// in emergency mode with a CRITICAL line and leave the disk alone.

const (
	rootStartSector = 2048 // ROOT starts 1 MiB into the disk
	rootSizeMiB     = 256
	diskSizeMiB     = 512
	bootTimeout     = 4 * time.Minute
)

// The kernel command line of both boots. ip=dhcp: systemd-network-generator
// turns it into a networkd config, used once the config asks for the
// network. systemd logs each unit's start and finish to the kernel log,
// whose timestamps on the console time the stages.
const appendArgs = "ignition.firstboot ignition.platform.id=qemu root=LABEL=root ip=dhcp " +
	"systemd.show_status=1 systemd.log_target=kmsg systemd.log_level=info printk.devkmsg=on panic=-1"

const poweroffArg = "boot.test.poweroff"

// rootInit is the scratch root's /sbin/init (busybox is static): after
// switch root it shows what is mounted, then powers off. systemd hands
// PID 1 over with stdio on /dev/null, hence /dev/console.
const rootInit = `#!/bin/busybox sh
exec >/dev/console 2>&1
/bin/busybox echo BOOT-TEST-SWITCHED-ROOT
/bin/busybox echo BOOT-TEST-MOUNTS-BEGIN
/bin/busybox cat /proc/self/mounts
/bin/busybox echo BOOT-TEST-MOUNTS-END
/bin/busybox sync
/bin/busybox poweroff -f
`

// poweroffUnit ends a first boot given the poweroffArg kernel argument
// once Ignition is done, without switching root. It first stops
// ignition-mount.service, as the way to switch root does, so that the
// umount stage runs: at poweroff systemd would unmount the config's
// filesystems itself, racing it. Before=initrd.target: initrd-switch-root
// must not start while the poweroff job is being queued.
const poweroffUnit = `[Unit]
Description=Power off after Ignition (boot test)
DefaultDependencies=no
ConditionKernelCommandLine=` + poweroffArg + `
After=ignition-complete.target
Before=initrd.target

[Service]
Type=oneshot
StandardOutput=journal+console
ExecStart=/bin/sh -c 'echo "BOOT-TEST-STATE $(cat ` + stateFile + `)"; systemctl stop ignition-mount.service; echo BOOT-TEST-IGNITION-COMPLETE; exec systemctl --no-block poweroff'
`

// stateFile is where the stages keep their shared state in the boot test:
// set through IGNITION_ARGS in a drop-in for every ignition-*.service, so
// that the state file shows each stage got the flags.
const stateFile = "/run/ignition/boot-test-state"

const argsDropIn = `[Service]
Environment=IGNITION_ARGS=-state-file=` + stateFile + `
`

func lookTools(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("%s is not installed: %v", n, err)
		}
	}
}

func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// buildInitramfs builds the ignition binary and a dracut initramfs with
// the module for the kernel the VM runner boots. dracut runs from a
// private base dir whose modules.d links the host's modules and ours, so
// nothing is installed on the host.
func buildInitramfs(t *testing.T, dir, kver string) string {
	t.Helper()
	lookTools(t, "dracut")
	const hostBase = "/usr/lib/dracut"
	// dracut copies systemd, udev and networkd from the host.
	for bin, pkg := range map[string]string{
		"/usr/lib/systemd/systemd":          "systemd",
		"/usr/lib/systemd/systemd-udevd":    "udev",
		"/usr/lib/systemd/systemd-networkd": "systemd",
	} {
		if _, err := os.Stat(bin); err != nil {
			t.Skipf("%s is missing (package %s): dracut builds the initramfs from the host's systemd", bin, pkg)
		}
	}
	for _, m := range []string{"00systemd", "01systemd-networkd", "98dracut-systemd"} {
		if _, err := os.Stat(filepath.Join(hostBase, "modules.d", m)); err != nil {
			t.Skipf("dracut module %s is missing (packages dracut-core, dracut-network): %v", m, err)
		}
	}
	ign := filepath.Join(dir, "ignition")
	run(t, []string{"CGO_ENABLED=0"}, "go", "build", "-trimpath",
		"-ldflags", "-X github.com/ignition-go/ignition/internal/version.Raw=boot-test",
		"-o", ign, "../../cmd/ignition")

	base := filepath.Join(dir, "dracut")
	if err := os.MkdirAll(filepath.Join(base, "modules.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	link := func(target, name string) {
		if err := os.Symlink(target, name); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(hostBase)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "modules.d" {
			link(filepath.Join(hostBase, e.Name()), filepath.Join(base, e.Name()))
		}
	}
	mods, err := os.ReadDir(filepath.Join(hostBase, "modules.d"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mods {
		src := filepath.Join(hostBase, "modules.d", m.Name())
		if m.Name() == "90kernel-network-modules" {
			src, err = filepath.Abs(filepath.Join("testdata", m.Name()))
			if err != nil {
				t.Fatal(err)
			}
		}
		link(src, filepath.Join(base, "modules.d", m.Name()))
	}
	ours, err := filepath.Abs(moduleDir)
	if err != nil {
		t.Fatal(err)
	}
	link(ours, filepath.Join(base, "modules.d", "30ignition"))

	overlay := filepath.Join(dir, "overlay")
	unitDir := filepath.Join(overlay, "usr/lib/systemd/system")
	if err := os.MkdirAll(filepath.Join(unitDir, "ignition-complete.target.wants"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(unitDir, "boot-test-poweroff.service"), []byte(poweroffUnit), 0o644); err != nil {
		t.Fatal(err)
	}
	link("../boot-test-poweroff.service", filepath.Join(unitDir, "ignition-complete.target.wants", "boot-test-poweroff.service"))
	// "ignition-.service.d" applies to every ignition-*.service.
	if err := os.MkdirAll(filepath.Join(unitDir, "ignition-.service.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(unitDir, "ignition-.service.d", "10-boot-test.conf"), []byte(argsDropIn), 0o644); err != nil {
		t.Fatal(err)
	}

	confDir := filepath.Join(dir, "dracut.conf.d")
	tmp := filepath.Join(dir, "dracut-tmp")
	for _, d := range []string{confDir, tmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	initrd := filepath.Join(dir, "initramfs.img")
	start := time.Now()
	run(t, []string{"dracutbasedir=" + base, "IGNITION_BINARY=" + ign},
		"dracut", "--conf", "/dev/null", "--confdir", confDir, "--tmpdir", tmp,
		"--no-hostonly", "--no-compress", "--force", "--kver", kver,
		// Only what a systemd initramfs with networking needs: the
		// default list takes minutes to build and boot under TCG.
		"--modules", "systemd systemd-initrd dracut-systemd udev-rules rootfs-block base fs-lib systemd-networkd ignition",
		"--drivers", "virtio_pci virtio_blk virtio_net ext4",
		"--include", overlay, "/",
		initrd)
	fi, err := os.Stat(initrd)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("dracut built a %.0f MiB initramfs in %v", float64(fi.Size())/(1<<20), time.Since(start).Round(time.Millisecond))
	return initrd
}

// makeDisk creates the scratch disk: a GPT with ROOT (ext4, label root,
// a minimal /etc for the shadow-utils) and free space after it.
func makeDisk(t *testing.T, dir string) string {
	t.Helper()
	seed := filepath.Join(dir, "rootseed")
	for p, data := range map[string]string{
		"etc/passwd":  "root:x:0:0:root:/root:/bin/sh\n",
		"etc/group":   "root:x:0:\n",
		"etc/shadow":  "root:*:19000:0:99999:7:::\n",
		"etc/gshadow": "root:*::\n",
		"home/.keep":  "",
		// systemd moves the API filesystems onto these when switching root.
		"proc/.keep": "", "sys/.keep": "", "dev/.keep": "", "run/.keep": "",
		"sbin/init": rootInit,
		// systemd switches root only into what looks like an OS tree.
		"etc/os-release": "ID=boottest\nNAME=\"Ignition boot test root\"\n",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(seed, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if p == "sbin/init" {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(seed, p), []byte(data), mode); err != nil {
			t.Fatal(err)
		}
	}
	bb, err := os.ReadFile(busybox(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(seed, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(seed, "bin/busybox"), bb, 0o755); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "disk.img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(diskSizeMiB << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	run(t, nil, "sgdisk", "-n", fmt.Sprintf("1:%d:+%dM", rootStartSector, rootSizeMiB), "-c", "1:ROOT", "-t", "1:8300", img)
	run(t, nil, "mkfs.ext4", "-q", "-F", "-L", "root", "-d", seed,
		"-E", fmt.Sprintf("offset=%d", rootStartSector*512), img, fmt.Sprintf("%dM", rootSizeMiB))
	return img
}

// busybox returns the host's busybox if it is statically linked: the
// scratch root has no libraries.
func busybox(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("busybox is not installed (package busybox-static)")
	}
	out, err := exec.Command("ldd", p).CombinedOutput()
	if err == nil && !strings.Contains(string(out), "not a dynamic executable") {
		t.Skipf("%s is dynamically linked; the scratch root needs busybox-static", p)
	}
	return p
}

// partStart returns the first sector of partition n, from sgdisk.
func partStart(t *testing.T, img string, n int) int64 {
	t.Helper()
	out := run(t, nil, "sgdisk", "-i", strconv.Itoa(n), img)
	m := regexp.MustCompile(`First sector: (\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("sgdisk -i %d: no partition %d:\n%s", n, n, out)
	}
	s, _ := strconv.ParseInt(m[1], 10, 64)
	return s
}

// debugfs runs one debugfs request on the ext4 filesystem at sector
// start of img, read-only.
func debugfs(t *testing.T, img string, start int64, request string) string {
	t.Helper()
	cmd := exec.Command("debugfs", "-R", request, fmt.Sprintf("%s?offset=%d", img, start*512))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("debugfs -R %q: %v: %s", request, err, stderr.String())
	}
	// debugfs reports a missing file on stderr and still exits 0.
	if s := stderr.String(); strings.Contains(s, "not found") || strings.Contains(s, "File not found") {
		t.Errorf("debugfs -R %q: %s", request, strings.TrimSpace(s))
	}
	return stdout.String()
}

func sha256File(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// unitEvent is a systemd kernel log line about an ignition unit.
var unitEventRE = regexp.MustCompile(`^\[\s*(\d+\.\d+)\] systemd\[1\]: (Starting|Finished|Reached target|Failed to start) (\S+)`)

// milestoneRE matches the boot's landmarks around the stages.
var milestoneRE = regexp.MustCompile(`^\[\s*(\d+\.\d+)\] (Run /init as init process|systemd\[1\]: (?:Reached target (?:basic|network-online)\.target|Finished systemd-fsck-root\.service|Mounted sysroot\.mount)).*`)

type unitEvent struct {
	at         time.Duration // kernel time
	what, unit string
}

func unitEvents(lines []vm.Line) []unitEvent {
	var evs []unitEvent
	for _, l := range lines {
		m := unitEventRE.FindStringSubmatch(l.Text)
		if m == nil || !strings.HasPrefix(m[3], "ignition-") {
			continue
		}
		secs, _ := strconv.ParseFloat(m[1], 64)
		evs = append(evs, unitEvent{at: time.Duration(secs * float64(time.Second)), what: m[2], unit: strings.TrimSuffix(m[3], ".")})
	}
	return evs
}

// emergency reports a console line saying the initramfs gave up.
func emergency(line string) bool {
	return strings.Contains(line, "Reached target emergency.target") ||
		strings.Contains(line, "Entering emergency mode")
}

func TestBoot(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: boots QEMU four times under TCG")
	}
	lookTools(t, "sgdisk", "mkfs.ext4", "debugfs", "go", "ldd")
	_, kver := vm.Kernel(t)
	dir := t.TempDir()
	initrd := buildInitramfs(t, dir, kver)
	checkInitramfs(t, initrd)
	img := makeDisk(t, dir)

	payload := []byte("fetched over HTTP by the files stage\n")
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/payload" {
			http.NotFound(w, r)
			return
		}
		fetches.Add(1)
		_, _ = w.Write(payload)
	}))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha512.Sum512(payload)
	config := fmt.Sprintf(`{
  "ignition": {"version": "3.4.0"},
  "storage": {
    "disks": [{"device": "/dev/vda", "partitions": [{"number": 2, "label": "DATA", "sizeMiB": 64}]}],
    "filesystems": [{"device": "/dev/disk/by-partlabel/DATA", "format": "ext4", "label": "data", "path": "/srv/data", "wipeFilesystem": true}],
    "files": [
      {"path": "/etc/fetched.txt", "mode": 420, "contents": {"source": "http://10.0.2.2:%s/payload", "verification": {"hash": "sha512-%x"}}},
      {"path": "/srv/data/hello.txt", "mode": 420, "contents": {"source": "data:,on%%20the%%20data%%20partition"}}
    ]
  },
  "passwd": {"users": [{"name": "tester", "uid": 1500}]},
  "systemd": {"units": [{"name": "hello.service", "enabled": true,
    "contents": "[Unit]\nDescription=Hello\n[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n"}]}
}`, u.Port(), sum)
	cfgFile := filepath.Join(dir, "config.ign")
	if err := os.WriteFile(cfgFile, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}

	// First boot: provision, then power off.
	res := (&vm.Custom{
		Initrd:  initrd,
		Append:  appendArgs + " " + poweroffArg,
		Disks:   []string{img},
		FwCfg:   map[string]string{"opt/com.coreos/config": cfgFile},
		Net:     true,
		Timeout: bootTimeout,
		Stop:    emergency,
	}).Run(t)
	serial := res.Serial()
	if err := os.WriteFile(filepath.Join(dir, "serial-1.log"), []byte(serial), 0o644); err == nil {
		t.Logf("first boot: QEMU ran %v", res.Wall.Round(time.Millisecond))
	}
	if res.Stopped || !strings.Contains(serial, "BOOT-TEST-IGNITION-COMPLETE") {
		t.Fatalf("first boot did not reach ignition-complete.target; console tail:\n%s", res.Tail(80))
	}
	if strings.Contains(serial, "CRITICAL") {
		t.Errorf("first boot logged a CRITICAL line:\n%s", grepLines(serial, "CRITICAL"))
	}
	if !strings.Contains(serial, "Stage: umount") || !strings.Contains(serial, `umount: op(1): [finished] unmounting "/sysroot/srv/data"`) {
		t.Errorf("stopping ignition-mount.service did not run the umount stage:\n%s", grepLines(serial, "umount"))
	}

	// IGNITION_ARGS reached every stage: they all recorded themselves in
	// the state file it names.
	if m := regexp.MustCompile(`BOOT-TEST-STATE (\{.*\})`).FindStringSubmatch(serial); m == nil {
		t.Errorf("no state file %s on the console:\n%s", stateFile, grepLines(serial, "BOOT-TEST-STATE"))
	} else {
		var st struct{ Stages []string }
		if err := json.Unmarshal([]byte(m[1]), &st); err != nil {
			t.Errorf("state file %s: %v: %s", stateFile, err, m[1])
		} else if got, want := strings.Join(st.Stages, " "), "fetch-offline fetch kargs disks mount files"; got != want {
			t.Errorf("state file %s lists the stages %q, want %q", stateFile, got, want)
		}
	}

	// The stages ran, each once, in order, and the target came after.
	evs := unitEvents(res.Lines)
	var order []string
	started := map[string]time.Duration{}
	var complete time.Duration
	for _, e := range evs {
		switch e.what {
		case "Starting":
			started[e.unit] = e.at
		case "Finished":
			order = append(order, e.unit)
			if s, ok := started[e.unit]; ok {
				t.Logf("%-32s %6.2fs → %6.2fs  took %v", e.unit, s.Seconds(), e.at.Seconds(), (e.at - s).Round(time.Millisecond))
			}
		case "Reached target":
			if e.unit == "ignition-complete.target" {
				complete = e.at
				order = append(order, e.unit)
			}
		case "Failed to start":
			t.Errorf("%s failed", e.unit)
		}
	}
	want := append(append([]string{}, stageUnits...), "ignition-complete.target")
	var got []string
	for _, u := range order {
		for _, w := range want {
			if u == w {
				got = append(got, u)
			}
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("units finished in the order\n  %s\nwant\n  %s", strings.Join(got, " "), strings.Join(want, " "))
	}
	if complete > 0 {
		t.Logf("kernel start to ignition-complete.target: %.2fs (guest clock)", complete.Seconds())
	}
	// What the rest of that time went to.
	for _, l := range res.Lines {
		if m := milestoneRE.FindStringSubmatch(l.Text); m != nil {
			t.Logf("%8ss  %s", m[1], m[2])
		}
	}
	if n := fetches.Load(); n == 0 {
		t.Error("the HTTP server was never asked for the payload")
	}

	// The disk, from the host.
	pt := run(t, nil, "sgdisk", "-p", img)
	if !regexp.MustCompile(`(?m)^\s+2\s+\d+\s+\d+\s+64\.0 MiB\s+\S+\s+DATA$`).MatchString(pt) {
		t.Errorf("no 64 MiB partition 2 labeled DATA:\n%s", pt)
	}
	root := int64(rootStartSector)
	if got := debugfs(t, img, root, "cat /etc/fetched.txt"); got != string(payload) {
		t.Errorf("/etc/fetched.txt = %q, want %q", got, payload)
	}
	if got := debugfs(t, img, root, "cat /etc/passwd"); !regexp.MustCompile(`(?m)^tester:x:1500:`).MatchString(got) {
		t.Errorf("/etc/passwd has no user tester with uid 1500:\n%s", got)
	}
	if got := debugfs(t, img, root, "cat /etc/systemd/system/hello.service"); !strings.Contains(got, "ExecStart=/bin/true") {
		t.Errorf("/etc/systemd/system/hello.service = %q", got)
	}
	if got := debugfs(t, img, root, "cat /etc/systemd/system-preset/20-ignition.preset"); !regexp.MustCompile(`(?m)^enable hello\.service$`).MatchString(got) {
		t.Errorf("the preset file does not enable hello.service:\n%s", got)
	}
	data := partStart(t, img, 2)
	if got := debugfs(t, img, data, "cat /hello.txt"); got != "on the data partition" {
		t.Errorf("DATA:/hello.txt = %q", got)
	}
	if got := debugfs(t, img, data, "stats"); !strings.Contains(got, "Filesystem volume name:   data") {
		t.Errorf("DATA holds no ext4 filesystem labeled data:\n%s", grepLines(got, "volume name"))
	}

	// Second boot, broken config: emergency mode, a CRITICAL line, and
	// the disk as the first boot left it.
	t.Run("broken config", func(t *testing.T) {
		broken := filepath.Join(dir, "broken.ign")
		if err := os.WriteFile(broken, []byte(`{"ignition": {"version": "3.4.0"}, "storage": {"files": [{"path": "etc/relative"}]}}`), 0o644); err != nil {
			t.Fatal(err)
		}
		before := sha256File(t, img)
		var crit bool
		res := (&vm.Custom{
			Initrd:  initrd,
			Append:  appendArgs,
			Disks:   []string{img},
			FwCfg:   map[string]string{"opt/com.coreos/config": broken},
			Net:     true,
			Timeout: bootTimeout,
			Stop: func(line string) bool {
				crit = crit || strings.Contains(line, "CRITICAL")
				return crit && emergency(line)
			},
		}).Run(t)
		serial := res.Serial()
		_ = os.WriteFile(filepath.Join(dir, "serial-2.log"), []byte(serial), 0o644)
		if !res.Stopped {
			t.Fatalf("the guest stopped by itself instead of staying in emergency mode; console tail:\n%s", res.Tail(80))
		}
		critLines := grepLines(serial, "CRITICAL")
		t.Logf("console:\n%s", critLines)
		if !regexp.MustCompile(`CRITICAL\s*: Ignition failed: fetch-offline: .*storage\.files\.0\.path.*not absolute`).MatchString(critLines) {
			t.Errorf("no readable CRITICAL line naming the stage and storage.files.0:\n%s", critLines)
		}
		if strings.Contains(serial, "Starting ignition-disks.service") || strings.Contains(serial, "BOOT-TEST-IGNITION-COMPLETE") {
			t.Error("the boot went on past the failed stage")
		}
		if after := sha256File(t, img); after != before {
			t.Error("the disk changed during the failed boot")
		}
	})

	// A boot without ignition.firstboot runs no stage: the generator pulls
	// in ignition-subsequent.target only, and the initramfs switches root
	// into the scratch root's init.
	t.Run("subsequent boot", func(t *testing.T) {
		res := (&vm.Custom{
			Initrd:  initrd,
			Append:  strings.Replace(appendArgs, "ignition.firstboot ", "", 1),
			Disks:   []string{img},
			FwCfg:   map[string]string{"opt/com.coreos/config": cfgFile},
			Timeout: bootTimeout,
			Stop:    emergency,
		}).Run(t)
		serial := res.Serial()
		if res.Stopped || !strings.Contains(serial, "BOOT-TEST-SWITCHED-ROOT") {
			t.Fatalf("the boot did not switch root; console tail:\n%s", res.Tail(80))
		}
		if !strings.Contains(serial, "Reached target ignition-subsequent.target") {
			t.Error("ignition-subsequent.target was not reached")
		}
		if l := grepLines(serial, "ignition["); l != "" {
			t.Errorf("Ignition ran on a subsequent boot:\n%s", l)
		}
	})

	// A first boot on a fresh disk that goes on to switch root, as a real
	// one does: switching root stops ignition-mount.service, which runs
	// the umount stage, so the config's filesystems are not carried over.
	t.Run("first boot through switch root", func(t *testing.T) {
		sub := filepath.Join(dir, "switch")
		if err := os.Mkdir(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		img := makeDisk(t, sub)
		res := (&vm.Custom{
			Initrd:  initrd,
			Append:  appendArgs,
			Disks:   []string{img},
			FwCfg:   map[string]string{"opt/com.coreos/config": cfgFile},
			Net:     true,
			Timeout: bootTimeout,
			Stop:    emergency,
		}).Run(t)
		serial := res.Serial()
		if res.Stopped || !strings.Contains(serial, "BOOT-TEST-SWITCHED-ROOT") {
			t.Fatalf("the boot did not switch root; console tail:\n%s", res.Tail(80))
		}
		if l := grepLines(serial, "CRITICAL"); l != "" {
			t.Errorf("CRITICAL lines:\n%s", l)
		}
		if !strings.Contains(serial, `umount: op(1): [finished] unmounting "/sysroot/srv/data"`) {
			t.Errorf("switching root did not run the umount stage:\n%s", grepLines(serial, "umount"))
		}
		_, mounts, _ := strings.Cut(serial, "BOOT-TEST-MOUNTS-BEGIN")
		mounts, _, _ = strings.Cut(mounts, "BOOT-TEST-MOUNTS-END")
		if strings.Contains(mounts, " /srv/data ") {
			t.Errorf("/srv/data is still mounted after switch root:%s", mounts)
		}
		if !regexp.MustCompile(`(?m)^/dev/vda1 / ext4 `).MatchString(mounts) {
			t.Errorf("the new root is not ROOT (/dev/vda1):%s", mounts)
		}
		if got := debugfs(t, img, rootStartSector, "cat /etc/fetched.txt"); got != string(payload) {
			t.Errorf("/etc/fetched.txt = %q, want %q", got, payload)
		}
	})
}

// checkInitramfs checks with lsinitrd that the module installed what the
// stages need, beyond what the boot itself used.
func checkInitramfs(t *testing.T, initrd string) {
	t.Helper()
	if _, err := exec.LookPath("lsinitrd"); err != nil {
		t.Log("no lsinitrd; not listing the initramfs")
		return
	}
	out := run(t, nil, "lsinitrd", initrd)
	for _, re := range []string{
		`usr/bin/ignition$`,
		`usr/bin/ignition-apply -> ignition$`,
		`usr/bin/ignition-rmcfg -> ignition$`,
		`usr/lib/systemd/system-generators/ignition-generator$`,
		`usr/lib/udev/rules.d/99-zz-ignition-crypt-ready.rules$`,
		`\S*/qemu_fw_cfg\.ko(\.[gx]z|\.zst)?$`,
		`\S*/dm-crypt\.ko(\.[gx]z|\.zst)?$`,
		`\S*/raid1\.ko(\.[gx]z|\.zst)?$`,
	} {
		if !regexp.MustCompile(`(?m) ` + re).MatchString(out) {
			t.Errorf("the initramfs has no %s", re)
		}
	}
	for _, u := range append(stageUnits, "ignition-complete.target", "ignition-diskful.target",
		"ignition-subsequent.target", "ignition-remount-sysroot.service", "ignition-delete-config.service") {
		if !regexp.MustCompile(`(?m) usr/lib/systemd/system/` + regexp.QuoteMeta(u) + `$`).MatchString(out) {
			t.Errorf("the initramfs has no unit %s", u)
		}
	}
	for _, tool := range []string{"sgdisk", "partx", "wipefs", "blkid", "udevadm", "mkfs.ext4", "mkfs.xfs",
		"mkfs.btrfs", "mkfs.vfat", "mkswap", "mdadm", "cryptsetup", "useradd", "usermod", "groupadd", "mount", "umount"} {
		if _, err := exec.LookPath(tool); err != nil {
			continue // not on the host either: the module installs it optionally
		}
		if !regexp.MustCompile(`(?m) usr/s?bin/` + regexp.QuoteMeta(tool) + `( |$)`).MatchString(out) {
			t.Errorf("the initramfs has no %s", tool)
		}
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
