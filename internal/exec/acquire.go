// Package exec runs Ignition's stages. This file acquires the config: what
// the fetch-offline and fetch stages do before they write the config cache
// that every later stage reads.
//
// # Where the user config comes from
//
// The first source that has a config wins:
//
//  1. ignition.config.url=URL on the kernel command line (the last one, if
//     it is given more than once), fetched like any config: with retries,
//     the Ignition Accept header, every URL scheme configs may use. Or,
//     without a URL, ignition.config.device=LABEL with
//     ignition.config.path=PATH: the file at PATH on the filesystem
//     labelled LABEL (waited for up to DefaultDeviceTimeout, as a USB stick
//     may show up late), mounted read-only in a private temp dir. One
//     without the other is an error, as is a missing device or file: the
//     user asked for that config, and booting without it would be wrong.
//  2. user.ign in the runtime, then the local, then the system config dir
//     (/run/ignition, /etc/ignition, /usr/lib/ignition): the first dir that
//     has one wins. This is the priority Ignition's distributor notes give
//     the three dirs: volatile configuration generated at boot beats the
//     administrator's, which beats the vendor's defaults.
//  3. The platform's provider (-platform), see internal/platform. A provider
//     that answers platform.ErrNoConfig means the user gave no config: the
//     machine is provisioned from the base configs alone. A provider that
//     answers with nothing at all is an error naming every place checked.
//
// # Base configs
//
// Base configs are *.ign files in base.d/ and base.platform.d/<platform>/
// of the three config dirs. As with systemd drop-in dirs, files are
// collected by name across the dirs: when a name appears in several, the
// file in the dir of highest priority (runtime, then local, then system)
// is used and the others are ignored, and a symlink to /dev/null hides a
// name altogether (masks it). The files are merged in order of their
// names, all of base.d first and then all of base.platform.d/<platform>, so
// that platform fragments override generic ones.
//
// # Merging
//
// Ignition's operator notes ("Config merging") say that configs are merged
// depth first: a config's children are merged into it before it is merged
// into its own parent, and a child's values take precedence over its
// parent's. The base configs are the parent of the user config, so:
//
//   - each config's ignition.config.replace/merge children are rendered
//     into it first (configs.Assembler), with that config's own timeouts,
//     proxy and CAs, then
//   - the rendered user config is merged over the merged base configs
//     (merge.Merge(base, user)), whose values it overrides.
//
// Rendering before merging also means a user config that replaces itself
// (ignition.config.replace) replaces only itself, not the base configs.
// Base configs' children are rendered the same way as the user config's,
// rather than being silently left unfetched.
//
// The assembled config is validated as a whole (merging valid configs can
// still yield an invalid one, e.g. a file below a link) and stamped with the
// spec version it is valid under, so the cache always parses.
//
// # Offline
//
// fetch-offline acquires with only data: URLs allowed. When anything needs
// the network (the kernel command line URL, a child config, a CA bundle, a
// provider's metadata service) it writes the neednet flag file and returns
// ErrNeedNet, and the fetch stage runs again with the network up. A stage
// that finds the cache already written uses it instead of fetching again.
// A config fetch-offline could assemble whole still needs the network if
// a later stage fetches or binds over it (remote file contents or LUKS
// keys, Tang without an advertisement, a custom Clevis pin that says so):
// then both the cache and the neednet flag are written.
package exec

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ignition-go/ignition/config"
	"github.com/ignition-go/ignition/config/merge"
	"github.com/ignition-go/ignition/config/types"
	"github.com/ignition-go/ignition/internal/distro"
	"github.com/ignition-go/ignition/internal/exec/command"
	"github.com/ignition-go/ignition/internal/log"
	"github.com/ignition-go/ignition/internal/platform"
	"github.com/ignition-go/ignition/internal/providers"
	"github.com/ignition-go/ignition/internal/resource"
	"github.com/ignition-go/ignition/internal/resource/configs"
)

// Environment variables that override the host paths (for tests and for
// running outside the initramfs).
const (
	KernelCmdlineEnv    = "IGNITION_KERNEL_CMDLINE_PATH"
	SystemConfigDirEnv  = "IGNITION_SYSTEM_CONFIG_DIR"
	LocalConfigDirEnv   = "IGNITION_SYSTEM_LOCAL_CONFIG_DIR"
	RuntimeConfigDirEnv = "IGNITION_SYSTEM_RUNTIME_CONFIG_DIR"
)

