// Package vm runs a test body in a throwaway QEMU machine: disks, files, a
// script, a verdict. It exists for what the host kernel cannot do (md RAID,
// device-mapper, vfat, TPM) or must not do (booting through our initramfs):
// the guest boots the host's Debian kernel under TCG with a small initramfs
// built per run from busybox, the requested kernel modules and host tools,
// and the test's files. Its /init mounts the API filesystems, loads the
// modules, waits for the disks, brings up the network when asked, runs the
// script under "sh -ex" with the serial console as its output, and prints
// the script's exit status in a marker line (VMTEST-EXIT=<n>) before
// resetting the machine, which makes QEMU exit. A run costs about 2 s of
// boot plus the script (the kernel is unpacked once per test binary and
// booted through PVH; see kernel.go).
//
//	res := (&vm.Machine{
//		Disks:   []vm.Disk{{SizeMiB: 64}, {SizeMiB: 64}},
//		Tools:   []string{"mdadm", "mkfs.ext4"},
//		Modules: []string{"raid1", "ext4"},
//		Script:  "mdadm --create /dev/md0 … && mkfs.ext4 /dev/md0",
//	}).MustPass(t)
//
// Nothing here needs root: QEMU with TCG and user-mode networking runs
// unprivileged. Tests skip, saying why, under -short and when QEMU, a
// readable kernel, busybox or a requested host tool is missing.
//
// Environment: VMTEST_KERNEL (a vmlinuz; its modules are looked up in
// /lib/modules/<version> or VMTEST_MODULES), VMTEST_QEMU, and
// VMTEST_VERBOSE=1 to stream the console into the test log as it comes.
package vm

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Disk is a virtio disk. The guest sees the disks as /dev/vda, /dev/vdb, …
// in order; the name is also the disk's virtio serial
// (/sys/block/vdX/serial).
type Disk struct {
	Name    string // file name in the run's temp dir; "diskN" by default
	SizeMiB int    // size of a new sparse image
	Image   string // an existing image to attach read-write instead
}

// File is a file placed into the initramfs: Data, or the contents of the
// host file Src (a dynamically linked program brings its libraries along).
type File struct {
	Data []byte
	Src  string
	Mode fs.FileMode // permissions; 0644 for Data and Src's own by default
}

// Machine describes one run.
type Machine struct {
	Disks []Disk
	// Files are placed at their guest paths, after everything else.
	Files map[string]File
	// Tools are host commands (names looked up in PATH and the sbin
	// directories, or absolute paths) copied at their host paths with
	// their symlinks, shared libraries and #! interpreters. They take
	// precedence over busybox applets of the same name.
	Tools []string
	// Extra are host files, directories (copied recursively) or glob
	// patterns copied at their host paths: data files, libraries a tool
	// dlopens.
	Extra []string
	// Modules are kernel modules (names or aliases) to load before the
	// script, with their dependencies. The virtio drivers for the disks
	// and the network are added automatically.
	Modules []string
	// Script is the test body, run by busybox sh with -e and -x from /tmp.
	// Its exit status is the verdict.
	Script string
	// Net attaches a user-mode network: the guest has eth0 10.0.2.15/24
	// with gateway 10.0.2.2, which reaches the host's 127.0.0.1.
	Net bool
	// TPM attaches a TPM 2.0 emulated by swtpm on the host (tpm-tis).
	TPM bool
	// Memory in MiB (1024), CPUs (1) and Timeout for the whole run (5m).
	Memory  int
	CPUs    int
	Timeout time.Duration
	// Append is added to the kernel command line.
	Append string
}

// Result is the outcome of a run that reached the end of its script.
type Result struct {
	ExitCode int
	Passed   bool          // ExitCode == 0
	Serial   string        // the whole console, kernel messages included
	Boot     time.Duration // from starting QEMU until the script started
	Wall     time.Duration // from starting QEMU until it exited
	Disks    []string      // host paths of the disk images, in order
}

// Tail returns the last n lines of the console.
func (r Result) Tail(n int) string { return tail(r.Serial, n) }

const (
	markInit  = "VMTEST-INIT"         // /init started
	markStart = "VMTEST-START"        // the script starts
	markExit  = "VMTEST-EXIT="        // followed by the script's exit status
	markSetup = "VMTEST-SETUP-FAILED" // /init could not prepare the guest
)

var exitRE = regexp.MustCompile(markExit + `(\d+)`)

