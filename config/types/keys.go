package types

import "strconv"

// Keyed is a list entry with an identity: two entries of one list (or of
// lists sharing a namespace) with the same Key are the same thing, which
// makes them duplicates in one config and merge targets across configs.
type Keyed interface {
	Key() string
}

// Key identifies a resource by its source; entries without one share "".
func (r Resource) Key() string { return deref(r.Source) }

// Key identifies a header by name.
func (h HTTPHeader) Key() string { return h.Name }

// Key identifies a disk by device.
func (d Disk) Key() string { return d.Device }

// Key identifies a partition by number, or by label when the number is 0
// ("next free slot"); a partition with neither has the empty key.
func (p Partition) Key() string {
	if p.Number != 0 {
		return "number:" + strconv.Itoa(p.Number)
	}
	if p.Label != nil {
		return "label:" + *p.Label
	}
	return ""
}

// Key identifies an array by name.
func (r Raid) Key() string { return r.Name }

// Key identifies a LUKS volume by name.
func (l Luks) Key() string { return l.Name }

// Key identifies a Tang server by URL.
func (t Tang) Key() string { return t.URL }

// Key identifies a filesystem by device.
func (f Filesystem) Key() string { return f.Device }

// Key identifies a file, directory or link by path (one namespace).
func (n Node) Key() string { return n.Path }

// Key identifies a unit by name.
func (u Unit) Key() string { return u.Name }

// Key identifies a drop-in by name.
func (d Dropin) Key() string { return d.Name }

// Key identifies a user by name.
func (u PasswdUser) Key() string { return u.Name }

// Key identifies a group by name.
func (g PasswdGroup) Key() string { return g.Name }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
