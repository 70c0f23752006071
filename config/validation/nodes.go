package validation

import (
	pathpkg "path"
	"slices"

	"github.com/coreos/vcontext/path"

	"github.com/ignition-go/ignition/config/spec"
	"github.com/ignition-go/ignition/config/types"
)

const (
	modeMax         = 0o7777
	modeSpecialBits = 0o7000 // setuid, setgid, sticky
)

func (v *validator) file(at path.ContextPath, f *types.File) {
	v.mode(at.Append("mode"), f.Mode)
	// Overwriting replaces an existing file with the given contents; with
	// no source there is nothing to replace it with ("" is a source: empty
	// contents).
	if isTrue(f.Overwrite) && f.Contents.Source == nil {
		v.err(at.Append("overwrite"), errOverwriteNoSource)
	}
	v.node(at, &f.Node)
	for i := range f.Append {
		v.resource(at.Append("append", i), &f.Append[i])
	}
	v.resource(at.Append("contents"), &f.Contents)
}

func (v *validator) directory(at path.ContextPath, d *types.Directory) {
	v.mode(at.Append("mode"), d.Mode)
	v.node(at, &d.Node)
}

func (v *validator) link(at path.ContextPath, l *types.Link) {
	if isEmpty(l.Target) && v.s.Has(spec.LinkTargetRequired) {
		v.err(at.Append("target"), errLinkTarget)
	}
	v.node(at, &l.Node)
}

func (v *validator) node(at path.ContextPath, n *types.Node) {
	v.err(at.Append("path"), checkPath(n.Path))
	v.owner(at.Append("group"), &n.Group)
	v.owner(at.Append("user"), &n.User)
}

// owner rejects an owner given both ways: the id and the name could name
// different accounts.
func (v *validator) owner(at path.ContextPath, o *types.NodeOwner) {
	if o.ID != nil && !isEmpty(o.Name) {
		v.err(at, errOwnerIDAndName)
	}
}

func (v *validator) mode(at path.ContextPath, m *int) {
	if m == nil {
		return
	}
	if *m < 0 || *m > modeMax {
		v.err(at, errMode)
	}
	// Ignition does not apply these bits for configs older than 3.6.0, so
	// such a config would not get what it asks for.
	if *m&modeSpecialBits != 0 && !v.s.Has(spec.SpecialModeBits) {
		v.warn(at, errModeSpecialBits)
	}
}

// storageNodes checks files, directories and links against each other.
//
// A node whose path goes through a link the config creates is rejected:
// where it ends up would depend on the order of creation and on the link's
// target. Configs can have thousands of files, so rather than test each
// path against each link, each ancestor of a path is looked up in a set of
// link paths. A path's ancestors are its prefixes that end just before a
// "/"; that is exactly "path has prefix link+'/'", even for unclean paths.
//
// A hard link cannot point at a directory, and it is the same inode as its
// target, so an owner given for it is ignored.
func (v *validator) storageNodes(at path.ContextPath, st *types.Storage) {
	if len(st.Links) == 0 {
		return
	}
	links := make(map[string][]int, len(st.Links))
	for i := range st.Links {
		links[st.Links[i].Path] = append(links[st.Links[i].Path], i)
	}
	// underLinks returns the indexes of the links p goes through, in list
	// order, so the report does not depend on the depth of each link.
	var hits []int
	underLinks := func(p string) []int {
		hits = hits[:0]
		for k := 0; k < len(p); k++ {
			if p[k] == '/' {
				hits = append(hits, links[p[:k]]...)
			}
		}
		slices.Sort(hits)
		return hits
	}
	for i := range st.Directories {
		for range underLinks(st.Directories[i].Path) {
			v.err(at.Append("directories", i), errDirectoryUnderLink)
		}
	}
	for i := range st.Files {
		for range underLinks(st.Files[i].Path) {
			v.err(at.Append("files", i), errFileUnderLink)
		}
	}
	var dirs map[string]struct{}
	for i := range st.Links {
		l := &st.Links[i]
		for range underLinks(l.Path) {
			v.err(at.Append("links", i), errLinkUnderLink)
		}
		if !isTrue(l.Hard) || (isEmpty(l.Target) && v.s.Has(spec.LinkTargetRequired)) {
			continue // a missing target is reported by the link's own rules
		}
		if dirs == nil {
			dirs = make(map[string]struct{}, len(st.Directories))
			for j := range st.Directories {
				dirs[st.Directories[j].Path] = struct{}{}
			}
		}
		if _, ok := dirs[hardLinkTarget(l)]; ok {
			v.err(at.Append("links", i), errHardLinkToDir)
		}
		for _, o := range []struct {
			name  string
			owner *types.NodeOwner
		}{{"user", &l.User}, {"group", &l.Group}} {
			if o.owner.ID != nil {
				v.warn(at.Append("links", i, o.name, "id"), errHardLinkOwner)
			}
			if o.owner.Name != nil {
				v.warn(at.Append("links", i, o.name, "name"), errHardLinkOwner)
			}
		}
	}
}

// hardLinkTarget resolves a hard link's target as the reference
// implementation does when checking it: a relative target is taken
// relative to the link's own path, not to its parent directory. This is
// not where the link would point, but matching it keeps our verdicts the
// same as the reference's.
func hardLinkTarget(l *types.Link) string {
	t := pathpkg.Clean(deref(l.Target))
	if pathpkg.IsAbs(t) {
		return t
	}
	return pathpkg.Join(l.Path, t)
}

// systemdConflicts rejects a file, directory or link at the path where a
// unit or drop-in with contents will be written: one would overwrite the
// other.
func (v *validator) systemdConflicts(cfg *types.Config) {
	const dir = "/etc/systemd/system/"
	written := map[string]struct{}{}
	for _, u := range cfg.Systemd.Units {
		if !isEmpty(u.Contents) {
			written[dir+u.Name] = struct{}{}
		}
		for _, d := range u.Dropins {
			if !isEmpty(d.Contents) {
				written[dir+u.Name+".d/"+d.Name] = struct{}{}
			}
		}
	}
	if len(written) == 0 {
		return
	}
	st := &cfg.Storage
	for i := range st.Files {
		if _, ok := written[st.Files[i].Path]; ok {
			v.err(root("storage", "files", i, "path"), errPathIsSystemd)
		}
	}
	for i := range st.Directories {
		if _, ok := written[st.Directories[i].Path]; ok {
			v.err(root("storage", "directories", i, "path"), errPathIsSystemd)
		}
	}
	for i := range st.Links {
		if _, ok := written[st.Links[i].Path]; ok {
			v.err(root("storage", "links", i, "path"), errPathIsSystemd)
		}
	}
}
