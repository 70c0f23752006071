// Package v3_3 describes spec 3.3.0: kernel arguments and the filesystem
// format "none"; link targets and RAID levels became required.
package v3_3

import (
	"github.com/ignition-go/ignition/config/spec"
	"github.com/ignition-go/ignition/config/v3_2"
)

// Spec is 3.3.0.
var Spec = func() spec.Spec {
	s := spec.New("3.3.0", &v3_2.Spec)
	s.Keys = []string{"kernelArguments"}
	s.Formats = []string{"none"}
	s.Rules = []spec.Rule{spec.LinkTargetRequired, spec.RaidLevelRequired, spec.ClevisPinRequired}
	return s
}()
