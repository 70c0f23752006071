package transpile

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"strings"
	"sync"

	"github.com/coreos/go-systemd/v22/unit"
	"github.com/vincent-petithory/dataurl"
	"gopkg.in/yaml.v3"

	"github.com/ignition-go/ignition/config"
	"github.com/ignition-go/ignition/config/types"
)

func reflectValue(p any) reflect.Value { return reflect.ValueOf(p).Elem() }

// applySugar expands the sugar keys found on one struct, after its plain
// fields are decoded.
func (w *walker) applySugar(n *yaml.Node, v reflect.Value, at where, sugar map[string]*yaml.Node) {
	if len(sugar) == 0 {
		return
	}
	switch x := v.Addr().Interface().(type) {
	case *types.Resource:
		w.resource(x, at, sugar["inline"], sugar["local"])
	case *types.Filesystem:
		if k := sugar["with_mount_unit"]; k != nil {
			var on bool
			if w.scalar(w.resolve(k), reflect.ValueOf(&on), at.field("", "with_mount_unit")) && on {
				w.mountUnits = append(w.mountUnits, mountUnit{fs: *x, node: k, in: join(at.in, "with_mount_unit")})
			}
		}
	case *types.Unit:
		w.contentsLocal(&x.Contents, at, sugar["contents_local"])
	case *types.Dropin:
		w.contentsLocal(&x.Contents, at, sugar["contents_local"])
	case *types.PasswdUser:
		w.sshKeysLocal(x, at, sugar["ssh_authorized_keys_local"])
	case *types.Config:
		if b := sugar["boot_device"]; b != nil {
			w.parseBootDevice(b)
		}
		if g := sugar["grub"]; g != nil {
			w.parseGrub(g)
		}
		if m := sugar["metadata"]; m != nil {
			w.parseMetadata(m)
		}
		if o := sugar["openshift"]; o != nil {
			w.parseOpenShift(o)
		}
	case *types.Systemd:
		if q := sugar["quadlets"]; q != nil {
			w.parseQuadlets(q, join(at.in, "quadlets"))
		}
	case *types.Storage:
		if t := sugar["trees"]; t != nil {
			w.parseTrees(t, join(at.in, "trees"))
		}
	}
}

// str decodes a sugar value that must be a string.
func (w *walker) str(n *yaml.Node, in string) (string, bool) {
	n = w.resolve(n)
	if isNull(n) {
		return "", false
	}
	var s string
	if n.Kind != yaml.ScalarNode || n.Decode(&s) != nil {
		w.errorAt(n, in, "expected a string, found %s", kindName(n))
		return "", false
	}
	return s, true
}

// resource turns inline or local contents into a data URL source.
func (w *walker) resource(r *types.Resource, at where, inline, local *yaml.Node) {
	if isNull(inline) {
		inline = nil
	}
	if isNull(local) {
		local = nil
	}
	if inline == nil && local == nil {
		return
	}
	n, name := inline, "inline"
	if n == nil {
		n, name = local, "local"
	}
	in := join(at.in, name)
	if (inline != nil && local != nil) || r.Source != nil {
		w.errorAt(n, in, "source, inline and local are mutually exclusive")
		return
	}
	s, ok := w.str(n, in)
	if !ok {
		return
	}
	data := []byte(s)
	if name == "local" {
		if data, ok = w.readLocal(n, in, s); !ok {
			return
		}
	}
	hasCompression := allowed(w.v.Ignition, join(at.key, "compression")) && w.autoGzip()
	userCompressed := r.Compression != nil && *r.Compression != ""
	if (at.key == "ignition.config.merge" || at.key == "ignition.config.replace") && !userCompressed {
		w.checkEmbeddedConfig(data, n, in)
	}
	url, gz := dataURL(data, hasCompression && !userCompressed)
	r.Source = &url
	if hasCompression && !userCompressed {
		// An explicit "" keeps a parent config's compression from applying
		// to these contents when configs are merged.
		c := ""
		if gz {
			c = "gzip"
		}
		r.Compression = &c
		w.record(join(at.out, "compression"), n, in)
	}
	w.record(join(at.out, "source"), n, in)
}

// autoGzip reports whether embedded contents may be gzipped.
func (w *walker) autoGzip() bool { return !w.v.has(featNoCompression) }

