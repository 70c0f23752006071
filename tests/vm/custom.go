package vm

// Booting a caller-built initramfs: the boot integration test builds a
// systemd initramfs with dracut and needs the runner's QEMU setup (the
// host kernel, PVH boot, virtio disks, user networking) without its
// busybox /init, plus fw_cfg entries for the config.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Custom is a machine booted from a caller-built initramfs.
type Custom struct {
	Initrd string // the initramfs to boot
	// Append is the kernel command line after "console=ttyS0".
	Append string
	// Disks are raw images attached read-write as virtio disks: the guest
	// sees /dev/vda, /dev/vdb, … in order, with serials disk0, disk1, ….
	Disks []string
	// FwCfg maps fw_cfg entry names (opt/com.coreos/config) to host files.
	FwCfg map[string]string
	// Net attaches a user-mode network (the host's 127.0.0.1 is 10.0.2.2).
	Net bool
	// Memory in MiB (1536), CPUs (1) and Timeout for the whole run (5m).
	Memory  int
	CPUs    int
	Timeout time.Duration
	// Stop, when set, sees each console line as it comes; returning true
	// kills QEMU. For a guest that reaches a state it never leaves by
	// itself, such as an emergency shell.
	Stop func(line string) bool
}

// Line is one console line and when the host read it, from QEMU's start.
type Line struct {
	At   time.Duration
	Text string
}

// CustomResult is the outcome of a Custom run.
type CustomResult struct {
	Lines   []Line
	Stopped bool          // Stop returned true and QEMU was killed
	Wall    time.Duration // from starting QEMU until it exited
}

// Serial returns the whole console.
func (r CustomResult) Serial() string {
	var b strings.Builder
	for _, l := range r.Lines {
		b.WriteString(l.Text)
		b.WriteByte('\n')
	}
	return b.String()
}

// Tail returns the last n console lines.
func (r CustomResult) Tail(n int) string { return tail(r.Serial(), n) }

// Run boots the machine until the guest powers off (or resets), or Stop
// says so. It fails the test on a timeout or when QEMU cannot start, and
// skips it when the host lacks QEMU or a readable kernel.
func (c *Custom) Run(t testing.TB) CustomResult {
	t.Helper()
	if testing.Short() {
		t.Skip("vm: skipped with -short (each run boots a QEMU machine under TCG)")
	}
	h := customHost(t)
	res, err := c.boot(t.Context(), h, t.Logf)
	if err != nil {
		t.Fatalf("vm: %v", err)
	}
	return res
}

func (c *Custom) boot(ctx context.Context, h *host, logf func(string, ...any)) (CustomResult, error) {
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	kernel := h.kernel
	var extraFiles []*os.File
	if f, err := pvhKernel(h.kernel); err != nil {
		logf("vm: booting the compressed kernel, slower: %v", err)
	} else {
		extraFiles = []*os.File{f}
		kernel = "/proc/self/fd/3" // ExtraFiles start at 3
	}
	cmd := exec.CommandContext(ctx, h.qemu, c.qemuArgs(kernel)...)
	cmd.ExtraFiles = extraFiles
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return CustomResult{}, err
	}
	started := time.Now()
	if err := cmd.Start(); err != nil {
		return CustomResult{}, fmt.Errorf("starting %s: %w", h.qemu, err)
	}
	verbose := os.Getenv("VMTEST_VERBOSE") == "1"
	var res CustomResult
	r := bufio.NewReader(stdout)
	for {
		line, err := r.ReadString('\n')
		if line != "" {
			line = strings.TrimRight(strings.ReplaceAll(line, "\r", ""), "\n")
			res.Lines = append(res.Lines, Line{At: time.Since(started), Text: line})
			if verbose {
				logf("vm console: %s", line)
			}
			if !res.Stopped && c.Stop != nil && c.Stop(line) {
				res.Stopped = true
				_ = cmd.Process.Kill()
			}
		}
		if err != nil {
			break
		}
	}
	waitErr := cmd.Wait()
	res.Wall = time.Since(started)
	switch {
	case res.Stopped:
		return res, nil
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return res, fmt.Errorf("the guest did not stop within %v; console tail:\n%s", timeout, res.Tail(40))
	case ctx.Err() != nil:
		return res, fmt.Errorf("interrupted: %v", ctx.Err())
	case waitErr != nil:
		return res, fmt.Errorf("QEMU failed (%v); stderr: %s; console tail:\n%s", waitErr, strings.TrimSpace(stderr.String()), res.Tail(40))
	}
	return res, nil
}

func (c *Custom) qemuArgs(kernel string) []string {
	mem, cpus := c.Memory, c.CPUs
	if mem == 0 {
		// The initramfs and its unpacked copy both live in RAM.
		mem = 1536
	}
	if cpus == 0 {
		cpus = 1
	}
	args := []string{
		"-nodefaults", "-no-user-config", "-no-reboot",
		"-accel", "tcg", "-machine", "q35", "-cpu", "max",
		"-m", strconv.Itoa(mem), "-smp", strconv.Itoa(cpus),
		"-display", "none", "-serial", "stdio",
		"-kernel", kernel, "-initrd", c.Initrd,
		"-append", strings.TrimSpace("console=ttyS0 " + c.Append),
	}
	for i, p := range c.Disks {
		args = append(args,
			"-drive", fmt.Sprintf("if=none,id=d%d,format=raw,cache=unsafe,file=%s", i, qemuEscape(p)),
			"-device", fmt.Sprintf("virtio-blk-pci,drive=d%d,serial=disk%d", i, i))
	}
	if c.Net {
		args = append(args, "-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0,romfile=")
	} else {
		args = append(args, "-net", "none")
	}
	for _, name := range slices.Sorted(maps.Keys(c.FwCfg)) {
		file := c.FwCfg[name]
		args = append(args, "-fw_cfg", "name="+qemuEscape(name)+",file="+qemuEscape(file))
	}
	return args
}

// customHost is what a Custom run needs from the host: QEMU and a
// readable kernel (no busybox). It skips the test when either is missing.
func customHost(t testing.TB) *host {
	t.Helper()
	h := &host{}
	qemu := os.Getenv("VMTEST_QEMU")
	if qemu == "" {
		qemu = "qemu-system-x86_64"
	}
	var err error
	if h.qemu, err = lookPath(qemu); err == nil {
		h.kernel, h.modDir, err = findKernel()
	}
	if err == nil {
		var f *os.File
		if f, err = os.Open(h.kernel); err == nil {
			f.Close()
		} else if errors.Is(err, fs.ErrPermission) {
			err = &missingError{fmt.Sprintf("kernel %s is not readable by uid %d (Debian installs it 0600; chmod 0644 it or set VMTEST_KERNEL)", h.kernel, os.Getuid())}
		}
	}
	if err != nil {
		var me *missingError
		if errors.As(err, &me) || errors.Is(err, fs.ErrNotExist) {
			t.Skipf("vm: %v", err)
		}
		t.Fatalf("vm: %v", err)
	}
	return h
}

// Kernel returns the kernel a Custom run boots and its version (the name
// of its modules dir), for building an initramfs that matches it. It
// skips the test when QEMU or a readable kernel is missing, so that a
// test can skip before building anything.
func Kernel(t testing.TB) (vmlinuz, version string) {
	t.Helper()
	h := customHost(t)
	return h.kernel, filepath.Base(h.modDir)
}
