// Package platform knows where each platform keeps the user's config: a
// file, a metadata service, a hypervisor channel. The fetch stages ask the
// platform named on the command line (-platform) for the config when the
// kernel command line and the system config dirs have none.
//
// Platforms are listed in one explicit table, with no init-time
// registration: adding a platform is adding one entry to it.
package platform

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/ignition-go/ignition/config"
	"github.com/ignition-go/ignition/internal/log"
	"github.com/ignition-go/ignition/internal/resource"
)

// ErrNoConfig is returned (wrapped or not) by a platform that has looked
// and found that the user supplied no config. It is not a failure: the
// machine is provisioned from the base configs alone.
var ErrNoConfig = errors.New("the platform provides no config")

// Host is what a platform may use of the machine: every fetch goes through
// Fetcher (which is offline in the fetch-offline stage, so a platform that
// needs the network gets resource.ErrNeedsNetwork from it), messages go to
// Log and the environment is read through Getenv, so tests can replace all
// three. Every field must be set.
type Host struct {
	Fetcher *resource.Fetcher
	Log     *log.Logger
	Getenv  func(key string) (string, bool)
}

// Platform is one entry of the table.
type Platform struct {
	// Name is the platform id given with -platform (e.g. "file", "qemu").
	Name string
	// Fetch returns the raw user config. It returns ErrNoConfig when the
	// user gave none; an empty config with a nil error is not "no config"
	// but a config that failed to arrive, which the caller reports.
	Fetch func(ctx context.Context, h Host) ([]byte, error)
}

// platforms is the table, kept sorted by name.
var platforms = []Platform{
	{Name: "file", Fetch: fetchFile},
}

// Get returns the platform with the given id, or an error listing the
// known ones.
func Get(name string) (Platform, error) {
	for _, p := range platforms {
		if p.Name == name {
			return p, nil
		}
	}
	return Platform{}, fmt.Errorf("unknown platform %q; known platforms: %s", name, strings.Join(Names(), ", "))
}

// Names returns the ids of every known platform, sorted.
func Names() []string {
	names := make([]string, len(platforms))
	for i, p := range platforms {
		names[i] = p.Name
	}
	sort.Strings(names)
	return names
}

// ConfigFileEnv names the file the "file" platform reads; DefaultConfigFile
// is used when it is unset or empty (relative to the working directory).
const (
	ConfigFileEnv     = "IGNITION_CONFIG_FILE"
	DefaultConfigFile = "./config.ign"
)

// fetchFile is the "file" platform, for testing and for running by hand: the
// config is a local file. A missing file means no config.
func fetchFile(_ context.Context, h Host) ([]byte, error) {
	path := DefaultConfigFile
	if v, ok := h.Getenv(ConfigFileEnv); ok && v != "" {
		path = v
	}
	h.Log.Info("reading config from file %q", path)
	raw, err := config.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		h.Log.Info("no config file at %q", path)
		return nil, fmt.Errorf("%w: %s does not exist", ErrNoConfig, path)
	}
	return raw, err
}
