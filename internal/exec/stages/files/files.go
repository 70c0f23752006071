// Package files is the files stage: it writes everything a config asks
// for into the target root (e.g. /sysroot) once its filesystems are
// mounted.
//
// # Order
//
// Run works in this order, each step only after the previous succeeded:
//
//  1. Every remote resource of storage.files (contents and append
//     fragments) is fetched concurrently with resource.FetchAll, into temp
//     files inside the root beside where each file will go. A failed fetch
//     changes nothing in the target.
//  2. passwd: groups are added or modified, then users are added, modified
//     or deleted, then groups that should not exist are deleted; SSH keys
//     go to ~/.ssh/authorized_keys.d/ignition. This comes before the nodes
//     so that files can be owned by the users the config creates.
//  3. storage: directories, then files, then symbolic links, then hard
//     links, each kind in config order; then /etc/crypttab and the key
//     files for storage.luks (crypttab.go).
//  4. systemd: units, drop-ins, masks, and the preset file.
//  5. The provisioning report, /etc/.ignition-result.json.
//  6. When the target uses SELinux, the list of paths to relabel (see
//     relabel.go).
//
// # Paths
//
// Every path is reached through Env.Root, an os.Root, and resolved the way
// Ignition's operator notes describe for the root filesystem: symlinks are
// followed in every component but the last, and an absolute symlink is
// followed as if the process ran chrooted in the target ("/etc" means the
// target's /etc). A relative symlink that climbs above the top of the root
// is refused. Nothing is ever created, changed or removed outside the
// root. Directories created on the way to a node get mode 0755 and owner
// 0:0.
//
// Errors name the config entry and what it is about, e.g.
//
//	storage.files.3 (/etc/foo): fetching https://host/x: server returned 404 Not Found
package files

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/ignition-go/ignition/config/types"
	"github.com/ignition-go/ignition/internal/exec/command"
	"github.com/ignition-go/ignition/internal/log"
	"github.com/ignition-go/ignition/internal/resource"
)

// Env is what the files stage works with.
type Env struct {
	// Root is the target root (e.g. /sysroot). Required.
	Root *os.Root
	// Fetcher fetches file contents and append fragments. Required when a
	// file has contents or fragments.
	Fetcher *resource.Fetcher
	// Log receives [started]/[finished]/[failed] for every operation; nil
	// discards.
	Log *log.Logger
	// Commands runs the shadow-utils (useradd and friends); nil runs them
	// on the host with os/exec.
	Commands Runner
	// Owners changes ownership; nil makes the chown system calls. Tests
	// that run unprivileged substitute a recorder.
	Owners Owners
	// UserConfigProvided says whether a user config (not only base
	// configs) was found, for the provisioning report.
	UserConfigProvided bool
	// Now is the clock for the report; nil means time.Now.
	Now func() time.Time
	// BootIDFile is read for the report's boot ID; empty means
	// distro.BootIDFile().
	BootIDFile string
	// RelabelFile is the host path of the SELinux relabel list, written
	// when the target uses SELinux; empty means distro.RelabelFile().
	RelabelFile string
	// SkipRelabel leaves the relabel list out (ignition-apply: the list is
	// read by systemd at the boot that runs Ignition, which a pre-baked
	// directory root does not have); a warning says relabeling is needed.
	SkipRelabel bool
	// LuksKeyDir is the host directory where the disks stage kept the
	// LUKS keys and beside which it recorded its volumes; empty means
	// distro.LuksKeyDir().
	LuksKeyDir string
}

// Run applies cfg's storage nodes, users and groups, and systemd units to
// e.Root, then writes the provisioning report. See the package
// documentation for the order.
func Run(ctx context.Context, cfg types.Config, e Env) error {
	if e.Root == nil {
		return errors.New("files: no target root")
	}
	s := &stage{
		ctx:   ctx,
		cfg:   &cfg,
		root:  e.Root,
		fetch: e.Fetcher,
		log:   e.Log,
		run:   e.Commands,
		own:   e.Owners,
		env:   &e,
	}
	if s.log == nil {
		s.log = log.Discard()
	}
	if s.run == nil {
		s.run = command.Exec{}
	}
	if s.own == nil {
		s.own = SystemOwners{}
	}

	staged, err := s.fetchFiles(cfg.Storage.Files)
	defer staged.removeAll(s.root)
	if err != nil {
		return err
	}
	steps := []func() error{
		s.passwd,
		s.directories,
		func() error { return s.files(staged) },
		s.links,
		s.crypttab,
		s.units,
		s.result,
		s.writeRelabels,
	}
	for _, step := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// stage is one run of the files stage.
type stage struct {
	ctx   context.Context
	cfg   *types.Config
	root  *os.Root
	fetch *resource.Fetcher
	log   *log.Logger
	run   Runner
	own   Owners
	env   *Env

	// accounts is the target's passwd and group databases, read when a
	// node's owner is first given by name (after the passwd step).
	accounts *accounts

	// relabels is every path created or changed, for SELinux relabeling.
	relabels relabels
}

// entryError names the config entry an error is about: "storage.files.3
// (/etc/foo): <err>".
type entryError struct {
	Entry string // "storage.files.3"
	Name  string // "/etc/foo", a unit or user name
	Err   error
}

func (e *entryError) Error() string { return fmt.Sprintf("%s (%s): %v", e.Entry, e.Name, e.Err) }
func (e *entryError) Unwrap() error { return e.Err }

func entryErr(entry, name string, err error) error {
	if err == nil {
		return nil
	}
	return &entryError{Entry: entry, Name: name, Err: err}
}

func isTrue(b *bool) bool { return b != nil && *b }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
