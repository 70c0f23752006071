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
	"github.com/ignition-go/ignition/internal/providers/akamai"
	"github.com/ignition-go/ignition/internal/providers/aliyun"
	"github.com/ignition-go/ignition/internal/providers/applehv"
	"github.com/ignition-go/ignition/internal/providers/aws"
	"github.com/ignition-go/ignition/internal/providers/azure"
	"github.com/ignition-go/ignition/internal/providers/azurestack"
	"github.com/ignition-go/ignition/internal/providers/brightbox"
	"github.com/ignition-go/ignition/internal/providers/cloudstack"
	"github.com/ignition-go/ignition/internal/providers/digitalocean"
	"github.com/ignition-go/ignition/internal/providers/exoscale"
	"github.com/ignition-go/ignition/internal/providers/file"
	"github.com/ignition-go/ignition/internal/providers/gcp"
	"github.com/ignition-go/ignition/internal/providers/hetzner"
	"github.com/ignition-go/ignition/internal/providers/hyperv"
	"github.com/ignition-go/ignition/internal/providers/ibmcloud"
	"github.com/ignition-go/ignition/internal/providers/kubevirt"
	"github.com/ignition-go/ignition/internal/providers/metal"
	"github.com/ignition-go/ignition/internal/providers/nutanix"
	"github.com/ignition-go/ignition/internal/providers/nvidiabluefield"
	"github.com/ignition-go/ignition/internal/providers/openstack"
	"github.com/ignition-go/ignition/internal/providers/oraclecloud"
	"github.com/ignition-go/ignition/internal/providers/packet"
	"github.com/ignition-go/ignition/internal/providers/powervs"
	"github.com/ignition-go/ignition/internal/providers/proxmoxve"
	"github.com/ignition-go/ignition/internal/providers/qemu"
	"github.com/ignition-go/ignition/internal/providers/scaleway"
	"github.com/ignition-go/ignition/internal/providers/upcloud"
	"github.com/ignition-go/ignition/internal/providers/virtualbox"
	"github.com/ignition-go/ignition/internal/providers/vmware"
	"github.com/ignition-go/ignition/internal/providers/vultr"
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
	// Status, when set, tells the platform how a stage ended (Equinix
	// Metal shows it in the server's timeline). It is best effort: the
	// caller logs its failure as a warning, and the stage's outcome
	// stands.
	Status func(ctx context.Context, h Host, stage string, stageErr error) error
}

// platforms is the table, kept sorted by name.
var platforms = []Platform{
	{Name: "akamai", Fetch: akamai.Fetch},
	{Name: "aliyun", Fetch: aliyun.Fetch},
	{Name: "applehv", Fetch: applehv.Fetch},
	{Name: "aws", Fetch: aws.Fetch},
	{Name: "azure", Fetch: azure.Fetch},
	{Name: "azurestack", Fetch: azurestack.Fetch},
	{Name: "brightbox", Fetch: brightbox.Fetch},
	{Name: "cloudstack", Fetch: cloudstack.Fetch},
	{Name: "digitalocean", Fetch: digitalocean.Fetch},
	{Name: "exoscale", Fetch: exoscale.Fetch},
	{Name: "file", Fetch: file.Fetch},
	{Name: "gcp", Fetch: gcp.Fetch},
	{Name: "hetzner", Fetch: hetzner.Fetch},
	{Name: "hyperv", Fetch: hyperv.Fetch},
	{Name: "ibmcloud", Fetch: ibmcloud.Fetch},
	{Name: "kubevirt", Fetch: kubevirt.Fetch},
	{Name: "metal", Fetch: metal.Fetch},
	{Name: "nutanix", Fetch: nutanix.Fetch},
	{Name: "nvidiabluefield", Fetch: nvidiabluefield.Fetch},
	{Name: "openstack", Fetch: openstack.Fetch},
	{Name: "oraclecloud", Fetch: oraclecloud.Fetch},
	{Name: "packet", Fetch: packet.Fetch, Status: packet.Status},
	{Name: "powervs", Fetch: powervs.Fetch},
	{Name: "proxmoxve", Fetch: proxmoxve.Fetch},
	{Name: "qemu", Fetch: qemu.Fetch},
	{Name: "scaleway", Fetch: scaleway.Fetch},
	{Name: "upcloud", Fetch: upcloud.Fetch},
	{Name: "virtualbox", Fetch: virtualbox.Fetch, DeleteConfig: virtualbox.DeleteConfig},
	{Name: "vmware", Fetch: vmware.Fetch, DeleteConfig: vmware.DeleteConfig},
	{Name: "vultr", Fetch: vultr.Fetch},
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
