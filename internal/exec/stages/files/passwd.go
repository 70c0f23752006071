package files

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/ignition-go/ignition/config/types"
	"github.com/ignition-go/ignition/internal/distro"
	"github.com/ignition-go/ignition/internal/exec/command"
)

// Runner runs a host command. The files stage runs the shadow-utils
// through it, each with --root <target root>.
type Runner = command.Runner

// lockedPassword is set for a password hash given as "": no password
// matches it, so the account cannot log in with one (an empty hash would
// let anyone in).
const lockedPassword = "*"

// passwd applies passwd: groups that should exist are added or modified,
// then users are added, modified or deleted (and given their SSH keys),
// then groups that should not exist are deleted, once no user of the
// config still needs them.
func (s *stage) passwd() error {
	pw := &s.cfg.Passwd
	if len(pw.Users) == 0 && len(pw.Groups) == 0 {
		return nil
	}
	defer func() { s.accounts = nil }() // the nodes read them afresh
	rootDir, err := filepath.Abs(s.root.Name())
	if err != nil {
		return err
	}
	for i := range pw.Groups {
		g := &pw.Groups[i]
		if g.ShouldExist != nil && !*g.ShouldExist {
			continue
		}
		if err := s.group(rootDir, g); err != nil {
			return entryErr(fmt.Sprintf("passwd.groups.%d", i), g.Name, err)
		}
	}
	for i := range pw.Users {
		u := &pw.Users[i]
		if err := s.user(rootDir, u); err != nil {
			return entryErr(fmt.Sprintf("passwd.users.%d", i), u.Name, err)
		}
	}
	for i := range pw.Groups {
		g := &pw.Groups[i]
		if g.ShouldExist == nil || *g.ShouldExist {
			continue
		}
		if err := s.deleteGroup(rootDir, g); err != nil {
			return entryErr(fmt.Sprintf("passwd.groups.%d", i), g.Name, err)
		}
	}
	return nil
}

// command runs a shadow-utils command, logging it with any password
// hash left out.
func (s *stage) command(argv []string) error {
	shown := slices.Clone(argv)
	for i := 1; i < len(shown); i++ {
		if shown[i-1] == "--password" {
			shown[i] = "<hash>"
		}
	}
	s.log.Debug("running %s", strings.Join(shown, " "))
	if err := s.run.Run(s.ctx, argv); err != nil {
		return err
	}
	return s.relabelAccounts()
}

func (s *stage) group(rootDir string, g *types.PasswdGroup) error {
	a, err := readAccounts(s.root)
	if err != nil {
		return err
	}
	cur, exists := a.groups[g.Name]
	if !exists {
		argv := []string{distro.GroupaddCmd(), "--root", rootDir}
		if g.Gid != nil {
			argv = append(argv, "--gid", strconv.Itoa(*g.Gid))
		}
		if g.PasswordHash != nil {
			argv = append(argv, "--password", hashArg(*g.PasswordHash))
		}
		if isTrue(g.System) {
			argv = append(argv, "--system")
		}
		argv = append(argv, g.Name)
		return s.log.LogOp(func() error { return s.command(argv) }, "adding group %q", g.Name)
	}
	var args []string
	if g.Gid != nil && *g.Gid != cur.gid {
		args = append(args, "--gid", strconv.Itoa(*g.Gid))
	}
	if g.PasswordHash != nil && hashArg(*g.PasswordHash) != a.gshadow[g.Name] {
		args = append(args, "--password", hashArg(*g.PasswordHash))
	}
	if len(args) == 0 {
		s.log.Info("group %q exists as the config describes it", g.Name)
		return nil
	}
	argv := append(append([]string{distro.GroupmodCmd(), "--root", rootDir}, args...), g.Name)
	return s.log.LogOp(func() error { return s.command(argv) }, "modifying group %q", g.Name)
}

func (s *stage) deleteGroup(rootDir string, g *types.PasswdGroup) error {
	a, err := readAccounts(s.root)
	if err != nil {
		return err
	}
	if _, ok := a.groups[g.Name]; !ok {
		s.log.Info("group %q does not exist; nothing to delete", g.Name)
		return nil
	}
	argv := []string{distro.GroupdelCmd(), "--root", rootDir, g.Name}
	return s.log.LogOp(func() error { return s.command(argv) }, "deleting group %q", g.Name)
}

func (s *stage) user(rootDir string, u *types.PasswdUser) error {
	a, err := readAccounts(s.root)
	if err != nil {
		return err
	}
	cur, exists := a.users[u.Name]
	if u.ShouldExist != nil && !*u.ShouldExist {
		if !exists {
			s.log.Info("user %q does not exist; nothing to delete", u.Name)
			return nil
		}
		argv := []string{distro.UserdelCmd(), "--root", rootDir, u.Name}
		return s.log.LogOp(func() error { return s.command(argv) }, "deleting user %q", u.Name)
	}
	if !exists {
		argv := useradd(rootDir, u)
		if err := s.log.LogOp(func() error { return s.command(argv) }, "creating user %q", u.Name); err != nil {
			return err
		}
		if err := s.relabelHome(u.Name); err != nil {
			return err
		}
	} else if args := usermodArgs(a, cur, u); len(args) > 0 {
		argv := append(append([]string{distro.UsermodCmd(), "--root", rootDir}, args...), u.Name)
		if err := s.log.LogOp(func() error { return s.command(argv) }, "modifying user %q", u.Name); err != nil {
			return err
		}
	} else {
		s.log.Info("user %q exists as the config describes it", u.Name)
	}
	if len(u.SSHAuthorizedKeys) == 0 {
		return nil
	}
	return s.log.LogOp(func() error { return s.authorizedKeys(u) }, "adding ssh keys to user %q", u.Name)
}

