package main

// ignition-apply is the same binary called by another name (bin/ignition-apply
// is a symlink to bin/ignition): it applies a config to a directory tree
// instead of provisioning a machine at first boot.
//
//	ignition-apply [--root DIR] [--ignore-unsupported] [--offline] CONFIG|-
//
// It reads the config (a file, or stdin for "-"), parses it (printing the
// report as ignition-validate does), renders its replace and merge children,
// and runs the files stage on DIR (default "/"): users and groups, files,
// directories, links, systemd units and presets, and the provisioning report
// (etc/.ignition-result.json). Nothing in DIR is touched until the config
// has been read, parsed, rendered and checked.
//
// What needs the disks or mount stages (storage.disks, storage.raid,
// storage.luks, storage.filesystems) or the kargs stage (kernelArguments)
// is refused, as are passwd users and groups when the shadow-utils are not
// on the host's PATH (see shadowUtils). --ignore-unsupported turns each of
// those refusals into a warning and applies the rest.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"

	"github.com/ignition-go/ignition/config"
	"github.com/ignition-go/ignition/config/types"
	"github.com/ignition-go/ignition/internal/distro"
	"github.com/ignition-go/ignition/internal/exec/stages/files"
	"github.com/ignition-go/ignition/internal/log"
	"github.com/ignition-go/ignition/internal/platform"
	"github.com/ignition-go/ignition/internal/resource"
	"github.com/ignition-go/ignition/internal/resource/configs"
	"github.com/ignition-go/ignition/internal/version"
)

// applyName is the program name that selects ignition-apply.
const applyName = "ignition-apply"

// dispatch runs ignition-apply or ignition-rmcfg (rmcfg.go) when the
// program is called by that name (argv[0]'s base name), and the ignition
// stages otherwise.
func dispatch(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer, h hostEnv) int {
	if len(argv) == 0 {
		return run(ctx, nil, stdout, stderr, h)
	}
	switch filepath.Base(argv[0]) {
	case applyName:
		return runApply(ctx, argv[1:], stdin, stdout, stderr, h)
	case rmcfgName:
		return runRmcfg(ctx, argv[1:], stdout, stderr, h, platform.Get)
	}
	return run(ctx, argv[1:], stdout, stderr, h)
}

// applyOptions are ignition-apply's parsed command line.
type applyOptions struct {
	root              string
	ignoreUnsupported bool
	offline           bool
	config            string // a file name, or "-" for stdin
}

// errInvalidConfig is returned when the config does not parse; the report
// lines have been printed already.
var errInvalidConfig = errors.New("the config is not valid")

func runApply(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, h hostEnv) int {
	fset, showVersion := newFlags(applyName, applyName+" [flags] CONFIG|-", stderr)
	var o applyOptions
	fset.StringVar(&o.root, "root", "/", "the directory to apply the config to")
	fset.BoolVar(&o.ignoreUnsupported, "ignore-unsupported", false, "warn about and skip the sections ignition-apply cannot apply instead of failing")
	fset.BoolVar(&o.offline, "offline", false, "fetch nothing over the network: only data: URLs are allowed")
	if code, done := parseFlags(fset, showVersion, args, stdout); done {
		return code
	}
	switch rest := fset.Args(); {
	case len(rest) == 0:
		fmt.Fprintf(stderr, "%s: a config file (or - for stdin) is required\n", applyName)
		fset.Usage()
		return 1
	case len(rest) > 1:
		fmt.Fprintf(stderr, "%s: unexpected arguments: %s\n", applyName, strings.Join(rest[1:], " "))
		fset.Usage()
		return 1
	default:
		o.config = rest[0]
	}
	if o.root == "" {
		fmt.Fprintf(stderr, "%s: --root must not be empty\n", applyName)
		fset.Usage()
		return 1
	}

	logger := log.New(true, stdout)
	defer logger.Close()
	logger.Info("%s %s", applyName, version.Raw)
	a := &applyRun{o: o, h: h, l: logger, stdin: stdin, stdout: stdout}
	if err := a.run(ctx); err != nil {
		logger.Crit("%s failed: %v", applyName, err)
		return 1
	}
	logger.Info("%s finished successfully", applyName)
	return 0
}

// applyRun is one run of ignition-apply.
type applyRun struct {
	o      applyOptions
	h      hostEnv
	l      *log.Logger
	stdin  io.Reader
	stdout io.Writer
}

