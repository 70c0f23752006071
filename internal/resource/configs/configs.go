// Package configs assembles a config from its children: the configs named
// by ignition.config.replace and ignition.config.merge, fetched, verified,
// parsed (any 3.x version) and merged depth-first. This is what the fetch
// stages call once they have the user config.
package configs

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ignition-go/ignition/config"
	"github.com/ignition-go/ignition/config/merge"
	"github.com/ignition-go/ignition/config/types"
	"github.com/ignition-go/ignition/internal/resource"
)

// MaxDepth bounds how deep configs may nest (a config that merges one that
// merges one …). Deeper nesting is almost surely a mistake.
const MaxDepth = 10

// Accept is sent when fetching configs over http(s).
var Accept = "application/vnd.coreos.ignition+json;version=" + config.Latest.String() + ", */*;q=0.1"

// ErrCycle is returned when a config names itself, directly or not.
var ErrCycle = errors.New("config includes itself")

// Assembler fetches and merges child configs.
type Assembler struct {
	// Options are the fetch options that do not come from configs
	// (offline mode, retry codes, test endpoints). Each config's timeouts,
	// proxy and CAs are added on top for the fetches it makes.
	Options resource.Options
	// Warn, if set, receives warnings from parsing child configs.
	Warn func(msg string)
}

// Render returns cfg with its children applied: a replace child replaces
// cfg entirely (and is rendered in turn); otherwise each merge child is
// rendered and merged over cfg in order, and the merged config's
// timeouts, proxy and CAs govern the fetches that follow. origin is the URL
// cfg itself came from ("" if none), so a child naming it is a cycle.
func (a *Assembler) Render(ctx context.Context, cfg types.Config, origin string) (types.Config, error) {
	var chain []string
	if origin != "" {
		chain = []string{origin}
	}
	return a.render(ctx, cfg, chain)
}

// render keeps chain, the sources from the top config to this one, to
// refuse cycles and bound depth.
func (a *Assembler) render(ctx context.Context, cfg types.Config, chain []string) (types.Config, error) {
	if len(chain) > MaxDepth+1 {
		return types.Config{}, fmt.Errorf("configs nest more than %d deep: %s", MaxDepth, trail(chain))
	}
	if src := cfg.Ignition.Config.Replace.Source; src != nil && *src != "" {
		child, err := a.child(ctx, cfg, cfg.Ignition.Config.Replace, "ignition.config.replace", chain)
		if err != nil {
			return types.Config{}, err
		}
		return a.render(ctx, child, append(chain, *src))
	}
	acc := cfg
	for i, ref := range cfg.Ignition.Config.Merge {
		where := fmt.Sprintf("ignition.config.merge.%d", i)
		child, err := a.child(ctx, acc, ref, where, chain)
		if err != nil {
			return types.Config{}, err
		}
		child, err = a.render(ctx, child, append(chain, deref(ref.Source)))
		if err != nil {
			return types.Config{}, err
		}
		acc = merge.Merge(acc, child)
	}
	return acc, nil
}

// child fetches and parses the config ref points to, using the fetch
// settings of parent (the config as merged so far).
func (a *Assembler) child(ctx context.Context, parent types.Config, ref types.Resource, where string, chain []string) (types.Config, error) {
	src := deref(ref.Source)
	if src == "" {
		return types.Config{}, fmt.Errorf("%s: source is required", where)
	}
	for _, s := range chain {
		if s == src {
			return types.Config{}, fmt.Errorf("%s: %w: %s", where, ErrCycle, trail(append(chain, src)))
		}
	}
	f, err := a.fetcher(ctx, parent)
	if err != nil {
		return types.Config{}, err
	}
	req := resource.FromResource(ref, where)
	req.Accept = Accept
	raw, err := f.FetchBytes(ctx, req, config.MaxSize)
	if err != nil {
		return types.Config{}, err
	}
	cfg, rpt, err := config.Parse(raw)
	name := where + " (" + resource.Redact(src) + ")"
	if a.Warn != nil {
		for _, e := range rpt.Entries {
			if !e.Kind.IsFatal() {
				a.Warn(name + ": " + e.String())
			}
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
			return types.Config{}, fmt.Errorf("%s: %w:\n%s", name, err, strings.Join(lines, "\n"))
		}
		return types.Config{}, fmt.Errorf("%s: %w", name, err)
	}
	return cfg, nil
}

// Fetcher returns the fetcher cfg's own settings ask for (see fetcher),
// for the stages that fetch what a final config names (the files stage).
func (a *Assembler) Fetcher(ctx context.Context, cfg types.Config) (*resource.Fetcher, error) {
	return a.fetcher(ctx, cfg)
}

// fetcher builds the fetcher a config's own settings ask for: its
// timeouts and proxy, and its certificate authorities, which are fetched
// first (with the same timeouts and proxy, but only the system's CAs).
func (a *Assembler) fetcher(ctx context.Context, cfg types.Config) (*resource.Fetcher, error) {
	opts := a.Options
	own := resource.OptionsFor(cfg.Ignition)
	opts.ResponseHeaderTimeout, opts.Total, opts.Proxy = own.ResponseHeaderTimeout, own.Total, own.Proxy
	cas := cfg.Ignition.Security.TLS.CertificateAuthorities
	if len(cas) == 0 {
		return resource.New(opts)
	}
	bootstrap, err := resource.New(opts)
	if err != nil {
		return nil, err
	}
	for i, ca := range cas {
		req := resource.FromResource(ca, fmt.Sprintf("ignition.security.tls.certificateAuthorities.%d", i))
		pem, err := bootstrap.FetchBytes(ctx, req, maxCABundle)
		if err != nil {
			return nil, err
		}
		opts.CAs = append(opts.CAs, pem)
	}
	f, err := resource.New(opts)
	if err != nil {
		return nil, fmt.Errorf("ignition.security.tls.certificateAuthorities: %w", err)
	}
	return f, nil
}

// maxCABundle bounds a fetched CA bundle; the whole Mozilla bundle is
// about 250 KB.
const maxCABundle = 8 << 20

func trail(chain []string) string {
	parts := make([]string, len(chain))
	for i, s := range chain {
		parts[i] = resource.Redact(s)
	}
	return strings.Join(parts, " → ")
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
