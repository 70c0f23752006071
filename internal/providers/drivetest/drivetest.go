// Package drivetest fakes config drives for provider unit tests: a command
// runner that answers blkid's lookups by label and "mounts" a drive by
// writing its files into the mount point, so providers.FindDrive and
// ReadFromDrive run unchanged without root. Tests of the real commands
// (loop devices, mount) are in internal/providers.
package drivetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/ignition-go/ignition/internal/distro"
)

// Drive is a fake config drive.
type Drive struct {
	Device string
	Label  string
	// Files maps paths relative to the drive's root to their contents.
	Files map[string]string
	// AppearsAfter is how many blkid lookups of its label miss it first,
	// as when a drive shows up late in boot.
	AppearsAfter int
	// MountErr, when set, is what mounting it fails with.
	MountErr error
}

// Runner is a command.OutputRunner serving Drives.
type Runner struct {
	Drives []*Drive
	// BlkidErr, when set, is what every blkid run fails with.
	BlkidErr error

	mu      sync.Mutex
	lookups map[string]int // by label
	mounted map[string]string
	calls   [][]string
}

// ExitStatus is a command's exit with a status, like *exec.ExitError.
type ExitStatus int

func (e ExitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// ExitCode is what FindDrive asks to tell "no match" (2) apart.
func (e ExitStatus) ExitCode() int { return int(e) }

// Output answers blkid -o device -t LABEL=x.
func (r *Runner) Output(_ context.Context, argv []string) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, slices.Clone(argv))
	if argv[0] != distro.BlkidCmd() {
		return nil, fmt.Errorf("unexpected command %q", argv)
	}
	if r.BlkidErr != nil {
		return nil, r.BlkidErr
	}
	i := slices.Index(argv, "-t")
	if i < 0 || i+1 >= len(argv) || !strings.HasPrefix(argv[i+1], "LABEL=") {
		return nil, fmt.Errorf("unexpected blkid arguments %q", argv)
	}
	label := strings.TrimPrefix(argv[i+1], "LABEL=")
	if r.lookups == nil {
		r.lookups = map[string]int{}
	}
	r.lookups[label]++
	var out strings.Builder
	for _, d := range r.Drives {
		if d.Label == label && r.lookups[label] > d.AppearsAfter {
			out.WriteString(d.Device + "\n")
		}
	}
	if out.Len() == 0 {
		return nil, ExitStatus(2)
	}
	return []byte(out.String()), nil
}

// Run performs mount -o ro DEV DIR (writing the drive's files into DIR)
// and umount DIR (removing them).
func (r *Runner) Run(_ context.Context, argv []string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, slices.Clone(argv))
	switch {
	case argv[0] == distro.MountCmd() && len(argv) == 5 && argv[1] == "-o" && argv[2] == "ro":
		dev, dir := argv[3], argv[4]
		for _, d := range r.Drives {
			if d.Device != dev {
				continue
			}
			if d.MountErr != nil {
				return d.MountErr
			}
			for name, data := range d.Files {
				p := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					return err
				}
				if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
					return err
				}
			}
			if r.mounted == nil {
				r.mounted = map[string]string{}
			}
			r.mounted[dir] = dev
			return nil
		}
		return fmt.Errorf("mount: %s: no such device", dev)
	case argv[0] == distro.UmountCmd() && len(argv) == 2:
		dir := argv[1]
		if _, ok := r.mounted[dir]; !ok {
			return fmt.Errorf("umount: %s: not mounted", dir)
		}
		delete(r.mounted, dir)
		entries, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unexpected command %q", argv)
}

// Mounted returns the mount points still mounted: none, after a provider
// that cleans up.
func (r *Runner) Mounted() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var dirs []string
	for dir := range r.mounted {
		dirs = append(dirs, dir)
	}
	return dirs
}

// Calls returns every command run so far.
func (r *Runner) Calls() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}
