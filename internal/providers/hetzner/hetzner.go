// Package hetzner is the "hetzner" platform (Hetzner Cloud): the config is
// the server's user data, served by the metadata service at
// http://169.254.169.254/hetzner/v1/userdata. No headers or tokens are
// needed. Server errors and refused connections are retried until the
// fetch timeout; a 404 or an empty answer means the server has no user
// data: no user config. Gzip-compressed user data is accepted.
package hetzner

import (
	"context"

	"github.com/ignition-go/ignition/internal/providers"
	"github.com/ignition-go/ignition/internal/resource"
)

// UserDataURL is where the Hetzner Cloud metadata service keeps the user data.
const UserDataURL = "http://169.254.169.254/hetzner/v1/userdata"

// Fetch returns the user data from the Hetzner Cloud metadata service.
func Fetch(ctx context.Context, h providers.Host) ([]byte, error) {
	return providers.UserData(ctx, h, resource.Request{URL: UserDataURL})
}