// Default locations of the files the fetch stages write. The initramfs
// units test for these exact paths, so they are not derived from the
// config dirs.
const (
	DefaultCachePath   = "/run/ignition.json"
	DefaultNeedNetPath = "/run/ignition/neednet"
)

// The kernel arguments naming the user config: its URL, or a filesystem
// label and a path on that filesystem.
const (
	cmdlineKey       = "ignition.config.url"
	cmdlineDeviceKey = "ignition.config.device"
	cmdlinePathKey   = "ignition.config.path"
)

// DefaultDeviceTimeout is how long ignition.config.device's filesystem is
// waited for.
const DefaultDeviceTimeout = time.Minute

var (
	// ErrNeedNet is returned by Run in offline mode when the config needs
	// the network; the neednet flag file has been written and the stage
	// should exit successfully so that the fetch stage runs.
	ErrNeedNet = errors.New("the config needs the network")
	// ErrConfigNotFound is returned when no source yielded a user config
	// and the platform did not say there was none.
	ErrConfigNotFound = errors.New("no config found")
)

// Paths are the host locations acquisition reads and writes. An empty
// field takes its environment override (for the kernel command line and
// the config dirs) or else its default from internal/distro or above.
type Paths struct {
	KernelCmdline    string // distro.KernelCmdline(), $IGNITION_KERNEL_CMDLINE_PATH
	SystemConfigDir  string // distro.SystemConfigDir(), $IGNITION_SYSTEM_CONFIG_DIR
	LocalConfigDir   string // distro.LocalConfigDir(), $IGNITION_SYSTEM_LOCAL_CONFIG_DIR
	RuntimeConfigDir string // distro.RuntimeConfigDir(), $IGNITION_SYSTEM_RUNTIME_CONFIG_DIR
	Cache            string // DefaultCachePath
	NeedNet          string // DefaultNeedNetPath
}

// Acquirer acquires the config for the fetch stages.
type Acquirer struct {
	// Platform is the platform id (-platform), e.g. "file".
	Platform string
	// Env looks up environment variables; nil means os.LookupEnv.
	Env func(key string) (string, bool)
	// Log receives the progress; nil discards it.
	Log *log.Logger
	// Options are the fetch options that do not come from configs (retry
	// codes, back-off, test endpoints). Offline is set by Acquire; each
	// config's timeouts, proxy and CAs apply to the children it names.
	Options resource.Options
	// Paths are the host locations; zero fields take their defaults.
	Paths Paths
	// Commands runs host commands (blkid, mount) for ignition.config.device
	// and for providers; nil means os/exec.
	Commands command.OutputRunner
	// DeviceTimeout bounds the wait for ignition.config.device's
	// filesystem; 0 means DefaultDeviceTimeout.
	DeviceTimeout time.Duration
}

// Outcome is what a fetch stage's acquisition produced.
type Outcome struct {
	// Config is the final config.
	Config types.Config
	// FromCache is set when the config was read from the cache an earlier
	// stage wrote; UserConfigProvided is then unknown (false).
	FromCache bool
	// UserConfigProvided is set when a user config was found (not only
	// base configs), for the provisioning report.
	UserConfigProvided bool
}

// Run is the config acquisition of a fetch stage (fetch-offline when
// offline is set, fetch otherwise). If the cache exists, an earlier stage
// assembled the config already: it is read and returned, and nothing is
// fetched. Otherwise the config is acquired and written to the cache. In
// offline mode a config that needs the network leaves no cache: the
// neednet flag file is written instead and the error wraps ErrNeedNet.
func (a *Acquirer) Run(ctx context.Context, offline bool) (types.Config, error) {
	out, err := a.Fetch(ctx, offline)
	return out.Config, err
}

