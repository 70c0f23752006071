// Command ignition provisions a machine on its first boot from an Ignition
// config, one stage per run, as the initramfs units call it:
//
//	ignition -platform P -stage S [-root /] [-config-cache /run/ignition.json]
//	         [-fetch-timeout 2m] [-neednet /run/ignition/neednet]
//	         [-state-file /run/ignition/state] [-log-to-stdout] [-version]
//
// The stages, in boot order:
//
//	fetch-offline  acquire the config with only data: URLs and write the
//	               config cache; if it needs the network, write the neednet
//	               flag file and succeed so that the fetch stage runs
//	fetch          acquire the config with the network (a no-op if
//	               fetch-offline wrote the cache)
//	kargs          run the distribution's kargs helper for kernelArguments
//	disks          partitions, RAID, LUKS, filesystems
//	mount          mount the config's filesystems under -root
//	files          users, groups, files, directories, links, units under -root
//	umount         unmount what mount mounted
//
// Every stage after the fetch stages reads the config from the cache. The
// fetch stages' run is bounded by -fetch-timeout.
//
// The state file is a small JSON object the stages share between runs:
// the stages that succeeded so far, in order, and whether the fetch stage
// found a user config (rather than base configs only), which the files
// stage writes into the provisioning report. It is only known from the
// fetch stage that assembled the config: a stage that found the cache
// already written leaves it as recorded.
//
// Every line a stage logs is prefixed with the stage's name. A failed
// stage ends with one CRITICAL line, "Ignition failed: <stage>: <cause>",
// and exit status 1.
//
// Called as ignition-apply (by a symlink), the binary applies a config to
// a directory instead; see apply.go.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/ignition-go/ignition/config/types"
	"github.com/ignition-go/ignition/internal/exec"
	"github.com/ignition-go/ignition/internal/exec/command"
	"github.com/ignition-go/ignition/internal/exec/stages/disks"
	"github.com/ignition-go/ignition/internal/exec/stages/files"
	"github.com/ignition-go/ignition/internal/exec/stages/kargs"
	"github.com/ignition-go/ignition/internal/exec/stages/mount"
	"github.com/ignition-go/ignition/internal/log"
	"github.com/ignition-go/ignition/internal/platform"
	"github.com/ignition-go/ignition/internal/resource"
	"github.com/ignition-go/ignition/internal/resource/configs"
	"github.com/ignition-go/ignition/internal/version"
)

// stages are the -stage values, in boot order.
var stages = []string{"fetch-offline", "fetch", "kargs", "disks", "mount", "files", "umount"}

// DefaultStateFile is where the stages keep their shared state.
const DefaultStateFile = "/run/ignition/state"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr, hostEnv{})
	stop()
	os.Exit(code)
}

// Runner runs a host command (mount, umount, the kargs helper, the
// shadow-utils).
type Runner = command.OutputRunner

// hostEnv is what run takes from the host; tests replace parts of it. The
// zero value is the real host.
type hostEnv struct {
	// Getenv looks up environment variables; nil means os.LookupEnv.
	Getenv func(key string) (string, bool)
	// Commands runs host commands; nil runs them with os/exec.
	Commands Runner
	// Owners changes file ownership in the files stage; nil makes the
	// system calls.
	Owners files.Owners
	// BootIDFile is read by the files stage; "" means the distro default.
	BootIDFile string
	// FetchOptions are the fetch options that come from neither the
	// command line nor the config (retry back-off).
	FetchOptions resource.Options
	// Mounted says whether a path is a mount point (the umount stage);
	// nil reads /proc/self/mountinfo.
	Mounted func(path string) (bool, error)
	// DeviceTimeout bounds the disks stage's wait for each device; 0
	// means disks.DefaultDeviceTimeout.
	DeviceTimeout time.Duration
	// LookPath finds a host command (ignition-apply looks for the
	// shadow-utils with it); nil means os/exec.LookPath.
	LookPath func(file string) (string, error)
}

