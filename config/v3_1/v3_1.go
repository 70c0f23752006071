// Package v3_1 describes spec 3.1.0: every resource gained compression and
// HTTP headers, proxies and filesystem mount options arrived, sha256 hashes
// became valid, and merged configs and CA bundles must name a source.
package v3_1

import (
	"github.com/ignition-go/ignition/config/spec"
	"github.com/ignition-go/ignition/config/v3_0"
)

// Spec is 3.1.0.
var Spec = func() spec.Spec {
	s := spec.New("3.1.0", &v3_0.Spec)
	s.Keys = []string{
		"ignition.proxy",
		"ignition.config.merge.compression",
		"ignition.config.merge.httpHeaders",
		"ignition.config.replace.compression",
		"ignition.config.replace.httpHeaders",
		"ignition.security.tls.certificateAuthorities.compression",
		"ignition.security.tls.certificateAuthorities.httpHeaders",
		"storage.files.contents.httpHeaders",
		"storage.files.append.httpHeaders",
		"storage.filesystems.mountOptions",
	}
	s.Hashes = []string{"sha256"}
	s.Rules = []spec.Rule{spec.SourceRequired}
	return s
}()
