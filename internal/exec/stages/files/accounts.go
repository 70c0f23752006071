package files

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/ignition-go/ignition/config/types"
)

// The target's account databases, always read through the root: a name is
// looked up in the system being provisioned, never on the host.
const (
	passwdFile  = "/etc/passwd"
	groupFile   = "/etc/group"
	shadowFile  = "/etc/shadow"
	gshadowFile = "/etc/gshadow"
)

// user is one /etc/passwd entry.
type user struct {
	name          string
	uid, gid      int
	gecos, home   string
	shell         string
	passwordField string
}

// group is one /etc/group entry.
type group struct {
	name    string
	gid     int
	members []string
}

// accounts holds the target's users and groups.
type accounts struct {
	users  map[string]user
	groups map[string]group
	// shadow maps user names to password hashes (/etc/shadow), gshadow
	// group names to theirs; either may be nil if the file is missing.
	shadow, gshadow map[string]string
}

// readAccounts reads the target's passwd, group, shadow and gshadow. A
// missing file is an empty database.
func readAccounts(root *os.Root) (*accounts, error) {
	a := &accounts{users: map[string]user{}, groups: map[string]group{}}
	err := readDB(root, passwdFile, 7, func(f []string) error {
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err := errors.Join(err1, err2); err != nil {
			return err
		}
		a.users[f[0]] = user{name: f[0], passwordField: f[1], uid: uid, gid: gid, gecos: f[4], home: f[5], shell: f[6]}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = readDB(root, groupFile, 4, func(f []string) error {
		gid, err := strconv.Atoi(f[2])
		if err != nil {
			return err
		}
		var members []string
		if f[3] != "" {
			members = strings.Split(f[3], ",")
		}
		a.groups[f[0]] = group{name: f[0], gid: gid, members: members}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, db := range []struct {
		file string
		m    *map[string]string
	}{{shadowFile, &a.shadow}, {gshadowFile, &a.gshadow}} {
		err = readDB(root, db.file, 2, func(f []string) error {
			if *db.m == nil {
				*db.m = map[string]string{}
			}
			(*db.m)[f[0]] = f[1]
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return a, nil
}

// readDB calls entry with the colon-separated fields of each line of file
// (at least want of them). Blank lines and comments are skipped, as are
// NIS "+"/"-" lines.
func readDB(root *os.Root, file string, want int, entry func([]string) error) error {
	n, err := resolve(root, file)
	if err != nil {
		return fmt.Errorf("reading the target's %s: %w", file, err)
	}
	raw, err := root.ReadFile(n.Rel())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the target's %s: %w", file, err)
	}
	for i, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" || line[0] == '#' || line[0] == '+' || line[0] == '-' {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) < want {
			return fmt.Errorf("the target's %s, line %d: %d fields, want %d", file, i+1, len(f), want)
		}
		if err := entry(f); err != nil {
			return fmt.Errorf("the target's %s, line %d: %w", file, i+1, err)
		}
	}
	return nil
}

// loadAccounts reads the target's databases once, for node owners.
func (s *stage) loadAccounts() (*accounts, error) {
	if s.accounts == nil {
		a, err := readAccounts(s.root)
		if err != nil {
			return nil, err
		}
		s.accounts = a
	}
	return s.accounts, nil
}

// owner returns the uid and gid a node asks for, by id or by name in the
// target's databases; def is used for what it does not give.
func (s *stage) owner(n *types.Node, defUID, defGID int) (uid, gid int, err error) {
	uid, gid = defUID, defGID
	if n.User.ID != nil {
		uid = *n.User.ID
	} else if n.User.Name != nil && *n.User.Name != "" {
		a, err := s.loadAccounts()
		if err != nil {
			return 0, 0, err
		}
		u, ok := a.users[*n.User.Name]
		if !ok {
			return 0, 0, fmt.Errorf("user %q not found in the target's %s", *n.User.Name, passwdFile)
		}
		uid = u.uid
	}
	if n.Group.ID != nil {
		gid = *n.Group.ID
	} else if n.Group.Name != nil && *n.Group.Name != "" {
		a, err := s.loadAccounts()
		if err != nil {
			return 0, 0, err
		}
		g, ok := a.groups[*n.Group.Name]
		if !ok {
			return 0, 0, fmt.Errorf("group %q not found in the target's %s", *n.Group.Name, groupFile)
		}
		gid = g.gid
	}
	return uid, gid, nil
}
