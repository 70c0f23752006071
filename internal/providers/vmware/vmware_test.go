package vmware

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"slices"
	"strings"
	"testing"

	"github.com/ignition-go/ignition/internal/log"
	"github.com/ignition-go/ignition/internal/providers"
)

const cfg = `{"ignition": {"version": "3.4.0"}}`

// fakeVM is a VMware VM's guestinfo; vendor is DMI's system vendor.
type fakeVM struct {
	vendor    string
	vendorErr error
	vars      map[string]string
	calls     []string
	// refuse lists values a set silently ignores, as the backdoor does
	// with what the VMX refuses.
	refuse []string
}

func (f *fakeVM) SysVendor() (string, error) { return f.vendor, f.vendorErr }

func (f *fakeVM) Get(key string) (string, error) {
	if f.vendor != "VMware, Inc." {
		panic("backdoor used outside VMware") // the real one would fault
	}
	f.calls = append(f.calls, "get "+key)
	return f.vars[key], nil
}

func (f *fakeVM) Set(key, value string) error {
	if f.vendor != "VMware, Inc." {
		panic("backdoor used outside VMware")
	}
	f.calls = append(f.calls, fmt.Sprintf("set %s=%q", key, value))
	if !slices.Contains(f.refuse, value) {
		f.vars[key] = value
	}
	return nil
}

func vm(vars map[string]string) *fakeVM { return &fakeVM{vendor: "VMware, Inc.", vars: vars} }

func hostEnv() providers.Host {
	return providers.Host{Log: log.Discard(), Getenv: func(string) (string, bool) { return "", false }}
}

func gzB64(t *testing.T, s string) string {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

func ovf(props map[string]string) string {
	var p []string
	for k, v := range props {
		p = append(p, fmt.Sprintf(`<Property oe:key="%s" oe:value="%s"/>`, k, html.EscapeString(v)))
	}
	return `<?xml version="1.0" encoding="UTF-8"?>
<Environment xmlns="http://schemas.dmtf.org/ovf/environment/1" xmlns:oe="http://schemas.dmtf.org/ovf/environment/1" xmlns:ve="http://www.vmware.com/schema/ovfenv" oe:id="" ve:vCenterId="vm-42">
  <PlatformSection><Kind>VMware ESXi</Kind><Version>8.0.2</Version></PlatformSection>
  <PropertySection>
    ` + strings.Join(p, "\n    ") + `
  </PropertySection>
</Environment>`
}

func TestFetch(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString([]byte(cfg))
	for _, tc := range []struct {
		name string
		vars map[string]string
		err  string
		none bool
	}{
		{"plain", map[string]string{dataKey: cfg}, "", false},
		{"encoding none", map[string]string{dataKey: cfg, encodingKey: "none"}, "", false},
		{"base64", map[string]string{dataKey: b64, encodingKey: "base64"}, "", false},
		{"base64 unpadded and wrapped", map[string]string{dataKey: strings.TrimRight(b64[:20]+"\n"+b64[20:], "="), encodingKey: "base64"}, "", false},
		{"gzip+base64", map[string]string{dataKey: gzB64(t, cfg), encodingKey: "gzip+base64"}, "", false},
		{"OVF environment", map[string]string{ovfEnvKey: ovf(map[string]string{"guestinfo.ignition.config.data": b64, "guestinfo.ignition.config.data.encoding": "base64", "guestinfo.hostname": "node1"})}, "", false},
		{"direct wins over OVF", map[string]string{dataKey: cfg, ovfEnvKey: ovf(map[string]string{"guestinfo.ignition.config.data": "{}"})}, "", false},
		{"nothing", map[string]string{}, "", true},
		{"OVF without the property", map[string]string{ovfEnvKey: ovf(map[string]string{"guestinfo.hostname": "node1"})}, "", true},
		{"blank data", map[string]string{dataKey: " "}, "", true},
		{"unknown encoding", map[string]string{dataKey: cfg, encodingKey: "rot13"}, `unknown encoding "rot13"`, false},
		{"bad base64", map[string]string{dataKey: "not base64!", encodingKey: "base64"}, "guestinfo.ignition.config.data: encoding base64", false},
		{"gzip+base64 not gzip", map[string]string{dataKey: b64, encodingKey: "gzip+base64"}, "not gzip data", false},
		{"bad OVF", map[string]string{ovfEnvKey: "<Environment"}, "parsing the OVF environment", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := fetch(hostEnv(), vm(tc.vars))
			switch {
			case tc.none:
				if !errors.Is(err, providers.ErrNoConfig) {
					t.Fatalf("err = %v, want ErrNoConfig", err)
				}
			case tc.err != "":
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
			default:
				if err != nil || string(got) != cfg {
					t.Fatalf("fetch = %q, %v", got, err)
				}
			}
		})
	}
}