// options are the parsed command line.
type options struct {
	platform     string
	stage        string
	root         string
	cache        string
	fetchTimeout time.Duration
	neednet      string
	stateFile    string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, h hostEnv) int {
	fset, showVersion := newFlags("ignition", "ignition -platform PLATFORM -stage STAGE [flags]", stderr)
	var o options
	fset.StringVar(&o.platform, "platform", "", "the platform: "+strings.Join(platform.Names(), ", "))
	fset.StringVar(&o.stage, "stage", "", "the stage to run: "+strings.Join(stages, ", "))
	fset.StringVar(&o.root, "root", "/", "the target root: where filesystems are mounted and files written")
	fset.StringVar(&o.cache, "config-cache", exec.DefaultCachePath, "where the fetch stages cache the config for the later stages")
	fset.DurationVar(&o.fetchTimeout, "fetch-timeout", 2*time.Minute, "how long the fetch stages may take")
	fset.StringVar(&o.neednet, "neednet", exec.DefaultNeedNetPath, "the flag file fetch-offline writes when the config needs the network")
	fset.StringVar(&o.stateFile, "state-file", DefaultStateFile, "where the stages record their shared state")
	toStdout := fset.Bool("log-to-stdout", false, "log to stdout instead of the journal")
	if code, done := parseFlags(fset, showVersion, args, stdout); done {
		return code
	}
	if err := o.check(fset.Args()); err != nil {
		fmt.Fprintf(stderr, "ignition: %v\n", err)
		fset.Usage()
		return 1
	}

	logger := log.New(*toStdout, stdout)
	defer logger.Close()
	logger.Info("Ignition %s", version.Raw)
	logger.Info("Stage: %s", o.stage)
	l := logger.Fork()
	l.PushPrefix("%s", o.stage)
	s := &stageRun{o: o, h: h, l: l}
	err := s.run(ctx)
	reportStatus(ctx, o, h, l, err)
	if err != nil {
		// One line, whatever the cause: a multi-line cause (a config
		// report) is joined so the line that says "failed" says why.
		logger.Crit("Ignition failed: %s: %s", o.stage, oneLine(err.Error()))
		return 1
	}
	logger.Info("Ignition finished successfully")
	return 0
}

// reportStatus tells the platform how the stage ended, on the platforms
// that want to know (Equinix Metal); failing to tell is only a warning.
func reportStatus(ctx context.Context, o options, h hostEnv, l *log.Logger, stageErr error) {
	p, err := platform.Get(o.platform)
	if err != nil || p.Status == nil {
		return
	}
	opts := h.FetchOptions
	opts.Offline = o.stage == "fetch-offline"
	f, err := resource.New(opts)
	if err != nil {
		l.Warning("reporting the stage's status to platform %q: %v", p.Name, err)
		return
	}
	getenv := h.Getenv
	if getenv == nil {
		getenv = os.LookupEnv
	}
	host := platform.Host{Fetcher: f, Log: l, Getenv: getenv, Commands: h.Commands}
	if err := p.Status(ctx, host, o.stage, stageErr); err != nil {
		l.Warning("reporting the stage's status to platform %q: %v", p.Name, err)
	}
}

// check validates the command line beyond what the flag package does.
func (o *options) check(rest []string) error {
	if len(rest) > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(rest, " "))
	}
	if o.stage == "" {
		return fmt.Errorf("-stage is required: one of %s", strings.Join(stages, ", "))
	}
	if !slices.Contains(stages, o.stage) {
		return fmt.Errorf("unknown stage %q; stages: %s", o.stage, strings.Join(stages, ", "))
	}
	if o.platform == "" {
		return fmt.Errorf("-platform is required: one of %s", strings.Join(platform.Names(), ", "))
	}
	if _, err := platform.Get(o.platform); err != nil {
		return err
	}
	if o.fetchTimeout <= 0 {
		return fmt.Errorf("-fetch-timeout must be positive, not %v", o.fetchTimeout)
	}
	return nil
}

// stageRun is one run of one stage.
type stageRun struct {
	o  options
	h  hostEnv
	l  *log.Logger
	st *state // read at the start of the run
}

func (s *stageRun) run(ctx context.Context) error {
	st, err := readState(s.o.stateFile)
	if err != nil {
		return err
	}
	s.st = &st
	switch s.o.stage {
	case "fetch-offline", "fetch":
		err = s.fetch(ctx, s.o.stage == "fetch-offline", &st)
	default:
		var cfg types.Config
		cfg, err = exec.ReadCache(s.o.cache)
		if err != nil {
			return err
		}
		switch s.o.stage {
		case "kargs":
			err = kargs.Run(ctx, cfg, kargs.Env{Commands: s.h.Commands, Log: s.l})
		case "disks":
			err = s.disks(ctx, cfg, &st)
		case "mount":
			err = mount.Mount(ctx, cfg, s.mountEnv())
		case "umount":
			err = mount.Umount(ctx, cfg, s.mountEnv())
		case "files":
			err = s.files(ctx, cfg, st.UserConfigProvided)
		default:
			panic("stage not dispatched: " + s.o.stage) // check lets only known stages through
		}
	}
	if err != nil {
		return err
	}
	st.Stages = append(st.Stages, s.o.stage)
	if err := writeState(s.o.stateFile, st); err != nil {
		return err
	}
	return nil
}

