// Package v3_2 describes spec 3.2.0: LUKS volumes (with Clevis), partition
// resizing, user and group deletion, and gs:// URLs.
package v3_2

import (
	"github.com/ignition-go/ignition/config/spec"
	"github.com/ignition-go/ignition/config/v3_1"
)

// Spec is 3.2.0.
var Spec = func() spec.Spec {
	s := spec.New("3.2.0", &v3_1.Spec)
	s.Keys = []string{
		"storage.luks",
		"storage.disks.partitions.resize",
		"passwd.users.shouldExist",
		"passwd.groups.shouldExist",
	}
	s.Schemes = []string{"gs"}
	return s
}()
