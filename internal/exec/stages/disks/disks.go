// Package disks is the disks stage: it makes the config's block devices
// what storage.disks, storage.raid, storage.luks and storage.filesystems
// say, with the host's tools (sgdisk, partx, mdadm, cryptsetup, clevis,
// blkid, wipefs, mkfs.*), before the mount stage mounts them.
//
// The steps run in this order, each on what the one before made:
//
//  1. disks: every disk's partition table is read and its changes are
//     planned (partitions.go) before any disk is written, so a config that
//     cannot be applied to its third disk fails without touching the
//     first two; then each plan is applied and the kernel told (partx).
//  2. raid: md arrays over the (now existing) members (raid.go).
//  3. luks: LUKS2 volumes, opened, optionally bound with Clevis (luks.go).
//  4. filesystems: every filesystem is probed and judged (reuse, wipe or
//     fail) before any is created; then independent devices are formatted
//     in parallel (filesystems.go).
//
// Device paths may be aliases such as /dev/disk/by-partlabel/root. Each is
// resolved once, when its step needs it, by following the symlink udev
// made, or, where no udev runs (as in an initramfs without it, or a test
// machine), by asking blkid for the tag the alias names. The stage returns
// every alias with the real device it meant, so the mount stage mounts the
// same device.
package disks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ignition-go/ignition/config/types"
	"github.com/ignition-go/ignition/internal/distro"
	"github.com/ignition-go/ignition/internal/exec/command"
	"github.com/ignition-go/ignition/internal/log"
	"github.com/ignition-go/ignition/internal/resource"
)

// DefaultDeviceTimeout is how long a device the config names may take to
// appear: systemd's default for device units.
const DefaultDeviceTimeout = 90 * time.Second

// Env is what the disks stage works with.
type Env struct {
	// Commands runs the host tools; nil runs them with os/exec.
	Commands command.OutputRunner
	// Log receives the progress; nil discards.
	Log *log.Logger
	// Fetcher fetches LUKS key files; nil fetches offline (data URLs).
	Fetcher *resource.Fetcher
	// DeviceTimeout bounds the wait for each device; 0 means
	// DefaultDeviceTimeout.
	DeviceTimeout time.Duration
	// KeyDir is where generated LUKS keys are kept for the files stage,
	// which writes them into the target; "" means distro.LuksKeyDir().
	KeyDir string
	// Parallel is how many filesystems are created at once; 0 means one
	// per CPU, 1 means one after another. With 1, partition tables are
	// also written one disk after another; otherwise all disks at once.
	Parallel int
	// Arch is the machine architecture (runtime.GOARCH); "" means the one
	// this binary runs on. Only s390x has IBM Crypto Express (cex).
	Arch string
}

// Result is what the later stages need to know of what the disks stage did.
type Result struct {
	// Devices maps every alias the config used (a symlink such as
	// /dev/disk/by-label/root) to the device it meant (/dev/sda4).
	Devices map[string]string `json:"devices,omitempty"`
}

// stage is one run of the disks stage.
type stage struct {
	cfg     *types.Config
	e       Env
	cmd     command.OutputRunner
	log     *log.Logger
	fetcher *resource.Fetcher
	devices map[string]string // alias → real device
}

// Run applies cfg's storage.disks, raid, luks and filesystems.
func Run(ctx context.Context, cfg types.Config, e Env) (Result, error) {
	s := &stage{cfg: &cfg, e: e, cmd: e.Commands, log: e.Log, fetcher: e.Fetcher, devices: map[string]string{}}
	if s.cmd == nil {
		s.cmd = command.Exec{}
	}
	if s.log == nil {
		s.log = log.Discard()
	}
	if s.e.DeviceTimeout <= 0 {
		s.e.DeviceTimeout = DefaultDeviceTimeout
	}
	st := &cfg.Storage
	if len(st.Disks) == 0 && len(st.Raid) == 0 && len(st.Luks) == 0 && !anyFilesystemWork(st.Filesystems) {
		s.log.Info("nothing to do")
		return Result{}, nil
	}
	err := s.run(ctx)
	res := Result{}
	if len(s.devices) > 0 {
		res.Devices = s.devices
	}
	return res, err
}

