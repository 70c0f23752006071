package main

// ignition-rmcfg is the same binary called by another name (bin/ignition-rmcfg
// is a symlink to bin/ignition): once the machine is provisioned, it deletes
// the config from where the platform keeps it, since any process in the
// guest could read it there (the config may hold secrets).
//
//	ignition-rmcfg --platform PLATFORM [--log-to-stdout] [--version]
//
// The distribution's ignition-delete-config.service runs it on the first
// boot, after Ignition succeeded; masking that unit keeps the config. Only
// platforms whose guests can delete it have a DeleteConfig (VirtualBox's
// guest property, VMware's guestinfo); any other platform is an error, as
// it is upstream, so a unit that runs it where it means nothing says so.

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ignition-go/ignition/internal/log"
	"github.com/ignition-go/ignition/internal/platform"
	"github.com/ignition-go/ignition/internal/providers"
	"github.com/ignition-go/ignition/internal/resource"
	"github.com/ignition-go/ignition/internal/version"
)

// rmcfgName is the program name that selects ignition-rmcfg.
const rmcfgName = "ignition-rmcfg"

// platformLookup finds a platform by id; dispatch passes platform.Get.
type platformLookup func(name string) (platform.Platform, error)

func runRmcfg(ctx context.Context, args []string, stdout, stderr io.Writer, h hostEnv, lookup platformLookup) int {
	fset, showVersion := newFlags(rmcfgName, rmcfgName+" --platform PLATFORM [flags]", stderr)
	name := fset.String("platform", "", "the platform whose config to delete: "+strings.Join(deletable(), ", "))
	toStdout := fset.Bool("log-to-stdout", false, "log to stdout instead of the journal")
	if code, done := parseFlags(fset, showVersion, args, stdout); done {
		return code
	}
	if rest := fset.Args(); len(rest) > 0 {
		fmt.Fprintf(stderr, "%s: unexpected arguments: %s\n", rmcfgName, strings.Join(rest, " "))
		fset.Usage()
		return 1
	}
	if *name == "" {
		fmt.Fprintf(stderr, "%s: --platform is required\n", rmcfgName)
		fset.Usage()
		return 1
	}
	p, err := lookup(*name)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", rmcfgName, err)
		return 1
	}

	logger := log.New(*toStdout, stdout)
	defer logger.Close()
	logger.Info("%s %s", rmcfgName, version.Raw)
	if err := deleteConfig(ctx, p, h, logger); err != nil {
		logger.Crit("%s failed: platform %q: %s", rmcfgName, p.Name, oneLine(err.Error()))
		return 1
	}
	logger.Info("%s finished successfully", rmcfgName)
	return 0
}

func deleteConfig(ctx context.Context, p platform.Platform, h hostEnv, l *log.Logger) error {
	if p.DeleteConfig == nil {
		return fmt.Errorf("the platform keeps no config that can be deleted from the guest (platforms that do: %s)", strings.Join(deletable(), ", "))
	}
	f, err := resource.New(h.FetchOptions)
	if err != nil {
		return err
	}
	getenv := h.Getenv
	if getenv == nil {
		getenv = os.LookupEnv
	}
	host := providers.Host{Fetcher: f, Log: l, Getenv: getenv, Commands: h.Commands}
	return l.LogOp(func() error { return p.DeleteConfig(ctx, host) }, "deleting the config from platform %q", p.Name)
}

// deletable lists the platforms with a DeleteConfig.
func deletable() []string {
	var names []string
	for _, n := range platform.Names() {
		if p, err := platform.Get(n); err == nil && p.DeleteConfig != nil {
			names = append(names, n)
		}
	}
	return names
}
