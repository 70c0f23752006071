// Package upcloud is the UpCloud platform (upcloud). The metadata
// service, reachable on every DHCP-configured interface when the server
// has it enabled, serves the user data at
// http://169.254.169.254/metadata/v1/user_data, a plain GET; 404 or an
// empty answer means none.
package upcloud

import (
	"context"
	"fmt"
	"net/http"

	"github.com/ignition-go/ignition/config"
	"github.com/ignition-go/ignition/internal/providers"
	"github.com/ignition-go/ignition/internal/resource"
)

// baseURL is the UpCloud metadata service; userDataPath is where it keeps the user data.
const (
	baseURL      = "http://169.254.169.254"
	userDataPath = "/metadata/v1/user_data"
)

// Fetch returns the user data from the UpCloud metadata service.
func Fetch(ctx context.Context, h providers.Host) ([]byte, error) {
	return fetchFrom(ctx, h, baseURL)
}

// fetchFrom is Fetch against the service at base (tests serve it locally).
func fetchFrom(ctx context.Context, h providers.Host, base string) ([]byte, error) {
	url := base + userDataPath
	h.Log.Info("fetching the user data from %s", url)
	raw, err := h.Fetcher.FetchBytes(ctx, resource.Request{URL: url}, config.MaxSize)
	switch {
	case resource.HTTPStatus(err) == http.StatusNotFound:
		return nil, fmt.Errorf("%w: %s answered 404 Not Found", providers.ErrNoConfig, url)
	case err != nil:
		return nil, err
	case len(raw) == 0:
		return nil, fmt.Errorf("%w: the user data at %s is empty", providers.ErrNoConfig, url)
	}
	cfg, err := providers.MaybeGunzip(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	return cfg, nil
}