// embed is the resource for contents the transpiler generates (trees,
// quadlets, grub): a data URL, gzipped when that is smaller and allowed,
// with compression "" otherwise so that a parent config's compression does
// not apply when configs are merged (none at all where compression is not
// allowed).
func (w *walker) embed(data []byte) types.Resource {
	url, gz := dataURL(data, w.autoGzip())
	r := types.Resource{Source: &url}
	if w.autoGzip() {
		c := ""
		if gz {
			c = "gzip"
		}
		r.Compression = &c
	}
	return r
}

// checkEmbeddedConfig validates a config merged or replaced from inline or
// local contents now, instead of at first boot. Its entries are placed at
// the inline or local key: their own lines are in another document.
func (w *walker) checkEmbeddedConfig(data []byte, n *yaml.Node, in string) {
	_, r, err := config.Parse(data)
	for _, e := range r.Entries {
		kind := Warning
		if e.Kind.IsFatal() {
			kind = Error
		}
		w.add(kind, n, in, "embedded config: %s", e.String())
	}
	if err != nil && !r.IsFatal() {
		w.errorAt(n, in, "embedded config: %v", err)
	}
}

// dataURL picks the shortest encoding of data: percent-escaped text,
// base64, or (when allowed) gzip and base64, counting the compression
// field the last one adds.
func dataURL(data []byte, gzipOK bool) (string, bool) {
	opaque := "," + dataurl.Escape(data)
	if b64 := ";base64," + base64.StdEncoding.EncodeToString(data); len(b64) < len(opaque) {
		opaque = b64
	}
	if gzipOK && len(opaque) > minGzipURL {
		buf := gzipped(data)
		gz := ";base64," + base64.StdEncoding.EncodeToString(buf)
		if len(gz)+len(`"compression":"gzip",`) < len(opaque) {
			return "data:" + gz, true
		}
	}
	return "data:" + opaque, false
}

// minGzipURL is the length below which gzip cannot win: a gzip stream is at
// least 20 bytes (header, an empty block, trailer), 28 in base64, plus
// ";base64," and the compression field.
const minGzipURL = 28 + len(";base64,") + len(`"compression":"gzip",`)

// gzipWriters are reused: a best-compression writer allocates about a
// megabyte of state, which would dominate configs with many files.
var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestCompression)
	return zw
}}

func gzipped(data []byte) []byte {
	var buf bytes.Buffer
	zw := gzipWriters.Get().(*gzip.Writer)
	zw.Reset(&buf)
	// Writes to a bytes.Buffer cannot fail.
	zw.Write(data)
	zw.Close()
	gzipWriters.Put(zw)
	return buf.Bytes()
}

// readLocal reads a file named relative to the files directories, in
// order; the path may not leave the directory (not even by a symlink).
func (w *walker) readLocal(n *yaml.Node, in, rel string) ([]byte, bool) {
	if len(w.opts.FilesDirs) == 0 {
		w.errorAt(n, in, "local file %q: no files directory given (-d/--files-dir)", rel)
		return nil, false
	}
	if !filepath.IsLocal(rel) {
		w.errorAt(n, in, "local file %q: the path must be relative and stay inside the files directory", rel)
		return nil, false
	}
	for _, dir := range w.opts.FilesDirs {
		root, err := os.OpenRoot(dir)
		if err != nil {
			w.errorAt(n, in, "files directory: %v", err)
			return nil, false
		}
		data, err := root.ReadFile(rel)
		root.Close()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			w.errorAt(n, in, "local file %q in %s: %v", rel, dir, err)
			return nil, false
		}
		return data, true
	}
	w.errorAt(n, in, "local file %q not found in %s", rel, strings.Join(w.opts.FilesDirs, ", "))
	return nil, false
}

// contentsLocal fills a unit's or drop-in's contents from a local file.
func (w *walker) contentsLocal(contents **string, at where, n *yaml.Node) {
	in := join(at.in, "contents_local")
	rel, ok := w.str(n, in)
	if !ok {
		return
	}
	if *contents != nil {
		w.errorAt(n, in, "contents and contents_local are mutually exclusive")
		return
	}
	data, ok := w.readLocal(n, in, rel)
	if !ok {
		return
	}
	s := string(data)
	*contents = &s
	w.record(join(at.out, "contents"), n, in)
}

// sshKeysLocal appends the keys of local files, one per non-empty line.
func (w *walker) sshKeysLocal(u *types.PasswdUser, at where, n *yaml.Node) {
	in := join(at.in, "ssh_authorized_keys_local")
	n = w.expect(n, in, yaml.SequenceNode)
	if n == nil {
		return
	}
	for i, item := range n.Content {
		itemIn := join(in, fmt.Sprint(i))
		rel, ok := w.str(item, itemIn)
		if !ok {
			continue
		}
		data, ok := w.readLocal(item, itemIn, rel)
		if !ok {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			if line = strings.TrimSpace(line); line == "" {
				continue
			}
			w.record(fmt.Sprintf("%s.sshAuthorizedKeys.%d", at.out, len(u.SSHAuthorizedKeys)), item, itemIn)
			u.SSHAuthorizedKeys = append(u.SSHAuthorizedKeys, line)
		}
	}
}

