package files

// storage.luks in the target: an /etc/crypttab line for every volume, so
// that the booted system opens it (systemd-cryptsetup-generator), and the
// key file of every volume that has no Clevis binding at
// /etc/luks/<name>, which its line names.
//
// A volume bound with Clevis gets "none" for its key: Clevis unlocks it
// (from Tang or the TPM), and the key it was formatted with, generated or
// from the config, stays out of the target. One that needs the network
// to unlock (Tang, or a custom pin that says so) gets _netdev, so that
// it is opened after the network is up.
//
// The volumes' UUIDs come from the disks stage's record (see
// disks.LuksVolume), so this stage probes no devices.

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/ignition-go/ignition/config/types"
	"github.com/ignition-go/ignition/internal/distro"
	"github.com/ignition-go/ignition/internal/exec/stages/disks"
)

// crypttabFile is where the lines go, in the target.
const crypttabFile = "/etc/crypttab"

// crypttab writes the key files and /etc/crypttab.
func (s *stage) crypttab() error {
	vols := s.cfg.Storage.Luks
	if len(vols) == 0 {
		return nil
	}
	keyDir := s.env.LuksKeyDir
	if keyDir == "" {
		keyDir = distro.LuksKeyDir()
	}
	made, err := disks.ReadLuksVolumes(keyDir)
	if err != nil {
		return fmt.Errorf("storage.luks: %w", err)
	}

	lines := make([]string, 0, len(vols))
	names := map[string]bool{}
	for i := range vols {
		l := &vols[i]
		entry := fmt.Sprintf("storage.luks.%d", i)
		v, ok := made[l.Name]
		if !ok || v.UUID == "" {
			return entryErr(entry, l.Name, fmt.Errorf("the disks stage left no record of the volume in %s", disks.LuksRecordPath(keyDir)))
		}
		key := "none"
		if !clevisBound(l) {
			key = path.Join(distro.LuksTargetKeyDir(), l.Name)
			err := s.log.LogOp(func() error { return s.installKey(filepath.Join(keyDir, l.Name), key) },
				"writing the key file of %s to %q", l.Name, key)
			if err != nil {
				return entryErr(entry, l.Name, err)
			}
		}
		lines = append(lines, crypttabLine(l, v.UUID, key))
		names[l.Name] = true
	}

	err = s.log.LogOp(func() error { return s.writeCrypttab(lines, names) }, "writing %q", crypttabFile)
	if err != nil {
		return fmt.Errorf("storage.luks: %s: %w", crypttabFile, err)
	}
	return nil
}

// clevisBound says whether the disks stage bound the volume with Clevis.
func clevisBound(l *types.Luks) bool {
	c := &l.Clevis
	return deref(c.Custom.Pin) != "" || len(c.Tang) > 0 || isTrue(c.Tpm2)
}

// crypttabLine is the volume's crypttab line: name, device, key file,
// options (crypttab(5)).
func crypttabLine(l *types.Luks, uuid, key string) string {
	opts := []string{"luks"}
	if isTrue(l.Discard) {
		opts = append(opts, "discard")
	}
	if len(l.Clevis.Tang) > 0 || isTrue(l.Clevis.Custom.NeedsNetwork) {
		opts = append(opts, "_netdev")
	}
	return fmt.Sprintf("%s UUID=%s %s %s", l.Name, uuid, key, strings.Join(opts, ","))
}

// installKey copies the key kept on the host at src to dst in the
// target (mode 0600, owned by root), in a directory only root can read.
func (s *stage) installKey(src, dst string) error {
	key, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("reading the key the disks stage kept: %w", err)
	}
	n, fi, err := s.lookup(dst)
	if err != nil {
		return err
	}
	if fi != nil && fi.IsDir() {
		return fmt.Errorf("%s is in the way", kind(fi.Mode()))
	}
	if err := s.mkdirs(path.Dir(n.Dir)); err != nil {
		return err
	}
	switch fi, err := s.root.Lstat(n.Dir); {
	case errors.Is(err, fs.ErrNotExist):
		if err := s.root.Mkdir(n.Dir, 0o700); err != nil {
			return fmt.Errorf("creating directory /%s: %w", n.Dir, err)
		}
		if err := s.setOwnerMode(n.Dir, 0, 0, 0o700); err != nil {
			return err
		}
	case err != nil:
		return err
	case !fi.IsDir():
		return fmt.Errorf("/%s is not a directory", n.Dir)
	}
	return s.writeFile(n, meta{mode: 0o600}, func(w io.Writer) error {
		_, err := w.Write(key)
		return err
	})
}

// writeCrypttab replaces the lines of the named volumes in the target's
// crypttab with lines, keeping every other line (the image's own
// volumes, comments) as it was; the file keeps its mode and owner, and
// a new one is 0600, root's.
func (s *stage) writeCrypttab(lines []string, names map[string]bool) error {
	n, fi, err := s.lookup(crypttabFile)
	if err != nil {
		return err
	}
	m := meta{mode: 0o600}
	var kept []string
	if fi != nil {
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s is in the way", kind(fi.Mode()))
		}
		m.uid, m.gid = statOwner(fi)
		m.mode = fi.Mode() & modeBits
		old, err := s.root.ReadFile(n.Rel())
		if err != nil {
			return err
		}
		for _, line := range strings.Split(strings.TrimSuffix(string(old), "\n"), "\n") {
			if f := strings.Fields(line); len(f) > 0 && names[f[0]] {
				continue
			}
			kept = append(kept, line)
		}
		if len(kept) == 1 && kept[0] == "" {
			kept = nil
		}
	} else if err := s.mkdirs(n.Dir); err != nil {
		return err
	}
	text := strings.Join(append(kept, lines...), "\n") + "\n"
	return s.writeFile(n, m, func(w io.Writer) error {
		_, err := io.WriteString(w, text)
		return err
	})
}
