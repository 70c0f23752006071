// Package version holds the build's version string, stamped by ./build
// from `git describe` through -ldflags -X.
package version

// Raw is the version, e.g. "v0.1.0-12-gabcdef0". Set at link time.
var Raw = "was-not-built-properly"

// String is what --version prints for a program named name.
func String(name string) string {
	return name + " " + Raw
}
