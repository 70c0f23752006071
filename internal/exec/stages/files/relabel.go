package files

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/ignition-go/ignition/internal/distro"
)

// SELinux relabeling
//
// Everything the stage writes is created in the initramfs, where no
// policy is loaded, so it has no (or the wrong) SELinux label. When the
// target uses SELinux, the stage therefore records every path it created
// or changed in distro.RelabelFile(): a file on the host (the initramfs's
// /run survives the switch to the real root) in systemd's relabel-extra.d
// format, one absolute path of the target per line, each line ending in a
// newline. systemd (PID 1) reads /run/systemd/relabel-extra.d/*.relabel
// right after it loads the policy and relabels each path, and everything
// below a directory.
//
// The target uses SELinux when its /etc/selinux/config exists and its
// SELINUX= is not "disabled". The file is read after the stage wrote
// everything, since the config itself may write it. Without SELinux, or
// when the stage fails, nothing is written.

// selinuxConfig is the target's SELinux configuration file.
const selinuxConfig = "/etc/selinux/config"

// accountFiles are the shadow-utils databases (and their backups) that
// useradd and friends rewrite.
var accountFiles = []string{
	"/etc/passwd", "/etc/passwd-",
	"/etc/group", "/etc/group-",
	"/etc/shadow", "/etc/shadow-",
	"/etc/gshadow", "/etc/gshadow-",
	"/etc/subuid", "/etc/subuid-",
	"/etc/subgid", "/etc/subgid-",
}

// relabels is the set of paths the stage created or changed, in the order
// first seen.
type relabels struct {
	seen  map[string]bool
	paths []string
}

// relabel records name, a resolved path relative to the root ("." is the
// root itself), as created or changed.
func (s *stage) relabel(name string) {
	p := path.Clean("/" + name)
	if s.relabels.seen == nil {
		s.relabels.seen = map[string]bool{}
	}
	if s.relabels.seen[p] {
		return
	}
	s.relabels.seen[p] = true
	s.relabels.paths = append(s.relabels.paths, p)
}

// relabelAccounts records the account databases that exist in the target,
// after a shadow-utils command changed them.
func (s *stage) relabelAccounts() error {
	for _, p := range accountFiles {
		n, fi, err := s.lookup(p)
		if err != nil {
			return err
		}
		if fi != nil {
			s.relabel(n.Rel())
		}
	}
	return nil
}

// selinuxEnabled reports whether the target's /etc/selinux/config enables
// SELinux (enforcing or permissive; any SELINUX= but "disabled").
func selinuxEnabled(root *os.Root) (bool, error) {
	n, err := resolve(root, selinuxConfig)
	if err != nil {
		return false, err
	}
	raw, err := root.ReadFile(n.Rel())
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	mode := ""
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) != "SELINUX" {
			continue
		}
		mode = strings.ToLower(strings.Trim(strings.TrimSpace(v), `"'`))
	}
	if err := sc.Err(); err != nil {
		return false, err
	}
	return mode != "disabled", nil
}

// writeRelabels writes the relabel list when the target uses SELinux and
// the stage changed anything.
func (s *stage) writeRelabels() error {
	on, err := selinuxEnabled(s.root)
	if err != nil {
		return fmt.Errorf("reading the target's %s: %w", selinuxConfig, err)
	}
	if !on {
		s.log.Debug("the target does not use SELinux; no relabeling")
		return nil
	}
	if len(s.relabels.paths) == 0 {
		return nil
	}
	if s.env.SkipRelabel {
		s.log.Warning("the target uses SELinux; relabel the %d paths written (e.g. with restorecon) before booting it", len(s.relabels.paths))
		return nil
	}
	file := s.env.RelabelFile
	if file == "" {
		file = distro.RelabelFile()
	}
	err = s.log.LogOp(func() error {
		var b strings.Builder
		for _, p := range s.relabels.paths {
			b.WriteString(p)
			b.WriteByte('\n')
		}
		return writeHostFile(file, []byte(b.String()))
	}, "writing the SELinux relabel list %q", file)
	if err != nil {
		return fmt.Errorf("SELinux relabel list (%s): %w", file, err)
	}
	return nil
}

// writeHostFile writes data to file on the host atomically (temp file
// beside it, synced, renamed into place), mode 0644, creating its
// directory (0755) if needed.
func writeHostFile(file string, data []byte) (err error) {
	dir := filepath.Dir(file)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(file)+".ignition-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), file); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// relabelHome records the home directory useradd made for name, if there
// is one in the target.
func (s *stage) relabelHome(name string) error {
	a, err := readAccounts(s.root)
	if err != nil {
		return err
	}
	u, ok := a.users[name]
	if !ok || !path.IsAbs(u.home) {
		return nil
	}
	dir, err := resolveDir(s.root, path.Clean(u.home))
	if err != nil || dir == "." {
		return nil // authorizedKeys reports a bad home if it needs it
	}
	if fi, err := s.root.Lstat(dir); err == nil && fi.IsDir() {
		s.relabel(dir)
	}
	return nil
}