func (s *stageRun) fetch(ctx context.Context, offline bool, st *state) error {
	ctx, cancel := context.WithTimeout(ctx, s.o.fetchTimeout)
	defer cancel()
	a := &exec.Acquirer{
		Platform: s.o.platform,
		Env:      s.h.Getenv,
		Log:      s.l,
		Options:  s.h.FetchOptions,
		Paths:    exec.Paths{Cache: s.o.cache, NeedNet: s.o.neednet},
	}
	out, err := a.Fetch(ctx, offline)
	if offline && errors.Is(err, exec.ErrNeedNet) {
		s.l.Info("the config needs the network: the fetch stage will acquire it")
		return nil
	}
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return fmt.Errorf("gave up after -fetch-timeout %v: %w", s.o.fetchTimeout, err)
		}
		return err
	}
	if !out.FromCache {
		st.UserConfigProvided = out.UserConfigProvided
	}
	return nil
}

// disks runs the disks stage and records the device aliases it resolved
// for the mount stage.
func (s *stageRun) disks(ctx context.Context, cfg types.Config, st *state) error {
	asm := &configs.Assembler{Options: s.h.FetchOptions}
	f, err := asm.Fetcher(ctx, cfg)
	if err != nil {
		return err
	}
	res, err := disks.Run(ctx, cfg, disks.Env{Commands: s.h.Commands, Log: s.l, Fetcher: f, DeviceTimeout: s.h.DeviceTimeout})
	if len(res.Devices) > 0 {
		// Kept even when the stage failed: the emergency shell's user may
		// want to know which device an alias meant.
		st.Devices = res.Devices
	}
	return err
}

func (s *stageRun) mountEnv() mount.Env {
	return mount.Env{Root: s.o.root, Commands: s.h.Commands, Log: s.l, Devices: s.st.Devices, Mounted: s.h.Mounted}
}

func (s *stageRun) files(ctx context.Context, cfg types.Config, userConfig bool) error {
	root, err := os.OpenRoot(s.o.root)
	if err != nil {
		return fmt.Errorf("opening the target root: %w", err)
	}
	defer root.Close()
	asm := &configs.Assembler{Options: s.h.FetchOptions}
	f, err := asm.Fetcher(ctx, cfg)
	if err != nil {
		return err
	}
	e := files.Env{
		Root:               root,
		Fetcher:            f,
		Log:                s.l,
		Owners:             s.h.Owners,
		UserConfigProvided: userConfig,
		BootIDFile:         s.h.BootIDFile,
		Commands:           s.h.Commands,
	}
	return files.Run(ctx, cfg, e)
}

// state is what the stages share between runs, in the state file.
type state struct {
	// Stages lists the stages that succeeded, in the order they ran.
	Stages []string `json:"stages"`
	// UserConfigProvided is set when the fetch stage that assembled the
	// config found a user config.
	UserConfigProvided bool `json:"userConfigProvided"`
	// Devices maps the device aliases the disks stage resolved to the
	// devices they meant, for the mount stage.
	Devices map[string]string `json:"devices,omitempty"`
}

// readState reads the state file; a missing one is the zero state.
func readState(path string) (state, error) {
	var st state
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("reading the state file: %w", err)
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return st, fmt.Errorf("the state file %s is corrupted: %w", path, err)
	}
	return st, nil
}

// writeState writes the state file atomically (a temp file in the same
// dir, synced and renamed over it), creating its dir.
func writeState(path string, st state) (err error) {
	raw, err := json.Marshal(st)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("writing the state file %s: %w", path, err)
		}
	}()
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if _, err := f.Write(append(raw, '\n')); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	return nil
}

// oneLine joins the lines of a multi-line message with "; ".
func oneLine(msg string) string {
	lines := strings.Split(strings.TrimSpace(msg), "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.ReplaceAll(strings.Join(lines, "; "), ":; ", ": ")
}