// Fetch is Run, also saying where the config came from.
func (a *Acquirer) Fetch(ctx context.Context, offline bool) (Outcome, error) {
	l := a.logger()
	p := a.paths()
	cfg, err := ReadCache(p.Cache)
	switch {
	case err == nil:
		l.Info("using the config cached in %s by an earlier stage; not fetching again", p.Cache)
		return Outcome{Config: cfg, FromCache: true}, nil
	case !errors.Is(err, fs.ErrNotExist):
		return Outcome{}, err
	}

	cfg, found, err := a.acquire(ctx, offline)
	if offline && errors.Is(err, resource.ErrNeedsNetwork) {
		if ferr := writeFlag(p.NeedNet); ferr != nil {
			return Outcome{}, fmt.Errorf("%v; and signalling it failed: %w", err, ferr)
		}
		l.Info("the config needs the network; wrote %s so the fetch stage runs with it", p.NeedNet)
		return Outcome{}, fmt.Errorf("%w: %w", ErrNeedNet, err)
	}
	if err != nil {
		return Outcome{}, err
	}
	err = l.LogOp(func() error { return WriteCache(p.Cache, cfg) }, "writing the config cache %s", p.Cache)
	if err != nil {
		return Outcome{}, err
	}
	if offline {
		// The config is whole, so the fetch stage has nothing left to do,
		// but a later stage may still need the network: the flag has the
		// initramfs bring it up.
		if why := laterStagesNeedNet(cfg); why != "" {
			if err := writeFlag(p.NeedNet); err != nil {
				return Outcome{}, fmt.Errorf("%s needs the network, and signalling it failed: %w", why, err)
			}
			l.Info("%s needs the network; wrote %s", why, p.NeedNet)
		}
	}
	return Outcome{Config: cfg, UserConfigProvided: found}, nil
}

// laterStagesNeedNet says which part of an assembled config needs the
// network in the stages after the fetch stages, or "" if none does: a
// file or LUKS key fetched from anything but a data URL, a Tang server
// whose advertisement binding has to fetch (none in the config), or a
// custom Clevis pin that says it needs the network.
func laterStagesNeedNet(cfg types.Config) string {
	remote := func(src *string) bool {
		s := ""
		if src != nil {
			s = *src
		}
		return s != "" && !(len(s) >= 5 && strings.EqualFold(s[:5], "data:"))
	}
	for i, f := range cfg.Storage.Files {
		if remote(f.Contents.Source) {
			return fmt.Sprintf("storage.files.%d (%s): fetching %s", i, f.Path, resource.Redact(*f.Contents.Source))
		}
		for j, a := range f.Append {
			if remote(a.Source) {
				return fmt.Sprintf("storage.files.%d (%s): append.%d: fetching %s", i, f.Path, j, resource.Redact(*a.Source))
			}
		}
	}
	for i, l := range cfg.Storage.Luks {
		if remote(l.KeyFile.Source) {
			return fmt.Sprintf("storage.luks.%d (%s): fetching the key file from %s", i, l.Name, resource.Redact(*l.KeyFile.Source))
		}
		for j, t := range l.Clevis.Tang {
			if t.Advertisement == nil || *t.Advertisement == "" {
				return fmt.Sprintf("storage.luks.%d (%s): clevis.tang.%d (%s) has no advertisement, which binding fetches", i, l.Name, j, t.URL)
			}
		}
		if c := l.Clevis.Custom.NeedsNetwork; c != nil && *c {
			return fmt.Sprintf("storage.luks.%d (%s): clevis.custom.needsNetwork", i, l.Name)
		}
	}
	return ""
}

// Acquire assembles the config from the base configs and the user config
// with all their children (see the package documentation). In offline
// mode only data: URLs are fetched, and the error wraps
// resource.ErrNeedsNetwork if anything else was needed. Acquire writes
// nothing.
func (a *Acquirer) Acquire(ctx context.Context, offline bool) (types.Config, error) {
	cfg, _, err := a.acquire(ctx, offline)
	return cfg, err
}

// acquire is Acquire, also saying whether a user config was found.
func (a *Acquirer) acquire(ctx context.Context, offline bool) (types.Config, bool, error) {
	l := a.logger()
	p := a.paths()
	plat, err := platform.Get(a.Platform)
	if err != nil {
		return types.Config{}, false, err
	}
	opts := a.Options
	opts.Offline = offline
	f, err := resource.New(opts)
	if err != nil {
		return types.Config{}, false, err
	}
	s := &session{
		a:       a,
		l:       l,
		p:       p,
		offline: offline,
		fetcher: f,
		asm: &configs.Assembler{
			Options: opts,
			Warn:    func(msg string) { l.Warning("%s", msg) },
		},
	}

	base, err := s.baseConfig(ctx, plat.Name)
	if err != nil {
		return types.Config{}, false, err
	}
	user, found, err := s.userConfig(ctx, plat)
	if err != nil {
		return types.Config{}, false, err
	}
	final := base
	if found {
		rendered, err := s.render(ctx, user)
		if err != nil {
			return types.Config{}, false, err
		}
		final = merge.Merge(base, rendered)
	}
	final, err = stampVersion(final)
	return final, found, err
}