func (s *stage) run(ctx context.Context) error {
	st := &s.cfg.Storage

	// 1. Partition tables: plan every disk, then write.
	var plans []*diskPlan
	seen := map[string]string{} // real device → entry
	for i, d := range st.Disks {
		entry := fmt.Sprintf("storage.disks.%d", i)
		dev, err := s.device(ctx, d.Device)
		if err != nil {
			return fmt.Errorf("%s: %w", entry, err)
		}
		if other, ok := seen[dev]; ok {
			return fmt.Errorf("%s (%s) and %s name the same disk, %s", entry, d.Device, other, dev)
		}
		seen[dev] = entry
		p, err := s.planDisk(ctx, entry, d, dev)
		if err != nil {
			return fmt.Errorf("%s (%s): %w", entry, d.Device, err)
		}
		plans = append(plans, p)
	}
	if err := s.applyDisks(ctx, plans); err != nil {
		return err
	}

	// 2. RAID arrays.
	var raids []raidJob
	for i, r := range st.Raid {
		j := raidJob{entry: fmt.Sprintf("storage.raid.%d", i), raid: r}
		for _, m := range r.Devices {
			dev, err := s.device(ctx, m)
			if err != nil {
				return fmt.Errorf("%s (%s): %w", j.entry, r.Name, err)
			}
			j.devices = append(j.devices, dev)
		}
		raids = append(raids, j)
	}
	if err := s.createRaids(ctx, raids); err != nil {
		return err
	}

	// 3. LUKS volumes.
	var volumes []luksJob
	for i, l := range st.Luks {
		j := luksJob{entry: fmt.Sprintf("storage.luks.%d", i), luks: l}
		dev, err := s.device(ctx, deref(l.Device))
		if err != nil {
			return fmt.Errorf("%s (%s): %w", j.entry, l.Name, err)
		}
		j.device = dev
		volumes = append(volumes, j)
	}
	if err := s.createLuks(ctx, volumes); err != nil {
		return err
	}

	// 4. Filesystems.
	var fss []fsJob
	for i, f := range st.Filesystems {
		if !needsWork(f) {
			continue
		}
		j := fsJob{entry: fmt.Sprintf("storage.filesystems.%d", i), fs: f}
		dev, err := s.device(ctx, f.Device)
		if err != nil {
			return fmt.Errorf("%s: %w", j.entry, err)
		}
		j.device = dev
		fss = append(fss, j)
	}
	return s.createFilesystems(ctx, fss)
}