// treeReq is one storage.trees entry.
type treeReq struct {
	local, path string
	node        *yaml.Node
	in          string
	// fileMode and dirMode replace the modes taken from the local tree;
	// user and group own every node of it (featTreeModes).
	fileMode, dirMode *int
	user, group       types.NodeOwner
}

// owned reports whether the tree sets anything its directories carry, in
// which case they are written as directories entries.
func (t treeReq) owned() bool {
	return t.dirMode != nil || !reflect.ValueOf(t.user).IsZero() || !reflect.ValueOf(t.group).IsZero()
}

func (w *walker) parseTrees(n *yaml.Node, in string) {
	for itemIn, item := range w.mappings(n, in) {
		t := treeReq{path: "/", node: item, in: itemIn}
		hasLocal := false
		for _, p := range w.mapPairs(item, itemIn) {
			k, kin := p.key, join(itemIn, p.key.Value)
			switch k.Value {
			case "local":
				t.local, hasLocal = w.str(p.value, kin)
			case "path":
				if s, ok := w.str(p.value, kin); ok {
					t.path = s
				}
			case "file_mode", "dir_mode", "user", "group":
				if !w.v.has(featTreeModes) {
					note := w.laterVersions(k.Value, func(lw *walker) bool { return lw.v.has(featTreeModes) })
					w.errorAt(k, kin, "unknown key %s%s", k.Value, note)
					continue
				}
				// Decoded as the fields they become, so that the
				// same types and keys are accepted.
				var dst reflect.Value
				at := where{out: kin, in: kin, key: "storage.files." + k.Value}
				switch k.Value {
				case "file_mode":
					dst = reflect.ValueOf(&t.fileMode)
				case "dir_mode":
					dst = reflect.ValueOf(&t.dirMode)
				case "user":
					dst = reflect.ValueOf(&t.user)
				case "group":
					dst = reflect.ValueOf(&t.group)
				}
				w.value(p.value, dst.Elem(), at)
				if strings.HasSuffix(k.Value, "_mode") {
					w.lintMode(w.resolve(p.value), kin)
				}
			default:
				w.errorAt(k, kin, "unknown key %s", k.Value)
			}
		}
		if !hasLocal {
			w.errorAt(item, itemIn, "a tree needs local (a directory in the files directory)")
			continue
		}
		if t.dirMode != nil && w.forbidden("storage.directories") {
			w.errorAt(item, join(itemIn, "dir_mode"), "%s cannot create directories, so a tree cannot set dir_mode", w.v)
			continue
		}
		w.trees = append(w.trees, t)
	}
}

// addTrees adds the files and symbolic links of every tree, and its
// directories when the tree sets their mode or owner. A files, directories
// or links entry with the same path overrides attributes; it may not also
// set contents or a target.
func (w *walker) addTrees(cfg *types.Config) {
	for _, t := range w.trees {
		dir, ok := w.treeDir(t)
		if !ok {
			continue
		}
		root, err := os.OpenRoot(dir)
		if err != nil {
			w.errorAt(t.node, t.in, "tree %q: %v", t.local, err)
			continue
		}
		err = fs.WalkDir(root.FS(), path.Clean(t.local), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(path.Clean(t.local), p)
			target := path.Join(t.path, filepath.ToSlash(rel))
			switch {
			case d.IsDir():
				// The tree's own top (often / or /etc) is not the tree's
				// to change; what is below it is.
				if rel != "." && t.owned() && !w.forbidden("storage.directories") {
					if path.Dir(target) == "/" {
						// Ignition sets the mode and owner of a directory
						// that exists, so this would change /etc or /usr.
						w.warnAt(t.node, t.in, "tree %q sets the mode or owner of %s, a top-level system directory; give the tree a path below it", t.local, target)
					}
					w.treeDirectory(cfg, t, target)
				}
			case d.Type()&fs.ModeSymlink != 0:
				dest, err := root.Readlink(p)
				if err != nil {
					return err
				}
				w.treeLink(cfg, t, target, dest)
			case d.Type().IsRegular():
				info, err := d.Info()
				if err != nil {
					return err
				}
				data, err := root.ReadFile(p)
				if err != nil {
					return err
				}
				mode := 0o644
				if info.Mode()&0o111 != 0 {
					mode = 0o755
				}
				if t.fileMode != nil {
					mode = *t.fileMode
				}
				w.treeFile(cfg, t, target, data, mode)
			default:
				return fmt.Errorf("%s is neither a file, a directory nor a symbolic link", p)
			}
			return nil
		})
		root.Close()
		if err != nil {
			w.errorAt(t.node, t.in, "tree %q: %v", t.local, err)
		}
	}
}

