// Package vmware is the "vmware" platform. The user gives the config as
// VMware guestinfo variables of the VM:
//
//	guestinfo.ignition.config.data           the config
//	guestinfo.ignition.config.data.encoding  "" (or "none"), "base64" or
//	                                         "gzip+base64"
//
// either directly (in the .vmx, or with govc/vmware-cmd) or as properties
// of the VM's OVF environment, which VMware hands the guest as the XML
// document in guestinfo.ovfEnv (<Property oe:key="guestinfo.ignition.
// config.data" oe:value="…"/> in its PropertySection). Variables set
// directly win over the OVF environment. Neither set means no config.
//
// The guest reads and writes guestinfo through the VMware "backdoor", an
// I/O port that only a VMware hypervisor answers (elsewhere the access
// faults) and that exists only on x86. The backdoor is therefore used only
// when DMI says the machine is a VMware VM, and this package reaches it
// (with github.com/vmware/vmw-guestinfo) through a small interface that
// tests replace.
//
// Any process in the guest can read guestinfo, so once provisioning
// succeeded DeleteConfig (ignition-rmcfg) empties the two variables. The
// OVF environment is the hypervisor's to change, not the guest's: a config
// found only there is left in place, with a warning.
package vmware

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ignition-go/ignition/config"
	"github.com/ignition-go/ignition/internal/providers"
)

// Variable names, without the "guestinfo." prefix the backdoor adds.
const (
	dataKey     = "ignition.config.data"
	encodingKey = "ignition.config.data.encoding"
	ovfEnvKey   = "ovfEnv"
	// ovfPrefix is how OVF properties name guestinfo variables.
	ovfPrefix = "guestinfo."
)

// SysVendorPath is where DMI names the machine's maker.
const SysVendorPath = "/sys/class/dmi/id/sys_vendor"

// hypervisor is what the provider needs of the machine.
type hypervisor interface {
	// SysVendor returns DMI's system vendor.
	SysVendor() (string, error)
	// Get returns guestinfo.<key>, "" when unset.
	Get(key string) (string, error)
	// Set sets guestinfo.<key>.
	Set(key, value string) error
}

// host is the real machine: DMI from sysfs, guestinfo through the backdoor.
type host struct{}

func (host) SysVendor() (string, error) {
	b, err := os.ReadFile(SysVendorPath)
	return strings.TrimSpace(string(b)), err
}

func (host) Get(key string) (string, error) { return backdoorGet(key) }
func (host) Set(key, value string) error    { return backdoorSet(key, value) }

// Fetch returns the config from guestinfo, or ErrNoConfig.
func Fetch(_ context.Context, h providers.Host) ([]byte, error) {
	return fetch(h, host{})
}

// DeleteConfig empties the guestinfo variables holding the config.
func DeleteConfig(_ context.Context, h providers.Host) error {
	return deleteConfig(h, host{})
}

// checkVMware refuses machines DMI does not call VMware VMs: there, the
// backdoor's I/O port access would fault.
func checkVMware(hv hypervisor) error {
	v, err := hv.SysVendor()
	if err != nil {
		return fmt.Errorf("not using the VMware backdoor: cannot tell this is a VMware VM: %w", err)
	}
	if !strings.Contains(strings.ToLower(v), "vmware") {
		return fmt.Errorf("not using the VMware backdoor: this is not a VMware VM (DMI system vendor %q)", v)
	}
	return nil
}

// source is where the config was found.
type source struct {
	data, encoding string
	where          string // for messages
	ovf            bool
}

// find looks for the config: guestinfo first, then the OVF environment.
func find(hv hypervisor) (source, error) {
	data, err := hv.Get(dataKey)
	if err != nil {
		return source{}, fmt.Errorf("reading guestinfo.%s: %w", dataKey, err)
	}
	if strings.TrimSpace(data) != "" {
		enc, err := hv.Get(encodingKey)
		if err != nil {
			return source{}, fmt.Errorf("reading guestinfo.%s: %w", encodingKey, err)
		}
		return source{data: data, encoding: enc, where: "guestinfo." + dataKey}, nil
	}
	env, err := hv.Get(ovfEnvKey)
	if err != nil {
		return source{}, fmt.Errorf("reading guestinfo.%s: %w", ovfEnvKey, err)
	}
	if strings.TrimSpace(env) == "" {
		return source{}, nil
	}
	props, err := parseOVFEnv(env)
	if err != nil {
		return source{}, fmt.Errorf("guestinfo.%s: %w", ovfEnvKey, err)
	}
	if d := props[ovfPrefix+dataKey]; strings.TrimSpace(d) != "" {
		return source{data: d, encoding: props[ovfPrefix+encodingKey], where: "the OVF environment's property " + ovfPrefix + dataKey, ovf: true}, nil
	}
	return source{}, nil
}

