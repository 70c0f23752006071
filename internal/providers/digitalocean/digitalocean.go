// Package digitalocean is the "digitalocean" platform: the config is the
// droplet's user data, served by the metadata service at
// http://169.254.169.254/metadata/v1/user-data. No headers or tokens are
// needed. Server errors and refused connections are retried until the
// fetch timeout; a 404 or an empty answer means the droplet has no user
// data: no user config. Gzip-compressed user data is accepted.
package digitalocean

import (
	"context"
	"fmt"
	"net/http"

	"github.com/ignition-go/ignition/config"
	"github.com/ignition-go/ignition/internal/providers"
	"github.com/ignition-go/ignition/internal/resource"
)

// MetadataURL is the metadata service.
const MetadataURL = "http://169.254.169.254"

// Fetch returns the droplet's user data.
func Fetch(ctx context.Context, h providers.Host) ([]byte, error) {
	return fetchFrom(ctx, h, MetadataURL)
}

func fetchFrom(ctx context.Context, h providers.Host, base string) ([]byte, error) {
	url := base + "/metadata/v1/user-data"
	h.Log.Info("fetching the user data from %s", url)
	raw, err := h.Fetcher.FetchBytes(ctx, resource.Request{URL: url}, config.MaxSize)
	if resource.HTTPStatus(err) == http.StatusNotFound {
		h.Log.Info("the droplet has no user data (%s answered 404)", url)
		return nil, fmt.Errorf("%w: the droplet has no user data", providers.ErrNoConfig)
	}
	if err != nil {
		return nil, fmt.Errorf("the metadata service: %w", err)
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("%w: the droplet's user data is empty", providers.ErrNoConfig)
	}
	return providers.MaybeGunzip(raw)
}
