// Package packet is the "packet" platform (Equinix Metal, formerly
// Packet): the config is the server's user data, served by the metadata
// service at https://metadata.platformequinix.com/userdata (over TLS, so
// the name must resolve and the certificate must verify; the initramfs
// brings up DNS with the network). No headers or tokens are needed.
// Server errors and refused connections are retried until the fetch
// timeout; a 404 or an empty answer means the server has no user data: no
// user config. Gzip-compressed user data is accepted.
//
// Reporting provisioning status to the phone-home URL of the server's
// metadata is not done.
package packet

import (
	"context"
	"fmt"
	"net/http"

	"github.com/ignition-go/ignition/config"
	"github.com/ignition-go/ignition/internal/providers"
	"github.com/ignition-go/ignition/internal/resource"
)

// MetadataURL is the metadata service.
const MetadataURL = "https://metadata.platformequinix.com"

// Fetch returns the server's user data.
func Fetch(ctx context.Context, h providers.Host) ([]byte, error) {
	return fetchFrom(ctx, h, MetadataURL)
}

func fetchFrom(ctx context.Context, h providers.Host, base string) ([]byte, error) {
	url := base + "/userdata"
	h.Log.Info("fetching the user data from %s", url)
	raw, err := h.Fetcher.FetchBytes(ctx, resource.Request{URL: url}, config.MaxSize)
	if resource.HTTPStatus(err) == http.StatusNotFound {
		h.Log.Info("the server has no user data (%s answered 404)", url)
		return nil, fmt.Errorf("%w: the server has no user data", providers.ErrNoConfig)
	}
	if err != nil {
		return nil, fmt.Errorf("the metadata service: %w", err)
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("%w: the server's user data is empty", providers.ErrNoConfig)
	}
	return providers.MaybeGunzip(raw)
}