func fetch(h providers.Host, hv hypervisor) ([]byte, error) {
	if err := checkVMware(hv); err != nil {
		return nil, err
	}
	src, err := find(hv)
	if err != nil {
		return nil, err
	}
	if src.data == "" {
		return nil, fmt.Errorf("%w: neither guestinfo.%s nor the OVF environment holds a config", providers.ErrNoConfig, dataKey)
	}
	h.Log.Info("using the config in %s (encoding %q)", src.where, src.encoding)
	raw, err := decode(src.data, src.encoding)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src.where, err)
	}
	return raw, nil
}

func deleteConfig(h providers.Host, hv hypervisor) error {
	if err := checkVMware(hv); err != nil {
		return err
	}
	src, err := find(hv)
	if err != nil {
		return err
	}
	switch {
	case src.data == "":
		h.Log.Info("guestinfo holds no config; nothing to delete")
		return nil
	case src.ovf:
		h.Log.Warning("the config is in the VM's OVF environment, which the guest cannot change; remove it from the VM's vApp properties")
		return nil
	}
	for _, key := range []string{dataKey, encodingKey} {
		if err := empty(hv, key); err != nil {
			return err
		}
	}
	h.Log.Info("emptied guestinfo.%s and guestinfo.%s", dataKey, encodingKey)
	return nil
}

// empty clears a variable and checks that it is clear: the backdoor does
// not say whether a set worked, and some VMware versions refuse an empty
// value, so a single space (which every reader trims) is the fallback.
func empty(hv hypervisor, key string) error {
	for _, v := range []string{"", " "} {
		if err := hv.Set(key, v); err != nil {
			return fmt.Errorf("emptying guestinfo.%s: %w", key, err)
		}
		got, err := hv.Get(key)
		if err != nil {
			return fmt.Errorf("checking guestinfo.%s: %w", key, err)
		}
		if strings.TrimSpace(got) == "" {
			return nil
		}
	}
	return fmt.Errorf("guestinfo.%s still holds a value after emptying it", key)
}

// decode turns the variable's value into the config.
func decode(data, encoding string) ([]byte, error) {
	switch strings.TrimSpace(encoding) {
	case "", "none":
		return providers.MaybeGunzip([]byte(data))
	case "base64":
		return decodeBase64(data)
	case "gzip+base64":
		z, err := decodeBase64(data)
		if err != nil {
			return nil, err
		}
		zr, err := gzip.NewReader(bytes.NewReader(z))
		if err != nil {
			return nil, fmt.Errorf("encoding gzip+base64: not gzip data: %w", err)
		}
		out, err := io.ReadAll(io.LimitReader(zr, config.MaxSize+1))
		if err != nil {
			return nil, fmt.Errorf("encoding gzip+base64: decompressing: %w", err)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("unknown encoding %q in guestinfo.%s (want \"\", \"base64\" or \"gzip+base64\")", encoding, encodingKey)
	}
}

// decodeBase64 decodes standard base64, padded or not; white space (line
// breaks from tools that wrap their output) is ignored.
func decodeBase64(s string) ([]byte, error) {
	s = strings.Join(strings.Fields(s), "")
	enc := base64.StdEncoding
	if len(s)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("encoding base64: %w", err)
	}
	return b, nil
}

// ovfEnv is the part of an OVF environment document the provider reads.
type ovfEnv struct {
	Properties []struct {
		Key   string `xml:"key,attr"`
		Value string `xml:"value,attr"`
	} `xml:"PropertySection>Property"`
}

// parseOVFEnv returns the properties of an OVF environment document.
func parseOVFEnv(doc string) (map[string]string, error) {
	var env ovfEnv
	if err := xml.Unmarshal([]byte(doc), &env); err != nil {
		return nil, fmt.Errorf("parsing the OVF environment: %w", err)
	}
	props := map[string]string{}
	for _, p := range env.Properties {
		props[p.Key] = p.Value
	}
	return props, nil
}
