// Package v3_4 describes spec 3.4.0: LUKS discard and open options, Tang
// advertisements, and S3 ARNs (arn:) as sources.
package v3_4

import (
	"github.com/ignition-go/ignition/config/spec"
	"github.com/ignition-go/ignition/config/v3_3"
)

// Spec is 3.4.0.
var Spec = func() spec.Spec {
	s := spec.New("3.4.0", &v3_3.Spec)
	s.Keys = []string{
		"storage.luks.discard",
		"storage.luks.openOptions",
		"storage.luks.clevis.tang.advertisement",
	}
	s.Schemes = []string{"arn"}
	return s
}()
