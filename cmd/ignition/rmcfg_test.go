package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/ignition-go/ignition/internal/platform"
	"github.com/ignition-go/ignition/internal/providers/virtualbox"
	"github.com/ignition-go/ignition/internal/providers/vmware"
	"github.com/ignition-go/ignition/internal/version"
)

// rmcfg runs the binary as ignition-rmcfg, by its program name.
func rmcfg(h hostEnv, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = dispatch(context.Background(), append([]string{"/usr/libexec/ignition-rmcfg"}, args...), strings.NewReader(""), &out, &errb, h)
	return code, out.String(), errb.String()
}

func TestRmcfgUsage(t *testing.T) {
	for _, tc := range []struct {
		args         []string
		code         int
		stdout, errs string
	}{
		{[]string{"--version"}, 0, "ignition-rmcfg " + version.Raw + "\n", ""},
		{nil, 1, "", "--platform is required"},
		{[]string{"--platform", "nonesuch"}, 1, "", `unknown platform "nonesuch"`},
		{[]string{"--platform=vmware", "extra"}, 1, "", "unexpected arguments: extra"},
		{[]string{"-stage", "fetch"}, 1, "", "flag provided but not defined: -stage"},
	} {
		code, out, errs := rmcfg(hostEnv{Commands: &recorder{}}, tc.args...)
		if code != tc.code || (tc.stdout != "" && out != tc.stdout) || !strings.Contains(errs, tc.errs) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want %d, %q, %q", tc.args, code, out, errs, tc.code, tc.stdout, tc.errs)
		}
	}
	// The platforms that can delete are listed in the usage.
	_, _, errs := rmcfg(hostEnv{}, "--help")
	if !strings.Contains(errs, "virtualbox, vmware") {
		t.Errorf("usage does not list virtualbox, vmware:\n%s", errs)
	}
}

// rmcfgFailed are the final failure lines.
func rmcfgFailed(stdout string) []string {
	return linesWith(stdout, "CRITICAL : ignition-rmcfg failed: ")
}

// TestRmcfgCannotDelete: a platform without DeleteConfig is an error.
func TestRmcfgCannotDelete(t *testing.T) {
	for _, p := range []string{"file", "qemu"} {
		code, out, _ := rmcfg(hostEnv{Commands: &recorder{}}, "--platform", p, "--log-to-stdout")
		if code != 1 || len(rmcfgFailed(out)) != 1 || !strings.Contains(rmcfgFailed(out)[0], `platform "`+p+`": the platform keeps no config that can be deleted from the guest (platforms that do: virtualbox, vmware)`) {
			t.Errorf("%s: exit %d\n%s", p, code, out)
		}
	}
}

// TestRmcfgRealVMware runs the real VMware deletion on this machine, which
// is not a VMware VM: it refuses to touch the backdoor.
func TestRmcfgRealVMware(t *testing.T) {
	if b, err := os.ReadFile(vmware.SysVendorPath); err == nil && strings.Contains(strings.ToLower(string(b)), "vmware") {
		t.Skip("this is a VMware VM")
	}
	code, out, _ := rmcfg(hostEnv{Commands: &recorder{}}, "--platform=vmware", "--log-to-stdout")
	if code != 1 || len(rmcfgFailed(out)) != 1 || !strings.Contains(rmcfgFailed(out)[0], "not using the VMware backdoor") {
		t.Errorf("exit %d\n%s", code, out)
	}
}

// TestRmcfgRealVirtualBox runs the real VirtualBox deletion on this
// machine, which has no vboxguest device.
func TestRmcfgRealVirtualBox(t *testing.T) {
	if _, err := os.Stat(virtualbox.Device); err == nil {
		t.Skip("this is a VirtualBox VM")
	}
	cmds := &recorder{}
	code, out, _ := rmcfg(hostEnv{Commands: cmds}, "--platform", "virtualbox", "--log-to-stdout")
	if code != 1 || len(rmcfgFailed(out)) != 1 || !strings.Contains(rmcfgFailed(out)[0], virtualbox.Device) {
		t.Errorf("exit %d\n%s", code, out)
	}
	if len(cmds.argv) != 1 || strings.Join(cmds.argv[0], " ") != "modprobe vboxguest" {
		t.Errorf("ran %q", cmds.argv)
	}
}

// TestRmcfgDeletes runs a platform whose deletion succeeds or fails.
func TestRmcfgDeletes(t *testing.T) {
	var calls int
	var failWith error
	cmds := &recorder{}
	lookup := func(name string) (platform.Platform, error) {
		if name != "fake" {
			return platform.Get(name)
		}
		return platform.Platform{
			Name: "fake",
			DeleteConfig: func(ctx context.Context, h platform.Host) error {
				calls++
				if h.Fetcher == nil || h.Log == nil || h.Getenv == nil || h.Cmd() != cmds {
					t.Errorf("incomplete host %+v", h)
				}
				h.Cmd().Run(ctx, []string{"info-set", "guestinfo.ignition.config.data", ""})
				return failWith
			},
		}, nil
	}
	run := func() (int, string) {
		var out, errb bytes.Buffer
		code := runRmcfg(context.Background(), []string{"--platform", "fake", "--log-to-stdout"}, &out, &errb, hostEnv{Commands: cmds}, lookup)
		return code, out.String()
	}
	code, out := run()
	if code != 0 || calls != 1 || !strings.Contains(out, "ignition-rmcfg finished successfully") || !strings.Contains(out, `[finished] deleting the config from platform "fake"`) {
		t.Errorf("exit %d, %d calls\n%s", code, calls, out)
	}
	if len(cmds.argv) != 1 {
		t.Errorf("ran %q", cmds.argv)
	}

	failWith = errors.New("emptying guestinfo.ignition.config.data: permission denied")
	code, out = run()
	if code != 1 || calls != 2 || len(rmcfgFailed(out)) != 1 || !strings.Contains(rmcfgFailed(out)[0], `ignition-rmcfg failed: platform "fake": emptying guestinfo.ignition.config.data: permission denied`) {
		t.Errorf("exit %d, %d calls\n%s", code, calls, out)
	}
}
