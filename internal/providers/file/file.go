// Package file is the "file" platform, for tests and for running by hand:
// the config is a local file, named by $IGNITION_CONFIG_FILE.
package file

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/ignition-go/ignition/config"
	"github.com/ignition-go/ignition/internal/providers"
)

// ConfigFileEnv names the file the provider reads; DefaultConfigFile is
// used when it is unset or empty (relative to the working directory).
const (
	ConfigFileEnv     = "IGNITION_CONFIG_FILE"
	DefaultConfigFile = "./config.ign"
)

// Fetch reads the config file. A missing file means no config.
func Fetch(_ context.Context, h providers.Host) ([]byte, error) {
	path := DefaultConfigFile
	if v, ok := h.Getenv(ConfigFileEnv); ok && v != "" {
		path = v
	}
	h.Log.Info("reading config from file %q", path)
	raw, err := config.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		h.Log.Info("no config file at %q", path)
		return nil, fmt.Errorf("%w: %s does not exist", providers.ErrNoConfig, path)
	}
	return raw, err
}