// Run boots the machine and returns the result of the script. It fails the
// test when the machine cannot be built or started, or when it stops (or
// times out) before reporting the script's exit status.
func (m *Machine) Run(t testing.TB) Result {
	t.Helper()
	if testing.Short() {
		t.Skip("vm: skipped with -short (each run boots a QEMU machine under TCG)")
	}
	h, err := findHost(m.TPM)
	if err != nil {
		var me *missingError
		if errors.As(err, &me) {
			t.Skipf("vm: %v", err)
		}
		t.Fatalf("vm: %v", err)
	}
	res, err := m.boot(t.Context(), h, t.TempDir(), t.Logf)
	if err != nil {
		var me *missingError
		if errors.As(err, &me) {
			t.Skipf("vm: %v", err)
		}
		t.Fatalf("vm: %v", err)
	}
	return res
}

// MustPass is Run, failing the test with the end of the console unless the
// script exited 0.
func (m *Machine) MustPass(t testing.TB) Result {
	t.Helper()
	res := m.Run(t)
	if !res.Passed {
		t.Fatalf("vm: script exited %d; console tail:\n%s", res.ExitCode, res.Tail(60))
	}
	return res
}

// host is what a run needs from the host.
type host struct {
	qemu    string
	kernel  string
	modDir  string // /lib/modules/<version>
	busybox string
	swtpm   string
}

func findHost(tpm bool) (*host, error) {
	h := &host{}
	var err error
	qemu := os.Getenv("VMTEST_QEMU")
	if qemu == "" {
		qemu = "qemu-system-x86_64"
	}
	if h.qemu, err = lookPath(qemu); err != nil {
		return nil, err
	}
	if h.busybox, err = lookPath("busybox"); err != nil {
		return nil, err
	}
	if tpm {
		if h.swtpm, err = lookPath("swtpm"); err != nil {
			return nil, err
		}
	}
	if h.kernel, h.modDir, err = findKernel(); err != nil {
		return nil, err
	}
	f, err := os.Open(h.kernel)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return nil, &missingError{fmt.Sprintf("kernel %s is not readable by uid %d (Debian installs it 0600; chmod 0644 it or set VMTEST_KERNEL)", h.kernel, os.Getuid())}
		}
		return nil, &missingError{fmt.Sprintf("kernel: %v", err)}
	}
	f.Close()
	return h, nil
}

// findKernel returns VMTEST_KERNEL or the newest /boot/vmlinuz-* whose
// modules are installed, and its modules dir.
func findKernel() (kernel, modDir string, err error) {
	modDirFor := func(k string) string {
		if d := os.Getenv("VMTEST_MODULES"); d != "" {
			return d
		}
		return filepath.Join("/lib/modules", strings.TrimPrefix(filepath.Base(k), "vmlinuz-"))
	}
	if k := os.Getenv("VMTEST_KERNEL"); k != "" {
		d := modDirFor(k)
		if _, err := os.Stat(filepath.Join(d, "modules.dep")); err != nil {
			return "", "", &missingError{fmt.Sprintf("VMTEST_KERNEL=%s: no modules.dep in %s (set VMTEST_MODULES)", k, d)}
		}
		return k, d, nil
	}
	kernels, _ := filepath.Glob("/boot/vmlinuz-*")
	slices.SortFunc(kernels, func(a, b string) int { return versionCompare(b, a) })
	for _, k := range kernels {
		d := modDirFor(k)
		if _, err := os.Stat(filepath.Join(d, "modules.dep")); err == nil {
			return k, d, nil
		}
	}
	return "", "", &missingError{"no /boot/vmlinuz-* with its modules in /lib/modules (install a linux-image package or set VMTEST_KERNEL)"}
}

var versionPartRE = regexp.MustCompile(`\d+|\D+`)

// versionCompare orders strings with embedded numbers numerically, so
// that 6.10 sorts after 6.9.
func versionCompare(a, b string) int {
	pa, pb := versionPartRE.FindAllString(a, -1), versionPartRE.FindAllString(b, -1)
	for i := 0; i < len(pa) && i < len(pb); i++ {
		na, ea := strconv.Atoi(pa[i])
		nb, eb := strconv.Atoi(pb[i])
		if ea == nil && eb == nil {
			if na != nb {
				return na - nb
			}
			continue
		}
		if c := strings.Compare(pa[i], pb[i]); c != 0 {
			return c
		}
	}
	return len(pa) - len(pb)
}