// session is one acquisition.
type session struct {
	a       *Acquirer
	l       *log.Logger
	p       Paths
	offline bool
	fetcher *resource.Fetcher // for the top-level sources
	asm     *configs.Assembler
}

// source is one parsed config and where it came from.
type source struct {
	name   string // for messages: a file path or a redacted URL
	origin string // the URL it was fetched from, "" for a file
	cfg    types.Config
}

// userConfig returns the user config from the first source that has one;
// found is false when the platform says there is none.
func (s *session) userConfig(ctx context.Context, plat platform.Platform) (src source, found bool, err error) {
	var checked []string

	checked = append(checked, "the kernel command line ("+s.p.KernelCmdline+")")
	url, device, devPath, err := s.cmdline()
	if err != nil {
		return source{}, false, err
	}
	if url == "" && device != "" {
		name := fmt.Sprintf("%s on the filesystem labelled %s", devPath, device)
		raw, err := s.readDevice(ctx, device, devPath)
		if err != nil {
			return source{}, false, err
		}
		cfg, err := s.parse(name, raw)
		return source{name: name, cfg: cfg}, err == nil, err
	}
	if url != "" {
		name := cmdlineKey + " " + resource.Redact(url)
		raw, err := s.fetchURL(ctx, url, name)
		if err != nil {
			return source{}, false, err
		}
		cfg, err := s.parse(name, raw)
		return source{name: name, origin: url, cfg: cfg}, err == nil, err
	}

	for _, dir := range []string{s.p.RuntimeConfigDir, s.p.LocalConfigDir, s.p.SystemConfigDir} {
		path := filepath.Join(dir, "user.ign")
		checked = append(checked, path)
		raw, err := config.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			s.l.Info("no user config at %s", path)
			continue
		}
		if err != nil {
			return source{}, false, err
		}
		s.l.Info("using the user config %s", path)
		cfg, err := s.parse(path, raw)
		return source{name: path, cfg: cfg}, err == nil, err
	}

	checked = append(checked, fmt.Sprintf("platform %q", plat.Name))
	var raw []byte
	var none error
	host := s.host()
	err = s.op(func() error {
		b, err := plat.Fetch(ctx, host)
		if errors.Is(err, platform.ErrNoConfig) {
			none = err
			return nil
		}
		raw = b
		return err
	}, "fetching the config from platform %q", plat.Name)
	if err != nil {
		return source{}, false, fmt.Errorf("platform %q: %w", plat.Name, err)
	}
	if none != nil {
		s.l.Info("platform %q: %v; using the base configs only", plat.Name, none)
		return source{}, false, nil
	}
	if len(raw) == 0 {
		return source{}, false, fmt.Errorf("%w: checked %s (it returned nothing)", ErrConfigNotFound, strings.Join(checked, ", "))
	}
	name := fmt.Sprintf("platform %q", plat.Name)
	cfg, err := s.parse(name, raw)
	return source{name: name, cfg: cfg}, err == nil, err
}

// host is what providers (and ignition.config.device) may use.
func (s *session) host() platform.Host {
	return platform.Host{Fetcher: s.fetcher, Log: s.l, Getenv: s.a.getenv, Commands: s.a.Commands}
}

// cmdline returns the config URL named on the kernel command line, and
// the filesystem label and path naming a config on a local filesystem;
// each "" when absent. A label without a path, or a path without a
// label, is an error.
func (s *session) cmdline() (url, device, path string, err error) {
	raw, err := os.ReadFile(s.p.KernelCmdline)
	if errors.Is(err, fs.ErrNotExist) {
		s.l.Info("no kernel command line at %s", s.p.KernelCmdline)
		return "", "", "", nil
	}
	if err != nil {
		return "", "", "", fmt.Errorf("reading the kernel command line: %w", err)
	}
	url = parseCmdline(string(raw))
	device = cmdlineArg(string(raw), cmdlineDeviceKey)
	path = cmdlineArg(string(raw), cmdlinePathKey)
	switch {
	case url != "":
		s.l.Info("%s=%s is on the kernel command line", cmdlineKey, resource.Redact(url))
		if device != "" || path != "" {
			s.l.Warning("%s is on the kernel command line too; it wins over %s and %s", cmdlineKey, cmdlineDeviceKey, cmdlinePathKey)
		}
	case device != "" && path != "":
		s.l.Info("%s=%s %s=%s are on the kernel command line", cmdlineDeviceKey, device, cmdlinePathKey, path)
	case device != "":
		return "", "", "", fmt.Errorf("the kernel command line has %s=%s but no %s naming the config on it", cmdlineDeviceKey, device, cmdlinePathKey)
	case path != "":
		return "", "", "", fmt.Errorf("the kernel command line has %s=%s but no %s naming the filesystem it is on", cmdlinePathKey, path, cmdlineDeviceKey)
	default:
		s.l.Info("no %s on the kernel command line", cmdlineKey)
	}
	return url, device, path, nil
}

