// Package akamai is the Akamai Connected Cloud (Linode) platform (akamai).
// Its metadata service at 169.254.169.254 (IPv6 fd00:a9fe:a9fe::1) wants
// a session token on every request: PUT /v1/token with the header
// Metadata-Token-Expiry-Seconds returns the token as text, and GET
// /v1/user-data with the header Metadata-Token returns the user data,
// base64-encoded as it was submitted. An empty answer or 404 means the
// instance has no user data.
package akamai

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"

	"github.com/ignition-go/ignition/config"
	"github.com/ignition-go/ignition/internal/providers"
	"github.com/ignition-go/ignition/internal/resource"
)

// baseURL is the metadata service.
const baseURL = "http://169.254.169.254"

const (
	tokenPath    = "/v1/token"
	userDataPath = "/v1/user-data"
	// tokenTTL is how long the token lives; one fetch needs far less,
	// and the service's maximum is hours.
	tokenTTL = 300
	// maxToken bounds the token's size; real ones are tens of bytes.
	maxToken = 4096
)

// Fetch returns the user data from the metadata service.
func Fetch(ctx context.Context, h providers.Host) ([]byte, error) {
	return fetchFrom(ctx, h, baseURL)
}

// fetchFrom is Fetch against the service at base (tests serve it locally).
func fetchFrom(ctx context.Context, h providers.Host, base string) ([]byte, error) {
	h.Log.Info("asking %s for a metadata token", base+tokenPath)
	token, err := h.Fetcher.FetchBytes(ctx, resource.Request{
		URL:     base + tokenPath,
		Method:  http.MethodPut,
		Headers: http.Header{"Metadata-Token-Expiry-Seconds": {strconv.Itoa(tokenTTL)}},
	}, maxToken)
	if err != nil {
		return nil, fmt.Errorf("getting a metadata token: %w", err)
	}
	token = bytes.TrimSpace(token)
	if len(token) == 0 {
		return nil, fmt.Errorf("getting a metadata token: %s answered an empty token", base+tokenPath)
	}

	url := base + userDataPath
	h.Log.Info("fetching the user data from %s", url)
	raw, err := h.Fetcher.FetchBytes(ctx, resource.Request{
		URL:     url,
		Headers: http.Header{"Metadata-Token": {string(token)}},
	}, base64.StdEncoding.EncodedLen(config.MaxSize)+2)
	raw = bytes.TrimSpace(raw)
	switch {
	case resource.HTTPStatus(err) == http.StatusNotFound:
		return nil, fmt.Errorf("%w: %s answered 404 Not Found", providers.ErrNoConfig, url)
	case err != nil:
		return nil, err
	case len(raw) == 0:
		return nil, fmt.Errorf("%w: the user data at %s is empty", providers.ErrNoConfig, url)
	}
	raw, err = base64.StdEncoding.AppendDecode(nil, raw)
	if err != nil {
		return nil, fmt.Errorf("the user data at %s is not base64: %w", url, err)
	}
	cfg, err := providers.MaybeGunzip(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	return cfg, nil
}
