// Package v3_0 describes spec 3.0.0, the first 3.x spec and the base every
// later version extends.
package v3_0

import "github.com/ignition-go/ignition/config/spec"

// Spec is 3.0.0.
var Spec = func() spec.Spec {
	s := spec.New("3.0.0", nil)
	// Whole subtrees; keys later versions added are listed by those versions.
	s.Keys = []string{"ignition", "storage", "systemd", "passwd"}
	s.Schemes = []string{"http", "https", "tftp", "s3", "data"}
	s.Hashes = []string{"sha512"}
	s.Formats = []string{"ext4", "btrfs", "xfs", "swap", "vfat"}
	return s
}()
