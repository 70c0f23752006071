// Package oraclecloud is the Oracle Cloud Infrastructure platform
// (oraclecloud). The instance metadata service's version 2 endpoints
// (/opc/v2, the only ones left when an instance disables IMDSv1) require
// the header "Authorization: Bearer Oracle". The user data is the custom
// metadata key user_data, which OCI stores base64-encoded:
// http://169.254.169.254/opc/v2/instance/metadata/user_data. 404 means
// the key is absent: no user config.
package oraclecloud

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"

	"github.com/ignition-go/ignition/config"
	"github.com/ignition-go/ignition/internal/providers"
	"github.com/ignition-go/ignition/internal/resource"
)

// baseURL is the OCI instance metadata service; userDataPath is where
// it keeps the user data.
const (
	baseURL      = "http://169.254.169.254"
	userDataPath = "/opc/v2/instance/metadata/user_data"
)

// Fetch returns the user data from the OCI instance metadata service.
func Fetch(ctx context.Context, h providers.Host) ([]byte, error) {
	return fetchFrom(ctx, h, baseURL)
}

// fetchFrom is Fetch against the service at base (tests serve it locally).
func fetchFrom(ctx context.Context, h providers.Host, base string) ([]byte, error) {
	url := base + userDataPath
	h.Log.Info("fetching the user data from %s", url)
	raw, err := h.Fetcher.FetchBytes(ctx, resource.Request{URL: url, Headers: http.Header{"Authorization": {"Bearer Oracle"}}}, base64.StdEncoding.EncodedLen(config.MaxSize)+2)
	switch {
	case resource.HTTPStatus(err) == http.StatusNotFound:
		return nil, fmt.Errorf("%w: %s answered 404 Not Found", providers.ErrNoConfig, url)
	case err != nil:
		return nil, err
	case len(bytes.TrimSpace(raw)) == 0:
		return nil, fmt.Errorf("%w: the user data at %s is empty", providers.ErrNoConfig, url)
	}
	// The service returns the stored base64 text as is.
	raw, err = base64.StdEncoding.AppendDecode(nil, bytes.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("the user data at %s is not base64: %w", url, err)
	}
	cfg, err := providers.MaybeGunzip(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	return cfg, nil
}
