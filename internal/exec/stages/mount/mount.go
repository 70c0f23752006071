// Package mount holds the mount and umount stages: they mount the config's
// filesystems under the target root (e.g. /sysroot) for the files stage,
// and unmount them afterwards.
//
// A filesystem is mounted when it has a path and is neither swap nor
// "none" (neither has anything to mount). It is mounted at root + path,
// with -t <format> (virtiofs too: its device is the tag) and
// -o <mountOptions joined by ",">. Shallower paths are mounted first, so
// that /var is mounted before /var/log; entries at the same depth keep
// their config order. The mount point is created (mode 0755) inside the
// root just before its filesystem is mounted, so it is created in the
// filesystem mounted above it. The umount stage unmounts the same set in
// the reverse order.
//
// A failed mount stops the stage; what was mounted stays mounted (the boot
// fails, and the emergency shell shows the state as it was). A failed
// unmount does not stop the others from being tried.
package mount

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/ignition-go/ignition/config/types"
	"github.com/ignition-go/ignition/internal/distro"
	"github.com/ignition-go/ignition/internal/exec/command"
	"github.com/ignition-go/ignition/internal/log"
)

// Runner runs a host command (mount, umount).
type Runner = command.Runner

// Env is what the mount and umount stages work with.
type Env struct {
	// Root is the host path of the target root, e.g. /sysroot. Required.
	Root string
	// Commands runs mount and umount; nil runs them with os/exec.
	Commands Runner
	// Log receives [started]/[finished]/[failed] for every operation; nil
	// discards.
	Log *log.Logger
	// Mounted says whether a path is a mount point; nil reads
	// /proc/self/mountinfo. The umount stage skips what is no longer
	// mounted (at shutdown systemd may unmount the config's filesystems
	// while the umount stage runs).
	Mounted func(path string) (bool, error)
	// Devices maps device aliases to the devices the disks stage found
	// they meant; a filesystem whose device is listed is mounted from
	// the real device, so that mount needs no udev-made links.
	Devices map[string]string
}

// target is one filesystem to mount.
type target struct {
	entry  string // "storage.filesystems.3"
	fs     *types.Filesystem
	path   string // the cleaned path in the target, e.g. "/var"
	format string
}

func (t target) String() string {
	return fmt.Sprintf("%s (%s)", t.entry, t.fs.Device)
}

// targets returns the filesystems to mount, in mount order.
func targets(cfg *types.Config) []target {
	var out []target
	for i := range cfg.Storage.Filesystems {
		fs := &cfg.Storage.Filesystems[i]
		path, format := deref(fs.Path), deref(fs.Format)
		if path == "" || format == "swap" || format == "none" {
			continue
		}
		out = append(out, target{
			entry:  fmt.Sprintf("storage.filesystems.%d", i),
			fs:     fs,
			path:   filepath.Clean("/" + path),
			format: format,
		})
	}
	sort.SliceStable(out, func(a, b int) bool { return depth(out[a].path) < depth(out[b].path) })
	return out
}

// depth is the number of components of a clean absolute path: 0 for "/".
func depth(p string) int {
	if p == "/" {
		return 0
	}
	return strings.Count(p, "/")
}

// Mount mounts cfg's filesystems under e.Root, parents first.
func Mount(ctx context.Context, cfg types.Config, e Env) error {
	e, err := e.defaults()
	if err != nil {
		return err
	}
	ts := targets(&cfg)
	if len(ts) == 0 {
		e.Log.Info("no filesystems to mount")
		return nil
	}
	for _, t := range ts {
		if err := ctx.Err(); err != nil {
			return err
		}
		mountpoint := filepath.Join(e.Root, t.path)
		argv := []string{distro.MountCmd()}
		if t.format != "" {
			argv = append(argv, "-t", t.format)
		}
		if len(t.fs.MountOptions) > 0 {
			argv = append(argv, "-o", strings.Join(t.fs.MountOptions, ","))
		}
		dev := t.fs.Device
		if real, ok := e.Devices[dev]; ok {
			dev = real
		}
		argv = append(argv, dev, mountpoint)
		err := e.Log.LogOp(func() error {
			if err := mkdirAll(e.Root, t.path); err != nil {
				return fmt.Errorf("creating the mount point: %w", err)
			}
			return e.Commands.Run(ctx, argv)
		}, "mounting %q at %q", deviceName(t.fs.Device, dev), mountpoint)
		if err != nil {
			return fmt.Errorf("%s: mounting at %s: %w", t, mountpoint, err)
		}
	}
	return nil
}

// Umount unmounts what Mount mounted, children first. Every filesystem is
// tried; the error lists each that failed.
func Umount(ctx context.Context, cfg types.Config, e Env) error {
	e, err := e.defaults()
	if err != nil {
		return err
	}
	ts := targets(&cfg)
	if len(ts) == 0 {
		e.Log.Info("no filesystems to unmount")
		return nil
	}
	var errs []error
	for i := len(ts) - 1; i >= 0; i-- {
		t := ts[i]
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, err)...)
		}
		mountpoint := filepath.Join(e.Root, t.path)
		if mounted, err := e.Mounted(mountpoint); err == nil && !mounted {
			e.Log.Info("%q is not mounted (any more): nothing to unmount", mountpoint)
			continue
		}
		err := e.Log.LogOp(func() error {
			return e.Commands.Run(ctx, []string{distro.UmountCmd(), mountpoint})
		}, "unmounting %q", mountpoint)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: unmounting %s: %w", t, mountpoint, err))
		}
	}
	return errors.Join(errs...)
}

// mkdirAll creates the mount point p (a clean absolute path in the
// target) inside root, following symlinks only within it.
func mkdirAll(root, p string) error {
	rel := strings.TrimPrefix(p, "/")
	if rel == "" {
		return nil // the root itself
	}
	// Opened for each mount: a filesystem mounted on the root itself
	// would not be seen through a descriptor opened before it.
	r, err := os.OpenRoot(root)
	if err != nil {
		return err
	}
	defer r.Close()
	return r.MkdirAll(rel, 0o755)
}

func (e Env) defaults() (Env, error) {
	if e.Root == "" {
		return e, errors.New("no target root")
	}
	if e.Commands == nil {
		e.Commands = command.Exec{}
	}
	if e.Log == nil {
		e.Log = log.Discard()
	}
	if e.Mounted == nil {
		e.Mounted = mountedFromMountinfo
	}
	return e, nil
}

// mountedFromMountinfo says whether path is a mount point of this
// process's mount namespace.
func mountedFromMountinfo(path string) (bool, error) {
	raw, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false, err
	}
	return inMountinfo(string(raw), path), nil
}

// inMountinfo says whether mountinfo (proc(5) format) lists path as a
// mount point. The kernel escapes space, tab, newline and backslash in
// it as \ooo octal.
func inMountinfo(mountinfo, path string) bool {
	for _, line := range strings.Split(mountinfo, "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && unescapeOctal(f[4]) == path {
			return true
		}
	}
	return false
}

func unescapeOctal(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// deviceName names a device for the log: the config's path, and the
// device it resolved to when that differs.
func deviceName(config, real string) string {
	if config == real {
		return config
	}
	return config + " (" + real + ")"
}