// own gives a node the tree's user and group unless its entry names its own.
func (t treeReq) own(n *types.Node) {
	if reflect.ValueOf(n.User).IsZero() {
		n.User = t.user
	}
	if reflect.ValueOf(n.Group).IsZero() {
		n.Group = t.group
	}
}

func (w *walker) treeDirectory(cfg *types.Config, t treeReq, target string) {
	dirs := cfg.Storage.Directories
	for i := range dirs {
		if dirs[i].Path == target {
			if dirs[i].Mode == nil {
				dirs[i].Mode = t.dirMode
			}
			t.own(&dirs[i].Node)
			return
		}
	}
	w.record(fmt.Sprintf("storage.directories.%d", len(dirs)), t.node, t.in)
	d := types.Directory{Node: types.Node{Path: target}, Mode: t.dirMode}
	t.own(&d.Node)
	cfg.Storage.Directories = append(dirs, d)
}

// treeDir finds the first files directory holding the tree.
func (w *walker) treeDir(t treeReq) (string, bool) {
	in := join(t.in, "local")
	if len(w.opts.FilesDirs) == 0 {
		w.errorAt(t.node, in, "tree %q: no files directory given (-d/--files-dir)", t.local)
		return "", false
	}
	if !filepath.IsLocal(t.local) {
		w.errorAt(t.node, in, "tree %q: the path must be relative and stay inside the files directory", t.local)
		return "", false
	}
	for _, dir := range w.opts.FilesDirs {
		root, err := os.OpenRoot(dir)
		if err != nil {
			continue
		}
		info, err := root.Stat(t.local)
		root.Close()
		if err == nil && info.IsDir() {
			return dir, true
		}
	}
	w.errorAt(t.node, in, "tree %q: no such directory in %s", t.local, strings.Join(w.opts.FilesDirs, ", "))
	return "", false
}

func (w *walker) treeFile(cfg *types.Config, t treeReq, target string, data []byte, mode int) {
	res := w.embed(data)
	files := cfg.Storage.Files
	for i := range files {
		if files[i].Path != target {
			continue
		}
		if files[i].Contents.Source != nil {
			l := w.tr[fmt.Sprintf("storage.files.%d", i)]
			w.r.Entries = append(w.r.Entries, Entry{Kind: Error, Path: "$." + l.path, Line: l.line, Column: l.col,
				Message: fmt.Sprintf("file %s is also in tree %q; an entry overriding a tree file may not set contents", target, t.local)})
			return
		}
		files[i].Contents.Source, files[i].Contents.Compression = res.Source, res.Compression
		if files[i].Mode == nil {
			files[i].Mode = &mode
		}
		t.own(&files[i].Node)
		return
	}
	w.record(fmt.Sprintf("storage.files.%d", len(files)), t.node, t.in)
	f := types.File{Node: types.Node{Path: target}, Contents: res, Mode: &mode}
	t.own(&f.Node)
	cfg.Storage.Files = append(files, f)
}

func (w *walker) treeLink(cfg *types.Config, t treeReq, target, dest string) {
	if w.forbidden("storage.links") {
		w.errorAt(t.node, t.in, "tree %q has a symbolic link (%s); %s cannot create links", t.local, target, w.v)
		return
	}
	links := cfg.Storage.Links
	for i := range links {
		if links[i].Path != target {
			continue
		}
		if links[i].Target != nil {
			l := w.tr[fmt.Sprintf("storage.links.%d", i)]
			w.r.Entries = append(w.r.Entries, Entry{Kind: Error, Path: "$." + l.path, Line: l.line, Column: l.col,
				Message: fmt.Sprintf("link %s is also in tree %q; an entry overriding a tree link may not set target", target, t.local)})
			return
		}
		links[i].Target = &dest
		t.own(&links[i].Node)
		return
	}
	w.record(fmt.Sprintf("storage.links.%d", len(links)), t.node, t.in)
	l := types.Link{Node: types.Node{Path: target}, Target: &dest}
	t.own(&l.Node)
	cfg.Storage.Links = append(links, l)
}

