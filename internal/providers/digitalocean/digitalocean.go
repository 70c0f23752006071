// Package digitalocean is the "digitalocean" platform: the config is the
// droplet's user data, served by the metadata service at
// http://169.254.169.254/metadata/v1/user-data. No headers or tokens are
// needed. Server errors and refused connections are retried until the
// fetch timeout; a 404 or an empty answer means the droplet has no user
// data: no user config. Gzip-compressed user data is accepted.
package digitalocean

import (
	"context"

	"github.com/ignition-go/ignition/internal/providers"
	"github.com/ignition-go/ignition/internal/resource"
)

// UserDataURL is where the droplet metadata service keeps the user data.
const UserDataURL = "http://169.254.169.254/metadata/v1/user-data"

// Fetch returns the user data from the droplet metadata service.
func Fetch(ctx context.Context, h providers.Host) ([]byte, error) {
	return providers.UserData(ctx, h, resource.Request{URL: UserDataURL})
}
