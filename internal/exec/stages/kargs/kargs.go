// Package kargs is the kargs stage: it asks the distribution's helper
// (distro.KargsHelperCmd) to change the kernel command line the way the
// config's kernelArguments say.
//
// As Ignition's distributor notes specify, the helper is run once with
// --should-exist ARG for every argument that must be present (the helper
// appends those missing) and --should-not-exist ARG for every argument
// that must be absent (the helper removes it, and does not fail if it is
// not there), in config order. The helper reboots the machine if the
// change needs it. With no kernel arguments in the config the helper is
// not run.
package kargs

import (
	"context"
	"fmt"

	"github.com/ignition-go/ignition/config/types"
	"github.com/ignition-go/ignition/internal/distro"
	"github.com/ignition-go/ignition/internal/exec/command"
	"github.com/ignition-go/ignition/internal/log"
)

// Runner runs a host command (the kargs helper).
type Runner = command.Runner

// Env is what the kargs stage works with.
type Env struct {
	// Commands runs the helper; nil runs it with os/exec.
	Commands Runner
	// Log receives the progress; nil discards.
	Log *log.Logger
}

// Argv returns the helper's command line for ka, or nil when there is
// nothing to change.
func Argv(ka types.KernelArguments) []string {
	if len(ka.ShouldExist) == 0 && len(ka.ShouldNotExist) == 0 {
		return nil
	}
	argv := []string{distro.KargsHelperCmd()}
	for _, a := range ka.ShouldExist {
		argv = append(argv, "--should-exist", a)
	}
	for _, a := range ka.ShouldNotExist {
		argv = append(argv, "--should-not-exist", a)
	}
	return argv
}

// Run runs the kargs helper for cfg's kernelArguments, if it has any.
func Run(ctx context.Context, cfg types.Config, e Env) error {
	l := e.Log
	if l == nil {
		l = log.Discard()
	}
	argv := Argv(cfg.KernelArguments)
	if argv == nil {
		l.Info("no kernel arguments to change")
		return nil
	}
	run := e.Commands
	if run == nil {
		run = command.Exec{}
	}
	ka := cfg.KernelArguments
	err := l.LogOp(func() error { return run.Run(ctx, argv) },
		"running %s (%d to add, %d to remove)", argv[0], len(ka.ShouldExist), len(ka.ShouldNotExist))
	if err != nil {
		return fmt.Errorf("kernelArguments: %w", err)
	}
	return nil
}
