package disks

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// LuksVolume is what the disks stage learned of a LUKS volume it made or
// kept, recorded for the files stage so that it can write /etc/crypttab
// without probing devices.
type LuksVolume struct {
	// Device is the real device the volume is on (/dev/vdb).
	Device string `json:"device"`
	// UUID is the LUKS header's UUID, the one crypttab names the
	// volume by.
	UUID string `json:"uuid"`
}

// luksRecord is the record file's contents.
type luksRecord struct {
	Volumes map[string]LuksVolume `json:"volumes"`
}

// LuksRecordPath is where the disks stage records its LUKS volumes for a
// key directory: a file beside the directory (keyDir + ".json"), not in
// it, because every name in the directory may be a volume's key.
func LuksRecordPath(keyDir string) string {
	return filepath.Clean(keyDir) + ".json"
}

// ReadLuksVolumes returns the LUKS volumes the disks stage recorded for
// keyDir, by volume name; none (and no error) if it recorded nothing.
func ReadLuksVolumes(keyDir string) (map[string]LuksVolume, error) {
	p := LuksRecordPath(keyDir)
	raw, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]LuksVolume{}, nil
	}
	if err != nil {
		return nil, err
	}
	var r luksRecord
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	if r.Volumes == nil {
		r.Volumes = map[string]LuksVolume{}
	}
	return r.Volumes, nil
}

// recordLuksVolume adds (or replaces) one volume in keyDir's record. The
// record is rewritten whole, so an earlier run's volumes are kept.
func recordLuksVolume(keyDir, name string, v LuksVolume) error {
	vols, err := ReadLuksVolumes(keyDir)
	if err != nil {
		return err
	}
	vols[name] = v
	raw, err := json.MarshalIndent(luksRecord{Volumes: vols}, "", "  ")
	if err != nil {
		return err
	}
	return writeSecretFile(LuksRecordPath(keyDir), append(raw, '\n'), 0o600)
}

// writeSecretFile replaces p with data, mode mode, through a temp file in
// the same directory, so that p never holds part of the data (or a key
// with a wider mode).
func writeSecretFile(p string, data []byte, mode os.FileMode) (err error) {
	f, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(mode); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), p)
}
