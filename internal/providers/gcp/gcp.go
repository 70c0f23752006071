// Package gcp is the "gcp" platform (Google Compute Engine): the config is
// the instance metadata attribute "user-data", served by the metadata
// server at http://169.254.169.254/computeMetadata/v1/instance/attributes/user-data
// (metadata.google.internal is that address; using it directly needs no
// DNS, which may not be up this early).
//
// Every request carries "Metadata-Flavor: Google", without which the
// metadata server refuses it (403). Server errors and refused connections
// are retried until the fetch timeout. A 404 means the instance has no
// user-data attribute: no user config. Gzip-compressed user data is
// accepted.
package gcp

import (
	"context"
	"net/http"

	"github.com/ignition-go/ignition/internal/providers"
	"github.com/ignition-go/ignition/internal/resource"
)

// MetadataURL is the metadata server.
const MetadataURL = "http://169.254.169.254"

const userDataPath = "/computeMetadata/v1/instance/attributes/user-data"

// Fetch returns the instance's user-data attribute.
func Fetch(ctx context.Context, h providers.Host) ([]byte, error) {
	return fetchFrom(ctx, h, MetadataURL)
}

func fetchFrom(ctx context.Context, h providers.Host, base string) ([]byte, error) {
	return providers.UserData(ctx, h, resource.Request{
		URL:     base + userDataPath,
		Headers: http.Header{"Metadata-Flavor": {"Google"}},
	})
}
