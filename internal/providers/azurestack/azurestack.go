// Package azurestack is the "azurestack" platform (Microsoft Azure Stack
// Hub). The config is the VM's custom data, which Azure Stack Hub hands
// over in the CustomData element (base64) of ovf-env.xml on the
// provisioning CD-ROM, read as on Azure (see azure.CustomData). Azure
// Stack Hub's IMDS is a late preview (build 1.2108 on) whose documented
// differences from Azure's include customData, and user data is not
// documented for it, so it is not asked: waiting for an IMDS that is not
// there would cost the whole fetch timeout. No CD, or no custom data on
// it: no user config.
package azurestack

import (
	"context"

	"github.com/ignition-go/ignition/internal/providers"
	"github.com/ignition-go/ignition/internal/providers/azure"
)

// Fetch returns the VM's custom data.
func Fetch(ctx context.Context, h providers.Host) ([]byte, error) {
	return azure.CustomData(ctx, h)
}