func TestNotVMware(t *testing.T) {
	for _, f := range []*fakeVM{
		{vendor: "QEMU"},
		{vendorErr: errors.New("open /sys/class/dmi/id/sys_vendor: no such file or directory")},
	} {
		// fakeVM panics if the backdoor is touched.
		if _, err := fetch(hostEnv(), f); err == nil || !strings.Contains(err.Error(), "not using the VMware backdoor") {
			t.Errorf("fetch: err = %v", err)
		}
		if err := deleteConfig(hostEnv(), f); err == nil || !strings.Contains(err.Error(), "not using the VMware backdoor") {
			t.Errorf("delete: err = %v", err)
		}
	}
}

func TestDeleteConfig(t *testing.T) {
	f := vm(map[string]string{dataKey: gzB64(t, cfg), encodingKey: "gzip+base64", "other": "kept"})
	if err := deleteConfig(hostEnv(), f); err != nil {
		t.Fatal(err)
	}
	if f.vars[dataKey] != "" || f.vars[encodingKey] != "" || f.vars["other"] != "kept" {
		t.Errorf("after delete: %q", f.vars)
	}
	if _, err := fetch(hostEnv(), f); !errors.Is(err, providers.ErrNoConfig) {
		t.Errorf("fetch after delete: err = %v, want ErrNoConfig", err)
	}

	// A VMX that refuses empty values gets a space; one that refuses
	// that too is an error, not a silent success.
	f = vm(map[string]string{dataKey: cfg, encodingKey: "none"})
	f.refuse = []string{""}
	if err := deleteConfig(hostEnv(), f); err != nil || f.vars[dataKey] != " " || f.vars[encodingKey] != " " {
		t.Errorf("refusing empty values: %v, vars %q", err, f.vars)
	}
	f = vm(map[string]string{dataKey: cfg})
	f.refuse = []string{"", " "}
	if err := deleteConfig(hostEnv(), f); err == nil || !strings.Contains(err.Error(), "guestinfo.ignition.config.data still holds a value") {
		t.Errorf("refusing all: err = %v", err)
	}

	// Nothing to delete, or only in the OVF environment: nothing is set.
	for _, vars := range []map[string]string{
		{},
		{ovfEnvKey: ovf(map[string]string{"guestinfo.ignition.config.data": cfg})},
	} {
		f := vm(vars)
		if err := deleteConfig(hostEnv(), f); err != nil {
			t.Fatal(err)
		}
		for _, c := range f.calls {
			if strings.HasPrefix(c, "set ") {
				t.Errorf("%s with %q", c, vars)
			}
		}
	}
}

// TestRealHostRefuses runs the production reader: this machine is not a
// VMware VM, so it must refuse without touching the backdoor (which would
// fault here).
func TestRealHostRefuses(t *testing.T) {
	if v, err := (host{}).SysVendor(); err == nil && strings.Contains(strings.ToLower(v), "vmware") {
		t.Skip("running on VMware: the backdoor would answer")
	}
	if _, err := fetch(hostEnv(), host{}); err == nil || !strings.Contains(err.Error(), "not using the VMware backdoor") {
		t.Fatalf("err = %v", err)
	}
}