// hashArg is the --password argument for a config's password hash.
func hashArg(h string) string {
	if h == "" {
		return lockedPassword
	}
	return h
}

// useradd is the command line creating u.
func useradd(rootDir string, u *types.PasswdUser) []string {
	argv := []string{distro.UseraddCmd(), "--root", rootDir}
	if u.UID != nil {
		argv = append(argv, "--uid", strconv.Itoa(*u.UID))
	}
	if u.Gecos != nil {
		argv = append(argv, "--comment", *u.Gecos)
	}
	if u.HomeDir != nil {
		argv = append(argv, "--home-dir", *u.HomeDir)
	}
	if isTrue(u.NoCreateHome) {
		argv = append(argv, "--no-create-home")
	} else {
		argv = append(argv, "--create-home")
	}
	if u.PrimaryGroup != nil {
		argv = append(argv, "--gid", *u.PrimaryGroup)
	}
	if len(u.Groups) > 0 {
		argv = append(argv, "--groups", strings.Join(u.Groups, ","))
	}
	if isTrue(u.NoUserGroup) {
		argv = append(argv, "--no-user-group")
	}
	if isTrue(u.System) {
		argv = append(argv, "--system")
	}
	if isTrue(u.NoLogInit) {
		argv = append(argv, "--no-log-init")
	}
	if u.Shell != nil {
		argv = append(argv, "--shell", *u.Shell)
	}
	if u.PasswordHash != nil {
		argv = append(argv, "--password", hashArg(*u.PasswordHash))
	}
	return append(argv, u.Name)
}

// usermodArgs are the usermod options that bring the existing user cur
// to what u gives; none when it matches. Options that only apply on
// creation (system, noCreateHome, noUserGroup, noLogInit) are not
// compared.
func usermodArgs(a *accounts, cur user, u *types.PasswdUser) []string {
	var args []string
	if u.UID != nil && *u.UID != cur.uid {
		args = append(args, "--uid", strconv.Itoa(*u.UID))
	}
	if u.Gecos != nil && *u.Gecos != cur.gecos {
		args = append(args, "--comment", *u.Gecos)
	}
	if u.HomeDir != nil && path.Clean(*u.HomeDir) != path.Clean(cur.home) {
		args = append(args, "--home", *u.HomeDir)
	}
	if u.PrimaryGroup != nil && *u.PrimaryGroup != strconv.Itoa(cur.gid) {
		if g, ok := a.groups[*u.PrimaryGroup]; !ok || g.gid != cur.gid {
			args = append(args, "--gid", *u.PrimaryGroup)
		}
	}
	if len(u.Groups) > 0 {
		var have []string
		for _, g := range a.groups {
			if slices.Contains(g.members, cur.name) {
				have = append(have, g.name)
			}
		}
		want := slices.Clone(u.Groups)
		slices.Sort(have)
		slices.Sort(want)
		if !slices.Equal(have, slices.Compact(want)) {
			args = append(args, "--groups", strings.Join(u.Groups, ","))
		}
	}
	if u.Shell != nil && *u.Shell != cur.shell {
		args = append(args, "--shell", *u.Shell)
	}
	if u.PasswordHash != nil {
		have, ok := a.shadow[cur.name]
		if !ok {
			have = cur.passwordField
		}
		if want := hashArg(*u.PasswordHash); want != have {
			args = append(args, "--password", want)
		}
	}
	return args
}

// authorizedKeys writes u's keys to ~/.ssh/authorized_keys.d/ignition,
// with the home directory from the target's passwd (as useradd made it).
// Missing directories from the home down are created 0700 and owned by
// the user; the file is 0600 and owned by the user.
func (s *stage) authorizedKeys(u *types.PasswdUser) error {
	a, err := readAccounts(s.root)
	if err != nil {
		return err
	}
	cur, ok := a.users[u.Name]
	if !ok {
		return fmt.Errorf("user %q is not in the target's %s", u.Name, passwdFile)
	}
	if !path.IsAbs(cur.home) {
		return fmt.Errorf("user %q has no absolute home directory in the target's %s: %q", u.Name, passwdFile, cur.home)
	}
	home, err := resolveDir(s.root, path.Clean(cur.home))
	if err != nil {
		return fmt.Errorf("home directory %s: %w", cur.home, err)
	}
	if home == "." {
		return fmt.Errorf("user %q has the root directory as home", u.Name)
	}
	if err := s.mkdirs(path.Dir(home)); err != nil {
		return err
	}
	dir := home
	for _, sub := range []string{"", ".ssh", "authorized_keys.d"} {
		if sub != "" {
			if dir, err = resolveDir(s.root, "/"+path.Join(dir, sub)); err != nil {
				return err
			}
		}
		if err := s.mkdirOwned(dir, cur.uid, cur.gid, 0o700); err != nil {
			return err
		}
	}
	keys := strings.Join(u.SSHAuthorizedKeys, "\n") + "\n"
	return s.writeFile(node{Dir: dir, Base: "ignition"}, meta{uid: cur.uid, gid: cur.gid, mode: 0o600},
		func(w io.Writer) error {
			_, err := io.WriteString(w, keys)
			return err
		})
}

// mkdirOwned creates dir (resolved; its parent exists) with the owner and
// mode given, unless it exists; an existing one is left as it is.
func (s *stage) mkdirOwned(dir string, uid, gid int, mode fs.FileMode) error {
	fi, err := s.root.Lstat(dir)
	if err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("/%s is not a directory", dir)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := s.root.Mkdir(dir, 0o700); err != nil {
		return err
	}
	return s.setOwnerMode(dir, uid, gid, mode)
}