// mountUnit is a filesystem with with_mount_unit: true.
type mountUnit struct {
	fs   types.Filesystem
	node *yaml.Node
	in   string
}

func underEtcOrVar(p string) bool {
	for _, top := range []string{"/etc", "/var"} {
		if p == top || strings.HasPrefix(p, top+"/") {
			return true
		}
	}
	return false
}

// addMountUnits adds a .mount unit (or .swap unit for swap) per filesystem
// that asked for one, enabled so that it runs at boot.
func (w *walker) addMountUnits(cfg *types.Config) {
	for _, m := range w.mountUnits {
		format := ""
		if m.fs.Format != nil {
			format = *m.fs.Format
		}
		var name, contents string
		switch {
		case format == "swap":
			if !w.v.has(featSwapUnit) {
				w.errorAt(m.node, m.in, "with_mount_unit on a swap area needs a newer %s version", w.v.Variant)
				continue
			}
			name = unit.UnitNamePathEscape(m.fs.Device) + ".swap"
			contents = swapUnit(m.fs)
		case format == "" || format == "none":
			w.errorAt(m.node, m.in, "with_mount_unit needs a filesystem format")
			continue
		case m.fs.Path == nil || *m.fs.Path == "":
			w.errorAt(m.node, m.in, "with_mount_unit needs path (where to mount the filesystem)")
			continue
		case w.v.has(featMountUnderEtcVar) && !underEtcOrVar(*m.fs.Path):
			// The rest of the tree is the read-only OS image.
			w.errorAt(m.node, m.in, "with_mount_unit needs a path under /etc or /var, found %s", *m.fs.Path)
			continue
		default:
			name = unit.UnitNamePathEscape(*m.fs.Path) + ".mount"
			contents = mountUnitText(m.fs, format, w.tangDevice(cfg, m.fs.Device))
		}
		for _, u := range cfg.Systemd.Units {
			if u.Name == name {
				w.errorAt(m.node, m.in, "unit %s is both in systemd.units and generated by with_mount_unit", name)
				name = ""
				break
			}
		}
		if name == "" {
			continue
		}
		enabled := true
		w.record(fmt.Sprintf("systemd.units.%d", len(cfg.Systemd.Units)), m.node, m.in)
		cfg.Systemd.Units = append(cfg.Systemd.Units, types.Unit{Name: name, Enabled: &enabled, Contents: &contents})
	}
}

// tangDevice reports whether device is a LUKS volume of this config that
// Tang unlocks, named the way the format documents (/dev/mapper/NAME or
// /dev/disk/by-id/dm-name-NAME): its mount then needs the network.
func (w *walker) tangDevice(cfg *types.Config, device string) bool {
	name, ok := strings.CutPrefix(device, "/dev/mapper/")
	if !ok {
		name, ok = strings.CutPrefix(device, "/dev/disk/by-id/dm-name-")
	}
	if !ok {
		return false
	}
	for _, l := range cfg.Storage.Luks {
		if l.Name == name && len(l.Clevis.Tang) > 0 {
			return true
		}
	}
	return false
}

func mountUnitText(f types.Filesystem, format string, network bool) string {
	fsck := "systemd-fsck@" + unit.UnitNamePathEscape(f.Device) + ".service"
	var b strings.Builder
	b.WriteString("# Generated by ignition-transpile\n[Unit]\n")
	fmt.Fprintf(&b, "Requires=%s\nAfter=%s\n", fsck, fsck)
	if network {
		b.WriteString("Before=remote-fs.target\n")
	}
	fmt.Fprintf(&b, "\n[Mount]\nWhere=%s\nWhat=%s\nType=%s\n", *f.Path, f.Device, format)
	opts := append([]string(nil), f.MountOptions...)
	if network {
		opts = append(opts, "_netdev")
	}
	if len(opts) > 0 {
		fmt.Fprintf(&b, "Options=%s\n", strings.Join(opts, ","))
	}
	target := "local-fs.target"
	if network {
		target = "remote-fs.target"
	}
	fmt.Fprintf(&b, "\n[Install]\nRequiredBy=%s\n", target)
	return b.String()
}

func swapUnit(f types.Filesystem) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Generated by ignition-transpile\n[Swap]\nWhat=%s\n", f.Device)
	if len(f.MountOptions) > 0 {
		fmt.Fprintf(&b, "Options=%s\n", strings.Join(f.MountOptions, ","))
	}
	b.WriteString("\n[Install]\nRequiredBy=swap.target\n")
	return b.String()
}
