package exec

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/coreos/vcontext/report"

	"github.com/ignition-go/ignition/config"
	"github.com/ignition-go/ignition/config/spec"
	"github.com/ignition-go/ignition/config/types"
)

// The config cache is the JSON of the final canonical config, written by
// the fetch stages and read by every later stage. It holds the config with
// every child already merged in (the ignition.config entries that named
// them are kept, as merging keeps them, but must not be fetched again).

// WriteCache writes cfg to path atomically: to a temporary file in the
// same dir, synced, renamed over path, and the dir synced. The file has
// mode 0600 (a config may hold secrets); missing parent dirs are created
// with 0755. A config that ReadCache would refuse is not written.
func WriteCache(path string, cfg types.Config) (err error) {
	raw, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("encoding the config cache: %w", err)
	}
	if _, rpt, err := config.Parse(raw); err != nil {
		return fmt.Errorf("not writing the config cache %s: %w", path, assembledError(err, rpt))
	}
	raw = append(raw, '\n')

	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("writing the config cache: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("writing the config cache: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
			err = fmt.Errorf("writing the config cache %s: %w", path, err)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	if _, err := f.Write(raw); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// ReadCache reads the config cache. A missing cache is an error wrapping
// fs.ErrNotExist; one that does not parse is an error naming the file.
func ReadCache(path string) (types.Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return types.Config{}, fmt.Errorf("reading the config cache: %w", err)
	}
	cfg, rpt, err := config.Parse(raw)
	if err != nil {
		var lines []string
		for _, e := range rpt.Entries {
			if e.Kind.IsFatal() {
				lines = append(lines, e.String())
			}
		}
		msg := ""
		if len(lines) > 0 {
			msg = ":\n" + strings.Join(lines, "\n")
		}
		return types.Config{}, fmt.Errorf("the config cache %s is corrupted (remove it to fetch the config again): %w%s", path, err, msg)
	}
	return cfg, nil
}

// stampVersion gives the assembled config the spec version it is valid
// under: the latest stable one, or else an experimental one (merging takes
// each child's version, so the version left over says nothing about what
// the config uses). A config valid under none is an error listing each
// problem by path (line:column would point into JSON nobody wrote).
func stampVersion(cfg types.Config) (types.Config, error) {
	candidates := []*spec.Spec{config.Latest}
	for i := len(config.Versions) - 1; i >= 0; i-- {
		if s := config.Versions[i]; s.Experimental() {
			candidates = append(candidates, s)
		}
	}
	var first error
	for _, s := range candidates {
		cfg.Ignition.Version = s.String()
		raw, err := json.Marshal(cfg)
		if err != nil {
			return types.Config{}, fmt.Errorf("encoding the assembled config: %w", err)
		}
		_, rpt, err := config.ParseVersion(raw, s)
		if err == nil {
			return cfg, nil
		}
		if first == nil {
			first = assembledError(err, rpt)
		}
	}
	return types.Config{}, first
}

// assembledError describes why the merged config does not parse.
func assembledError(err error, rpt report.Report) error {
	var lines []string
	for _, e := range rpt.Entries {
		if e.Kind.IsFatal() {
			lines = append(lines, fmt.Sprintf("%s at %s: %s", e.Kind, e.Context, e.Message))
		}
	}
	if len(lines) == 0 {
		return fmt.Errorf("the assembled config is not valid: %w", err)
	}
	return fmt.Errorf("the assembled config (base configs and user config merged) is not valid: %w:\n%s", err, strings.Join(lines, "\n"))
}