// readDevice reads the config at path on the filesystem labelled label,
// waiting for the filesystem to show up. A gzip-compressed config is
// accepted, as from every platform.
func (s *session) readDevice(ctx context.Context, label, path string) ([]byte, error) {
	wait := s.a.DeviceTimeout
	if wait <= 0 {
		wait = DefaultDeviceTimeout
	}
	h := s.host()
	var raw []byte
	err := s.op(func() error {
		wctx, cancel := context.WithTimeout(ctx, wait)
		defer cancel()
		for {
			_, err := providers.FindDrive(wctx, h, label)
			if err == nil {
				break
			}
			if !errors.Is(err, providers.ErrNoDrive) {
				return err
			}
			t := time.NewTimer(250 * time.Millisecond)
			select {
			case <-wctx.Done():
				t.Stop()
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("no filesystem labelled %s appeared within %s", label, wait)
			case <-t.C:
			}
		}
		b, err := providers.ReadFromDrive(ctx, h, path, label)
		if err != nil {
			return err
		}
		raw, err = providers.MaybeGunzip(b)
		return err
	}, "reading the config %s from the filesystem labelled %s", path, label)
	if err != nil {
		return nil, fmt.Errorf("%s=%s %s=%s: %w", cmdlineDeviceKey, label, cmdlinePathKey, path, err)
	}
	return raw, nil
}

// parseCmdline returns the value of the last ignition.config.url=
// argument of a kernel command line, or "" (an empty value also unsets an
// earlier one). Arguments are split at white space; as the kernel allows,
// the argument or its value may be wrapped in double quotes, which are
// dropped (a URL has no spaces to protect, they are percent-encoded).
func parseCmdline(cmdline string) string {
	return cmdlineArg(cmdline, cmdlineKey)
}

// cmdlineArg returns the value of the last key= argument of a kernel
// command line, read as parseCmdline reads the URL.
func cmdlineArg(cmdline, key string) string {
	val := ""
	for _, arg := range strings.Fields(cmdline) {
		arg = unquote(arg)
		if v, ok := strings.CutPrefix(arg, key+"="); ok {
			val = unquote(v)
		}
	}
	return val
}

// unquote drops a leading double quote and the trailing one matching it.
func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// fetchURL fetches a config by URL.
func (s *session) fetchURL(ctx context.Context, url, name string) ([]byte, error) {
	var raw []byte
	err := s.op(func() error {
		var err error
		raw, err = s.fetcher.FetchBytes(ctx, resource.Request{URL: url, Accept: configs.Accept}, config.MaxSize)
		return err
	}, "fetching the config from %s", resource.Redact(url))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return raw, nil
}

// parse parses a config, logging the report's warnings; the error names
// the config and carries every error of the report with its line:column.
func (s *session) parse(name string, raw []byte) (types.Config, error) {
	var cfg types.Config
	err := s.l.LogOp(func() error {
		c, rpt, err := config.Parse(raw)
		for _, e := range rpt.Entries {
			if !e.Kind.IsFatal() {
				s.l.Warning("%s: %s", name, e)
			}
		}
		if err != nil {
			var lines []string
			for _, e := range rpt.Entries {
				if e.Kind.IsFatal() {
					lines = append(lines, e.String())
				}
			}
			if len(lines) > 0 {
				return fmt.Errorf("%w:\n%s", err, strings.Join(lines, "\n"))
			}
			return err
		}
		cfg = c
		return nil
	}, "parsing the config from %s", name)
	if err != nil {
		return types.Config{}, fmt.Errorf("%s: %w", name, err)
	}
	return cfg, nil
}

// render applies a config's replace/merge children to it.
func (s *session) render(ctx context.Context, src source) (types.Config, error) {
	c := src.cfg.Ignition.Config
	if (c.Replace.Source == nil || *c.Replace.Source == "") && len(c.Merge) == 0 {
		return src.cfg, nil
	}
	var out types.Config
	err := s.op(func() error {
		var err error
		out, err = s.asm.Render(ctx, src.cfg, src.origin)
		return err
	}, "fetching and merging the configs named by %s", src.name)
	if err != nil {
		return types.Config{}, fmt.Errorf("%s: %w", src.name, err)
	}
	return out, nil
}