func (a *applyRun) run(ctx context.Context) error {
	cfg, err := a.read()
	if err != nil {
		return err
	}
	opts := a.h.FetchOptions
	opts.Offline = a.o.offline
	asm := &configs.Assembler{
		Options: opts,
		Warn:    func(msg string) { a.l.Warning("%s", msg) },
	}
	cfg, err = asm.Render(ctx, cfg, "")
	if err != nil {
		return a.offlineHint(fmt.Errorf("rendering the config: %w", err))
	}
	if err := a.unsupported(&cfg); err != nil {
		return err
	}
	// The fetcher (and any CAs the config names) comes before the root is
	// opened, so that a config that cannot be fetched leaves it untouched.
	fetcher, err := asm.Fetcher(ctx, cfg)
	if err != nil {
		return a.offlineHint(err)
	}
	root, err := os.OpenRoot(a.o.root)
	if err != nil {
		return fmt.Errorf("opening the root: %w", err)
	}
	defer root.Close()
	e := files.Env{
		SkipRelabel:        true,
		Root:               root,
		Fetcher:            fetcher,
		Log:                a.l,
		Owners:             a.h.Owners,
		UserConfigProvided: true,
		BootIDFile:         a.h.BootIDFile,
		Commands:           a.h.Commands,
	}
	return a.offlineHint(files.Run(ctx, cfg, e))
}

// read reads and parses the config, printing the parser's report one
// entry a line ("error at $.path, line L col C: message").
func (a *applyRun) read() (types.Config, error) {
	var raw []byte
	var err error
	if a.o.config == "-" {
		raw, err = io.ReadAll(io.LimitReader(a.stdin, config.MaxSize+1))
	} else {
		raw, err = readLimited(a.o.config)
	}
	if err != nil {
		return types.Config{}, fmt.Errorf("couldn't read config: %w", err)
	}
	cfg, rpt, err := config.Parse(raw)
	for _, e := range rpt.Entries {
		fmt.Fprintln(a.stdout, e.String())
	}
	if err != nil {
		if rpt.IsFatal() {
			return types.Config{}, errInvalidConfig
		}
		return types.Config{}, fmt.Errorf("couldn't parse config: %w", err)
	}
	return cfg, nil
}

// readLimited reads at most one byte past config.MaxSize, enough for the
// parser to refuse a config that is too large.
func readLimited(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, config.MaxSize+1))
}

// offlineHint says why a fetch failed under --offline.
func (a *applyRun) offlineHint(err error) error {
	if err != nil && a.o.offline && errors.Is(err, resource.ErrNeedsNetwork) {
		return fmt.Errorf("%w (--offline allows only data: URLs)", err)
	}
	return err
}

// unsupported refuses the sections of cfg that ignition-apply cannot apply,
// naming each by its config path; with --ignore-unsupported it warns about
// each and clears it from cfg instead.
func (a *applyRun) unsupported(cfg *types.Config) error {
	var errs []string
	section := func(present bool, path, why string, clear func()) {
		if !present {
			return
		}
		if a.o.ignoreUnsupported {
			a.l.Warning("ignoring %s: not supported by %s%s", path, applyName, why)
			clear()
			return
		}
		errs = append(errs, fmt.Sprintf("%s: not supported by %s%s", path, applyName, why))
	}
	st := &cfg.Storage
	section(len(st.Disks) > 0, "storage.disks", "", func() { st.Disks = nil })
	section(len(st.Raid) > 0, "storage.raid", "", func() { st.Raid = nil })
	section(len(st.Luks) > 0, "storage.luks", "", func() { st.Luks = nil })
	section(len(st.Filesystems) > 0, "storage.filesystems", "", func() { st.Filesystems = nil })
	ka := &cfg.KernelArguments
	section(len(ka.ShouldExist) > 0 || len(ka.ShouldNotExist) > 0, "kernelArguments", "", func() { *ka = types.KernelArguments{} })
	pw := &cfg.Passwd
	if len(pw.Users) > 0 || len(pw.Groups) > 0 {
		if err := a.shadowUtils(); err != nil {
			section(true, "passwd", " on this host: "+err.Error(), func() { *pw = types.Passwd{} })
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// shadowUtils says whether users and groups can be applied: the files
// stage runs the shadow-utils on the host with --root DIR, so the host
// must have them. useradd (distro.UseraddCmd, a name looked up in PATH or
// an absolute path) stands for the whole set.
func (a *applyRun) shadowUtils() error {
	look := a.h.LookPath
	if look == nil {
		look = osexec.LookPath
	}
	if _, err := look(distro.UseraddCmd()); err != nil {
		return fmt.Errorf("the shadow-utils are needed for users and groups: %w", err)
	}
	return nil
}
