// Package platform knows where each platform keeps the user's config: a
// file, a metadata service, a hypervisor channel. The fetch stages ask the
// platform named on the command line (-platform) for the config when the
// kernel command line and the system config dirs have none.
//
// Platforms are listed in one explicit table, with no init-time
// registration: adding a platform is adding one entry to it. Each
// provider lives in its own package under internal/providers.
package platform

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/ignition-go/ignition/internal/providers"
	"github.com/ignition-go/ignition/internal/providers/applehv"
	"github.com/ignition-go/ignition/internal/providers/file"
	"github.com/ignition-go/ignition/internal/providers/hyperv"
	"github.com/ignition-go/ignition/internal/providers/nvidiabluefield"
	"github.com/ignition-go/ignition/internal/providers/qemu"
	"github.com/ignition-go/ignition/internal/providers/virtualbox"
	"github.com/ignition-go/ignition/internal/providers/vmware"
	"github.com/ignition-go/ignition/internal/providers/zvm"
)

// ErrNoConfig is providers.ErrNoConfig: the user gave no config.
var ErrNoConfig = providers.ErrNoConfig

// Host is what a provider may use of the machine; see providers.Host.
type Host = providers.Host

// Platform is one entry of the table.
type Platform struct {
	// Name is the platform id given with -platform (e.g. "file", "qemu").
	Name string
	// Fetch returns the raw user config. It returns ErrNoConfig when the
	// user gave none; an empty config with a nil error is not "no config"
	// but a config that failed to arrive, which the caller reports.
	Fetch providers.Fetch
	// DeleteConfig, when set, removes the config from where the platform
	// keeps it, once provisioning succeeded (ignition-rmcfg): the user
	// data may hold secrets that unprivileged software could read there.
	DeleteConfig func(ctx context.Context, h Host) error
}

// platforms is the table, kept sorted by name.
var platforms = []Platform{
	{Name: "applehv", Fetch: applehv.Fetch},
	{Name: "file", Fetch: file.Fetch},
	{Name: "hyperv", Fetch: hyperv.Fetch},
	{Name: "nvidiabluefield", Fetch: nvidiabluefield.Fetch},
	{Name: "qemu", Fetch: qemu.Fetch},
	{Name: "virtualbox", Fetch: virtualbox.Fetch, DeleteConfig: virtualbox.DeleteConfig},
	{Name: "vmware", Fetch: vmware.Fetch, DeleteConfig: vmware.DeleteConfig},
	{Name: "zvm", Fetch: zvm.Fetch},
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
