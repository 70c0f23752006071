// Package vultr is the Vultr platform (vultr). Vultr's metadata API
// (http://169.254.169.254/v1/, GET, no authentication) serves the user
// data at /v1/user-data; 404 or an empty answer means none, 5xx is retried
// (the API documents 500 and 503 as "try again later").
package vultr

import (
	"context"

	"github.com/ignition-go/ignition/internal/providers"
	"github.com/ignition-go/ignition/internal/resource"
)

// UserDataURL is where the Vultr metadata service keeps the user data.
const UserDataURL = "http://169.254.169.254/v1/user-data"

// Fetch returns the user data from the Vultr metadata service.
func Fetch(ctx context.Context, h providers.Host) ([]byte, error) {
	return providers.UserData(ctx, h, resource.Request{URL: UserDataURL})
}