// op runs fn as a logged operation. In offline mode, needing the network
// is the expected way out rather than a failure: it is logged as such
// (not as a CRITICAL "[failed]") and still returned.
func (s *session) op(fn func() error, format string, args ...any) error {
	if !s.offline {
		return s.l.LogOp(fn, format, args...)
	}
	var needNet error
	err := s.l.LogOp(func() error {
		err := fn()
		if errors.Is(err, resource.ErrNeedsNetwork) {
			s.l.Info("needs the network, which is not up yet: %v", err)
			needNet = err
			return nil
		}
		return err
	}, format, args...)
	if needNet != nil {
		return needNet
	}
	return err
}

// baseConfig merges the base configs, each with its children rendered.
func (s *session) baseConfig(ctx context.Context, platformName string) (types.Config, error) {
	dirs := []string{s.p.SystemConfigDir, s.p.LocalConfigDir, s.p.RuntimeConfigDir}
	var paths []string
	for _, sub := range []string{"base.d", filepath.Join("base.platform.d", platformName)} {
		found, err := s.fragments(dirs, sub)
		if err != nil {
			return types.Config{}, err
		}
		paths = append(paths, found...)
	}
	if len(paths) == 0 {
		s.l.Info("no base configs")
		return types.Config{}, nil
	}
	var acc types.Config
	for _, path := range paths {
		raw, err := config.ReadFile(path)
		if err != nil {
			return types.Config{}, fmt.Errorf("base config: %w", err)
		}
		name := "base config " + path
		cfg, err := s.parse(name, raw)
		if err != nil {
			return types.Config{}, err
		}
		cfg, err = s.render(ctx, source{name: name, cfg: cfg})
		if err != nil {
			return types.Config{}, err
		}
		acc = merge.Merge(acc, cfg)
	}
	return acc, nil
}

// fragments returns the *.ign files of sub in dirs (lowest priority first),
// one per file name, sorted by name; see the package documentation.
func (s *session) fragments(dirs []string, sub string) ([]string, error) {
	chosen := map[string]string{}
	for _, dir := range dirs {
		d := filepath.Join(dir, sub)
		entries, err := os.ReadDir(d)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading base configs: %w", err)
		}
		for _, e := range entries {
			if e.IsDir() || filepath.Ext(e.Name()) != ".ign" {
				continue
			}
			path := filepath.Join(d, e.Name())
			if prev, ok := chosen[e.Name()]; ok {
				s.l.Info("base config %s overrides %s", path, prev)
			}
			chosen[e.Name()] = path
		}
	}
	names := make([]string, 0, len(chosen))
	for name := range chosen {
		names = append(names, name)
	}
	sort.Strings(names)
	var out []string
	for _, name := range names {
		path := chosen[name]
		if target, err := os.Readlink(path); err == nil && target == os.DevNull {
			s.l.Info("base config %s is masked (a link to %s)", path, os.DevNull)
			continue
		}
		out = append(out, path)
	}
	return out, nil
}

// writeFlag creates an empty flag file and its parent dirs.
func writeFlag(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, nil, 0o644)
}

func (a *Acquirer) getenv(key string) (string, bool) {
	if a.Env != nil {
		return a.Env(key)
	}
	return os.LookupEnv(key)
}

func (a *Acquirer) logger() *log.Logger {
	if a.Log != nil {
		return a.Log
	}
	return log.Discard()
}

// paths fills in the defaults of a.Paths.
func (a *Acquirer) paths() Paths {
	p := a.Paths
	pick := func(field *string, env, def string) {
		if *field != "" {
			return
		}
		if v, ok := a.getenv(env); ok && v != "" {
			*field = v
			return
		}
		*field = def
	}
	pick(&p.KernelCmdline, KernelCmdlineEnv, distro.KernelCmdline())
	pick(&p.SystemConfigDir, SystemConfigDirEnv, distro.SystemConfigDir())
	pick(&p.LocalConfigDir, LocalConfigDirEnv, distro.LocalConfigDir())
	pick(&p.RuntimeConfigDir, RuntimeConfigDirEnv, distro.RuntimeConfigDir())
	if p.Cache == "" {
		p.Cache = DefaultCachePath
	}
	if p.NeedNet == "" {
		p.NeedNet = DefaultNeedNetPath
	}
	return p
}
