// Package vultr is the Vultr platform (vultr). Vultr's metadata API
// (http://169.254.169.254/v1/, GET, no authentication) serves the user
// data at /v1/user-data; 404 or an empty answer means none, 5xx is retried
// (the API documents 500 and 503 as "try again later").
package vultr

import (
	"context"
	"fmt"
	"net/http"

	"github.com/ignition-go/ignition/config"
	"github.com/ignition-go/ignition/internal/providers"
	"github.com/ignition-go/ignition/internal/resource"
)

// baseURL is the Vultr metadata API; userDataPath is where it keeps the user data.
const (
	baseURL      = "http://169.254.169.254"
	userDataPath = "/v1/user-data"
)

// Fetch returns the user data from the Vultr metadata API.
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
