// Package v3_5 describes spec 3.5.0: IBM Crypto Express (cex) LUKS volumes.
package v3_5

import (
	"github.com/ignition-go/ignition/config/spec"
	"github.com/ignition-go/ignition/config/v3_4"
)

// Spec is 3.5.0.
var Spec = func() spec.Spec {
	s := spec.New("3.5.0", &v3_4.Spec)
	s.Keys = []string{"storage.luks.cex"}
	return s
}()
