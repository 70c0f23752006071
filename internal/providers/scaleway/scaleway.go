// Package scaleway is the "scaleway" platform: the config is the
// instance's "cloud-init" user data key, served by the metadata service
// at http://169.254.42.42/user_data/cloud-init.
//
// Scaleway serves user data only to connections from a privileged source
// port (below 1024), which only root can bind, so that unprivileged
// software on the instance cannot read it; the request is made from such
// a port (resource.Request.PrivilegedPort). Server errors and refused
// connections are retried until the fetch timeout; a 404 or an empty
// answer means the instance has no such key: no user config.
// Gzip-compressed user data is accepted.
package scaleway

import (
	"context"
	"fmt"
	"net/http"

	"github.com/ignition-go/ignition/config"
	"github.com/ignition-go/ignition/internal/providers"
	"github.com/ignition-go/ignition/internal/resource"
)

// MetadataURL is the metadata service.
const MetadataURL = "http://169.254.42.42"

// Fetch returns the instance's cloud-init user data.
func Fetch(ctx context.Context, h providers.Host) ([]byte, error) {
	return fetchFrom(ctx, h, MetadataURL)
}

func fetchFrom(ctx context.Context, h providers.Host, base string) ([]byte, error) {
	url := base + "/user_data/cloud-init"
	h.Log.Info("fetching the user data from %s from a privileged port", url)
	req := resource.Request{URL: url, Accept: "text/plain", PrivilegedPort: true}
	raw, err := h.Fetcher.FetchBytes(ctx, req, config.MaxSize)
	if resource.HTTPStatus(err) == http.StatusNotFound {
		h.Log.Info("the instance has no cloud-init user data (%s answered 404)", url)
		return nil, fmt.Errorf("%w: the instance has no cloud-init user data", providers.ErrNoConfig)
	}
	if err != nil {
		return nil, fmt.Errorf("the metadata service: %w", err)
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("%w: the instance's cloud-init user data is empty", providers.ErrNoConfig)
	}
	return providers.MaybeGunzip(raw)
}
