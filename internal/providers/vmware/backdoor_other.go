//go:build !(amd64 || 386)

package vmware

import "errors"

// errNoBackdoor is returned on architectures without the backdoor.
var errNoBackdoor = errors.New("the VMware backdoor exists only on x86")

func backdoorGet(string) (string, error) { return "", errNoBackdoor }
func backdoorSet(string, string) error   { return errNoBackdoor }