// applyDisks writes the planned tables, the disks in parallel: writing
// one is mostly waiting (sgdisk pauses a second after writing a block
// device, then the kernel is told and the nodes awaited), and distinct
// disks share nothing. Every disk's outcome is reported.
func (s *stage) applyDisks(ctx context.Context, plans []*diskPlan) error {
	errs := make([]error, len(plans))
	var wg sync.WaitGroup
	for i, p := range plans {
		if s.e.Parallel == 1 {
			wg.Wait()
		}
		// Each goroutine logs through its own fork: prefixes and nested
		// operations belong to one Logger.
		sc := *s
		sc.log = s.log.Fork()
		wg.Go(func() {
			if err := sc.applyDisk(ctx, p); err != nil {
				errs[i] = fmt.Errorf("%s (%s): %w", p.entry, p.disk.Device, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// raidJob is one storage.raid entry with its members resolved.
type raidJob struct {
	entry   string // "storage.raid.0"
	raid    types.Raid
	devices []string // the members' real devices, in config order
}

// luksJob is one storage.luks entry with its device resolved.
type luksJob struct {
	entry  string // "storage.luks.0"
	luks   types.Luks
	device string
}

// fsJob is one storage.filesystems entry with its device resolved.
type fsJob struct {
	entry  string // "storage.filesystems.0"
	fs     types.Filesystem
	device string
}

// anyFilesystemWork says whether any filesystem needs the disks stage.
func anyFilesystemWork(fss []types.Filesystem) bool {
	for _, f := range fss {
		if needsWork(f) {
			return true
		}
	}
	return false
}

// needsWork says whether the disks stage has to look at a filesystem:
// any with a format, except virtiofs (a host share: nothing to create).
func needsWork(f types.Filesystem) bool {
	format := deref(f.Format)
	return format != "" && format != "virtiofs"
}

// device resolves path, a device node or an alias of one, to the real
// device node, waiting up to DeviceTimeout for it to appear. Aliases are
// remembered in s.devices and logged once.
func (s *stage) device(ctx context.Context, path string) (string, error) {
	if real, ok := s.devices[path]; ok {
		return real, nil
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, s.e.DeviceTimeout)
	defer cancel()
	delay := 50 * time.Millisecond
	var last error
	for {
		real, err := s.resolve(ctx, path)
		var notBlock notBlockError
		if errors.As(err, &notBlock) {
			return "", err // it will not turn into one
		}
		if err == nil {
			if real != path {
				s.devices[path] = real
				s.log.Info("%s is %s", path, real)
			}
			return real, nil
		}
		last = err
		select {
		case <-ctx.Done():
			if err := parent.Err(); err != nil {
				return "", fmt.Errorf("waiting for device %s: %w", path, err)
			}
			return "", fmt.Errorf("device %s did not appear within %v: %w", path, s.e.DeviceTimeout, last)
		case <-time.After(delay):
		}
		delay = min(2*delay, time.Second)
	}
}

// tagLinks are the /dev/disk directories whose links name a tag that
// blkid can look up itself when udev has not made the link.
var tagLinks = map[string]string{
	"/dev/disk/by-partlabel": "PARTLABEL",
	"/dev/disk/by-partuuid":  "PARTUUID",
	"/dev/disk/by-label":     "LABEL",
	"/dev/disk/by-uuid":      "UUID",
}

// resolve looks path up once.
func (s *stage) resolve(ctx context.Context, path string) (string, error) {
	real, err := filepath.EvalSymlinks(path)
	if err == nil {
		fi, err := os.Stat(real)
		if err != nil {
			return "", err
		}
		if fi.Mode()&os.ModeDevice == 0 || fi.Mode()&os.ModeCharDevice != 0 {
			return "", notBlockError(real)
		}
		return real, nil
	}
	tag, ok := tagLinks[filepath.Dir(path)]
	if !ok {
		return "", err
	}
	// udev escapes characters in link names (\x2f for "/"); blkid wants
	// the value itself.
	value := unescapeUdev(filepath.Base(path))
	out, berr := s.cmd.Output(ctx, []string{distro.BlkidCmd(), "-c", "/dev/null", "-o", "device", "-t", tag + "=" + value})
	if berr != nil {
		// blkid exits 2 when nothing matches: not there yet.
		return "", err
	}
	devs := strings.Fields(string(out))
	switch len(devs) {
	case 0:
		return "", err
	case 1:
		return devs[0], nil
	}
	return "", fmt.Errorf("%s=%s names %d devices (%s): the alias is ambiguous", tag, value, len(devs), strings.Join(devs, ", "))
}

// notBlockError says that a device path names something that exists but
// is not a block device.
type notBlockError string

func (e notBlockError) Error() string { return string(e) + " is not a block device" }

// unescapeUdev undoes udev's \xNN escaping of link names.
func unescapeUdev(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		if name[i] == '\\' && i+3 < len(name) && name[i+1] == 'x' {
			var c byte
			if _, err := fmt.Sscanf(name[i+2:i+4], "%02x", &c); err == nil {
				b.WriteByte(c)
				i += 3
				continue
			}
		}
		b.WriteByte(name[i])
	}
	return b.String()
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