// boot builds the initramfs and disks in dir and runs the machine.
func (m *Machine) boot(ctx context.Context, h *host, dir string, logf func(string, ...any)) (Result, error) {
	timeout := m.Timeout
	if timeout == 0 {
		timeout = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	disks, err := m.makeDisks(dir)
	if err != nil {
		return Result{}, err
	}
	built := time.Now()
	initrd := filepath.Join(dir, "initramfs.cpio")
	if err := m.writeInitramfs(h, initrd); err != nil {
		return Result{}, err
	}
	if fi, err := os.Stat(initrd); err == nil {
		logf("vm: initramfs %.1f MiB built in %v", float64(fi.Size())/(1<<20), time.Since(built).Round(time.Millisecond))
	}

	var tpmSock string
	if m.TPM {
		sock, stop, err := startSwtpm(h.swtpm)
		if err != nil {
			return Result{}, err
		}
		defer stop()
		tpmSock = sock
	}

	kernel := h.kernel
	var extraFiles []*os.File
	switch f, err := pvhKernel(h.kernel); {
	case m.TPM:
		// With a TPM, QEMU 7.2's ACPI tables outgrow the room a PVH boot
		// leaves them below the initrd, and the guest finds them
		// corrupted: no ACPI, no TPM. The bzImage boot places them safely.
	case err != nil:
		logf("vm: booting the compressed kernel, slower: %v", err)
	default:
		extraFiles = []*os.File{f}
		kernel = "/proc/self/fd/3" // ExtraFiles start at 3
	}
	cmd := exec.CommandContext(ctx, h.qemu, m.qemuArgs(kernel, initrd, disks, tpmSock)...)
	cmd.ExtraFiles = extraFiles
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return Result{}, err
	}
	started := time.Now()
	if err := cmd.Start(); err != nil {
		return Result{}, fmt.Errorf("starting %s: %w", h.qemu, err)
	}
	verbose := os.Getenv("VMTEST_VERBOSE") == "1"
	var serial strings.Builder
	var initAt, bootAt time.Duration
	var exitTimer *time.Timer
	r := bufio.NewReader(stdout)
	for {
		line, err := r.ReadString('\n')
		if line != "" {
			line = strings.ReplaceAll(line, "\r", "")
			serial.WriteString(line)
			switch {
			case initAt == 0 && strings.HasPrefix(line, markInit):
				initAt = time.Since(started)
			case bootAt == 0 && strings.HasPrefix(line, markStart):
				bootAt = time.Since(started)
				logf("vm: kernel reached /init after %v, script started after %v", initAt.Round(time.Millisecond), bootAt.Round(time.Millisecond))
			}
			if exitTimer == nil && exitRE.MatchString(line) {
				// The verdict is in. Should the guest fail to stop, do
				// not wait for the timeout.
				exitTimer = time.AfterFunc(10*time.Second, func() { _ = cmd.Process.Kill() })
			}
			if verbose {
				logf("vm console: %s", strings.TrimSuffix(line, "\n"))
			}
		}
		if err != nil {
			break
		}
	}
	waitErr := cmd.Wait()
	if exitTimer != nil {
		exitTimer.Stop()
	}
	res := Result{ExitCode: -1, Serial: serial.String(), Boot: bootAt, Wall: time.Since(started), Disks: disks}

	if ms := exitRE.FindAllStringSubmatch(res.Serial, -1); ms != nil {
		res.ExitCode, _ = strconv.Atoi(ms[len(ms)-1][1])
		res.Passed = res.ExitCode == 0
		logf("vm: script exited %d; QEMU ran %v", res.ExitCode, res.Wall.Round(time.Millisecond))
		return res, nil
	}
	var why string
	switch {
	case strings.Contains(res.Serial, markSetup):
		why = "the guest's /init failed to set up"
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		why = fmt.Sprintf("no exit status within the %v timeout", timeout)
	case ctx.Err() != nil:
		why = fmt.Sprintf("interrupted: %v", ctx.Err())
	case waitErr != nil:
		why = fmt.Sprintf("QEMU failed (%v) before the script reported its exit status; stderr: %s", waitErr, strings.TrimSpace(stderr.String()))
	default:
		why = "the machine stopped before the script reported its exit status"
	}
	return res, fmt.Errorf("%s; console tail:\n%s", why, res.Tail(40))
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

var diskNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,20}$`)

// makeDisks creates the sparse images and returns every disk's host path.
func (m *Machine) makeDisks(dir string) ([]string, error) {
	if len(m.Disks) > 20 {
		return nil, fmt.Errorf("%d disks: at most 20", len(m.Disks))
	}
	var paths []string
	names := map[string]bool{}
	for i, d := range m.Disks {
		name := d.Name
		if name == "" {
			name = fmt.Sprintf("disk%d", i)
		}
		// The virtio serial holds at most 20 bytes; QEMU cuts it silently.
		if !diskNameRE.MatchString(name) {
			return nil, fmt.Errorf("disks.%d: name %q: want 1-20 of A-Z a-z 0-9 . _ -", i, name)
		}
		if names[name] {
			return nil, fmt.Errorf("disks.%d: name %q used twice", i, name)
		}
		names[name] = true
		if d.Image != "" {
			if _, err := os.Stat(d.Image); err != nil {
				return nil, fmt.Errorf("disks.%d (%s): %w", i, name, err)
			}
			paths = append(paths, d.Image)
			continue
		}
		if d.SizeMiB <= 0 {
			return nil, fmt.Errorf("disks.%d (%s): neither SizeMiB nor Image", i, name)
		}
		p := filepath.Join(dir, name+".img")
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return nil, fmt.Errorf("disks.%d (%s): %w", i, name, err)
		}
		err = f.Truncate(int64(d.SizeMiB) << 20)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("disks.%d (%s): %w", i, name, err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}

func (m *Machine) qemuArgs(kernel, initrd string, disks []string, tpmSock string) []string {
	mem, cpus := m.Memory, m.CPUs
	if mem == 0 {
		mem = 1024
	}
	if cpus == 0 {
		cpus = 1
	}
	// panic=-1: should /init die, the kernel panics and reboots at once,
	// which -no-reboot turns into QEMU exiting.
	cmdline := "console=ttyS0 panic=-1"
	if m.Append != "" {
		cmdline += " " + m.Append
	}
	args := []string{
		"-nodefaults", "-no-user-config", "-no-reboot",
		"-accel", "tcg", "-machine", "q35", "-cpu", "max",
		"-m", strconv.Itoa(mem), "-smp", strconv.Itoa(cpus),
		"-display", "none", "-serial", "stdio",
		"-kernel", kernel, "-initrd", initrd, "-append", cmdline,
	}
	for i, p := range disks {
		name := m.Disks[i].Name
		if name == "" {
			name = fmt.Sprintf("disk%d", i)
		}
		args = append(args,
			"-drive", fmt.Sprintf("if=none,id=d%d,format=raw,cache=unsafe,file=%s", i, qemuEscape(p)),
			"-device", fmt.Sprintf("virtio-blk-pci,drive=d%d,serial=%s", i, name))
	}
	if m.Net {
		// romfile=: no iPXE option ROM, which only network boot needs
		// (and which lives in a package of its own, ipxe-qemu).
		args = append(args, "-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0,romfile=")
	} else {
		args = append(args, "-net", "none")
	}
	if tpmSock != "" {
		args = append(args,
			"-chardev", "socket,id=tpmc,path="+qemuEscape(tpmSock),
			"-tpmdev", "emulator,id=tpm0,chardev=tpmc",
			"-device", "tpm-tis,tpmdev=tpm0")
	}
	return args
}

// qemuEscape doubles commas, QEMU's option separator.
func qemuEscape(s string) string { return strings.ReplaceAll(s, ",", ",,") }

// startSwtpm runs a TPM 2.0 emulator for one machine. The socket lives in
// a short temp dir: unix socket paths are limited to 107 bytes, which a
// test's TempDir can exceed.
func startSwtpm(bin string) (sock string, stop func(), err error) {
	dir, err := os.MkdirTemp("", "vmtpm")
	if err != nil {
		return "", nil, err
	}
	sock = filepath.Join(dir, "ctrl.sock")
	var out bytes.Buffer
	cmd := exec.Command(bin, "socket", "--tpm2", "--tpmstate", "dir="+dir,
		"--ctrl", "type=unixio,path="+sock, "--terminate")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("starting swtpm: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop = sync.OnceFunc(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		os.RemoveAll(dir)
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		if _, err := os.Stat(sock); err == nil {
			return sock, stop, nil
		}
		select {
		case err := <-exited:
			exited <- err // for stop
			stop()
			return "", nil, fmt.Errorf("swtpm exited before creating its socket (%v): %s", err, strings.TrimSpace(out.String()))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, fmt.Errorf("swtpm did not create %s within 10s: %s", sock, strings.TrimSpace(out.String()))
		}
	}
}

// writeInitramfs builds the guest's root filesystem into file.
func (m *Machine) writeInitramfs(h *host, file string) error {
	t := newTree()
	b := &builder{t: t, closured: map[string]bool{}}

	// The merged-/usr symlinks (or directories) as on the host, first, so
	// that everything added later lands where the host has it.
	for _, d := range []string{"/bin", "/sbin", "/lib", "/lib64"} {
		fi, err := os.Lstat(d)
		switch {
		case err == nil && fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(d)
			if err != nil {
				return err
			}
			if err := t.symlink(d, target); err != nil {
				return err
			}
		case err == nil || errors.Is(err, fs.ErrNotExist):
			if err := t.dir(d); err != nil {
				return err
			}
		default:
			return err
		}
	}
	for _, d := range []string{"/usr/bin", "/usr/sbin", "/dev", "/proc", "/sys", "/run", "/tmp", "/root", "/etc", "/mnt", "/vmtest"} {
		if err := t.dir(d); err != nil {
			return err
		}
	}
	// The kernel opens /dev/console for init's stdio before /init can
	// mount devtmpfs.
	if _, err := t.put("/dev/console", &node{mode: fs.ModeDevice | fs.ModeCharDevice | 0o600, rdev: [2]uint32{5, 1}}); err != nil {
		return err
	}

	// busybox and its applets.
	if err := b.addHost(h.busybox, false); err != nil {
		return fmt.Errorf("busybox: %w", err)
	}
	bb, err := filepath.EvalSymlinks(h.busybox)
	if err != nil {
		return fmt.Errorf("busybox: %w", err)
	}
	b.busybox = bb
	applets, err := busyboxApplets(h.busybox)
	if err != nil {
		return err
	}
	for _, a := range applets {
		if !t.has(a) {
			if err := t.symlink(a, bb); err != nil {
				return fmt.Errorf("busybox applet %s: %w", a, err)
			}
		}
	}

	// Kernel modules.
	ix, err := loadModIndex(h.modDir)
	if err != nil {
		return err
	}
	names := slices.Clone(m.Modules)
	if len(m.Disks) > 0 || m.Net {
		names = append(names, "virtio_pci")
	}
	if len(m.Disks) > 0 {
		names = append(names, "virtio_blk")
	}
	if m.Net {
		names = append(names, "virtio_net")
	}
	loads, err := ix.plan(names)
	if err != nil {
		return err
	}
	guestModDir := path.Join("/lib/modules", filepath.Base(h.modDir))
	for _, l := range loads {
		src := filepath.Join(h.modDir, l.file)
		if _, err := t.put(path.Join(guestModDir, l.file), &node{mode: 0o644, src: src}); err != nil {
			return err
		}
	}
	dep, alias := ix.indexFiles(loads)
	if err := t.file(path.Join(guestModDir, "modules.dep"), dep, 0o644); err != nil {
		return err
	}
	if err := t.file(path.Join(guestModDir, "modules.alias"), alias, 0o644); err != nil {
		return err
	}

	// A minimal /etc for tools that look up users, groups or libraries.
	for p, data := range map[string]string{
		"/etc/passwd":      "root:x:0:0:root:/root:/bin/sh\n",
		"/etc/group":       "root:x:0:\ndisk:x:6:\n",
		"/etc/hostname":    "vmtest\n",
		"/etc/resolv.conf": "nameserver 10.0.2.3\n",
	} {
		if err := t.file(p, []byte(data), 0o644); err != nil {
			return err
		}
	}
	if _, err := os.Stat("/etc/ld.so.cache"); err == nil {
		if err := t.putHost("/etc/ld.so.cache", 0o644); err != nil {
			return err
		}
	}

	for _, tool := range m.Tools {
		if err := b.addTool(tool); err != nil {
			return fmt.Errorf("tool %s: %w", tool, err)
		}
	}
	for _, x := range m.Extra {
		if err := b.addExtra(x); err != nil {
			return fmt.Errorf("extra %s: %w", x, err)
		}
	}
	filePaths := slices.Sorted(func(yield func(string) bool) {
		for p := range m.Files {
			if !yield(p) {
				return
			}
		}
	})
	for _, p := range filePaths {
		f := m.Files[p]
		if !path.IsAbs(p) {
			return fmt.Errorf("files: %q is not an absolute guest path", p)
		}
		if f.Src != "" {
			fi, err := os.Stat(f.Src)
			if err != nil {
				return fmt.Errorf("files: %s: %w", p, err)
			}
			mode := fi.Mode().Perm()
			if f.Mode != 0 {
				mode = f.Mode
			}
			if _, err := t.put(p, &node{mode: mode.Perm(), src: f.Src}); err != nil {
				return fmt.Errorf("files: %s: %w", p, err)
			}
			if err := b.addNeeds(f.Src); err != nil {
				return fmt.Errorf("files: %s: %w", p, err)
			}
			continue
		}
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
		}
		if err := t.file(p, f.Data, mode); err != nil {
			return fmt.Errorf("files: %s: %w", p, err)
		}
	}

	if err := t.file("/vmtest/script.sh", []byte(m.Script), 0o755); err != nil {
		return err
	}
	if err := t.file("/init", []byte(m.initScript(guestModDir, loads)), 0o755); err != nil {
		return err
	}

	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if err := t.writeCPIO(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

var bbApplets struct {
	sync.Mutex
	byPath map[string][]string
}

// busyboxApplets returns the absolute install paths of busybox's applets.
func busyboxApplets(bin string) ([]string, error) {
	bbApplets.Lock()
	defer bbApplets.Unlock()
	if a, ok := bbApplets.byPath[bin]; ok {
		return a, nil
	}
	out, err := exec.Command(bin, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list-full: %w", bin, err)
	}
	var applets []string
	for line := range strings.Lines(string(out)) {
		if line = strings.TrimSpace(line); line != "" {
			applets = append(applets, "/"+line)
		}
	}
	if len(applets) == 0 {
		return nil, fmt.Errorf("%s --list-full lists no applets", bin)
	}
	if bbApplets.byPath == nil {
		bbApplets.byPath = map[string][]string{}
	}
	bbApplets.byPath[bin] = applets
	return applets, nil
}

// initScript generates /init.
func (m *Machine) initScript(modDir string, loads []modLoad) string {
	var s strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&s, format+"\n", args...) }
	w("#!/bin/sh")
	w("# Generated by tests/vm: prepare the guest, run the test script, report.")
	w("export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root")
	// reboot rather than poweroff: a reset works without ACPI, and
	// -no-reboot makes QEMU exit on it.
	w(`setup_failed() { echo "%s: $*"; sync; reboot -f; echo b >/proc/sysrq-trigger; sleep 60; }`, markSetup)
	w("mount -t proc proc /proc || setup_failed mount /proc")
	w(`echo "%s uptime=$(cut -d' ' -f1 /proc/uptime)"`, markInit)
	w("mount -t sysfs sysfs /sys || setup_failed mount /sys")
	w("mount -t devtmpfs devtmpfs /dev || setup_failed mount /dev")
	w("mkdir -p /dev/pts /dev/shm")
	w("mount -t devpts devpts /dev/pts")
	w("mount -t tmpfs tmpfs /dev/shm")
	w("mount -t tmpfs -o mode=0755 tmpfs /run")
	w("mount -t tmpfs -o mode=1777 tmpfs /tmp")
	w("ln -s /proc/self/fd /dev/fd; ln -s fd/0 /dev/stdin; ln -s fd/1 /dev/stdout; ln -s fd/2 /dev/stderr")
	w("hostname vmtest")
	for _, l := range loads {
		p := path.Join(modDir, l.file)
		if l.required {
			w("insmod %s || setup_failed insmod %s", p, p)
		} else {
			w("insmod %s 2>/dev/null # a soft dependency", p)
		}
	}
	// virtio devices are probed while their driver loads, but the block
	// device nodes and the network interface can appear a moment later.
	waitFor := func(test, what string) {
		w("i=0; while ! %s; do i=$((i+1)); [ $i -le 300 ] || setup_failed %s did not appear within 30s; sleep 0.1; done", test, what)
	}
	for i := range m.Disks {
		dev := "/dev/vd" + string(rune('a'+i))
		waitFor("[ -b "+dev+" ]", dev)
	}
	w("ip link set lo up")
	if m.Net {
		waitFor("[ -e /sys/class/net/eth0 ]", "eth0")
		w("ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && ip route add default via 10.0.2.2 || setup_failed network")
	}
	w(`echo "%s uptime=$(cut -d' ' -f1 /proc/uptime)"`, markStart)
	w("cd /tmp")
	w("sh -ex /vmtest/script.sh </dev/null")
	w("rc=$?")
	w("cd /")
	w("sync")
	w(`echo "%s$rc"`, markExit)
	w("reboot -f")
	w("echo b >/proc/sysrq-trigger")
	w("sleep 60")
	return s.String()
}
