// Package aliyun is the Alibaba Cloud platform (aliyun). The ECS
// metadata service at 100.100.100.200 serves the instance's user data at
// /latest/user-data: a plain GET, no token or header. An instance created
// without user data gets 404, which means no user config.
package aliyun

import (
	"context"

	"github.com/ignition-go/ignition/internal/providers"
	"github.com/ignition-go/ignition/internal/resource"
)

// UserDataURL is where the ECS metadata service keeps the user data.
const UserDataURL = "http://100.100.100.200/latest/user-data"

// Fetch returns the user data from the ECS metadata service.
func Fetch(ctx context.Context, h providers.Host) ([]byte, error) {
	return providers.UserData(ctx, h, resource.Request{URL: UserDataURL})
}
