//go:build amd64 || 386

package vmware

import "github.com/vmware/vmw-guestinfo/rpcvmx"

func backdoorGet(key string) (string, error) {
	return rpcvmx.NewConfig().String(key, "")
}

func backdoorSet(key, value string) error {
	return rpcvmx.NewConfig().SetString(key, value)
}
