// Package vultr is the Vultr platform (vultr). Vultr's metadata service
// (GET, no authentication) serves the user data, as stored and decoded
// from the base64 it was submitted in, at /user-data/user-data, where
// Ignition reads it (Vultr's API v1 has no user-data key: /v1/ serves
// hostname, instance id and keys). 404 or an empty answer means none;
// 5xx is retried.
package vultr

import (
	"context"

	"github.com/ignition-go/ignition/internal/providers"
	"github.com/ignition-go/ignition/internal/resource"
)

// UserDataURL is where the Vultr metadata service keeps the user data.
const UserDataURL = "http://169.254.169.254/user-data/user-data"

// Fetch returns the user data from the Vultr metadata service.
func Fetch(ctx context.Context, h providers.Host) ([]byte, error) {
	return providers.UserData(ctx, h, resource.Request{URL: UserDataURL})
}
