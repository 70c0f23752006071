package transpile

import (
	"fmt"
	"iter"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/ignition-go/ignition/config/types"
)

// maxVisits bounds the nodes one walk visits, so that aliases nested inside
// aliases (a "billion laughs" document) are refused instead of expanded.
const maxVisits = 1 << 21

// where is a position in the walk: the output JSON path (with list indexes),
// the YAML path the user wrote (snake_case, with list indexes) and the
// Ignition key path (camelCase, no indexes) that version gating reads.
type where struct {
	out, in, key string
}

func (w where) field(json, butane string) where {
	return where{out: join(w.out, json), in: join(w.in, butane), key: join(w.key, json)}
}

func (w where) index(i int) where {
	s := strconv.Itoa(i)
	return where{out: join(w.out, s), in: join(w.in, s), key: w.key}
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

// field is one config field as the YAML side names it.
type field struct {
	butane string
	json   string
	index  []int
}

var fieldsCache sync.Map // reflect.Type → map[string]field

// fieldsOf lists the fields of a config struct by their snake_case names,
// with embedded structs (types.Node) flattened as encoding/json does.
func fieldsOf(t reflect.Type) map[string]field {
	if m, ok := fieldsCache.Load(t); ok {
		return m.(map[string]field)
	}
	m := map[string]field{}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if sf.Anonymous {
			for k, f := range fieldsOf(sf.Type) {
				f.index = append([]int{i}, f.index...)
				m[k] = f
			}
			continue
		}
		json, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if json == "" || json == "-" {
			continue
		}
		m[snake(json)] = field{butane: snake(json), json: json, index: []int{i}}
	}
	fieldsCache.Store(t, m)
	return m
}

// snake turns an Ignition key into its Butane spelling: httpHeaders →
// http_headers, sizeMiB → size_mib.
func snake(s string) string {
	s = strings.ReplaceAll(s, "MiB", "Mib")
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// sugarKeys are the keys a config struct has on the YAML side only.
var sugarKeys = map[reflect.Type][]string{
	reflect.TypeFor[types.Config]():     {"variant", "version", "boot_device", "grub", "metadata", "openshift"},
	reflect.TypeFor[types.Resource]():   {"inline", "local"},
	reflect.TypeFor[types.Filesystem](): {"with_mount_unit"},
	reflect.TypeFor[types.Unit]():       {"contents_local"},
	reflect.TypeFor[types.Dropin]():     {"contents_local"},
	reflect.TypeFor[types.PasswdUser](): {"ssh_authorized_keys_local"},
	reflect.TypeFor[types.Storage]():    {"trees"},
	reflect.TypeFor[types.Systemd]():    {"quadlets"},
}

// sugarAllowed reports whether this version has sugar key name at Ignition
// key path key; the error says when the format has it but we do not.
func (w *walker) sugarAllowed(key, name string) (bool, error) {
	switch name {
	case "variant", "version":
		return true, nil
	case "inline":
		if w.v.has(featResources) {
			return true, nil
		}
		return w.v.has(featInlineFiles) && (key == "storage.files.contents" || key == "storage.files.append"), nil
	case "local":
		return w.v.has(featResources), nil
	case "with_mount_unit":
		return w.v.has(featMountUnit), nil
	case "contents_local":
		return w.v.has(featContentsLocal), nil
	case "ssh_authorized_keys_local":
		return w.v.has(featSSHKeysLocal), nil
	case "trees":
		return w.v.has(featTrees), nil
	case "boot_device":
		return w.v.has(featBootDevice), nil
	case "grub":
		return w.v.has(featGrub), nil
	case "quadlets":
		return w.v.has(featQuadlets), nil
	case "metadata", "openshift":
		return w.v.has(featOpenShift), nil
	}
	return false, nil
}

// resolve follows aliases and counts the visit. A resolved alias keeps the
// position of the alias itself: that is the place the user looks at.
func (w *walker) resolve(n *yaml.Node) *yaml.Node {
	w.visits++
	if n == nil || n.Kind != yaml.AliasNode {
		return n
	}
	at := n
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n == nil {
		return nil
	}
	c := *n
	c.Line, c.Column = at.Line, at.Column
	return &c
}

// expect resolves n and returns it when it is of kind k. Nothing given
// (null) and a node of another kind, which is reported at in, give nil:
// the caller skips what is missing or wrong.
func (w *walker) expect(n *yaml.Node, in string, k yaml.Kind) *yaml.Node {
	n = w.resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != k {
		w.errorAt(n, in, "expected %s, found %s", kindName(&yaml.Node{Kind: k}), kindName(n))
		return nil
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!str":
			return "a string"
		case "!!int":
			return "an integer"
		case "!!bool":
			return "a boolean"
		case "!!float":
			return "a number"
		}
		return "a " + strings.TrimPrefix(n.Tag, "!!")
	}
	return "a document"
}

// mappings yields the items of a list of mappings with their YAML paths,
// reporting a node that is not a list, and items that are not mappings.
func (w *walker) mappings(n *yaml.Node, in string) iter.Seq2[string, *yaml.Node] {
	return func(yield func(string, *yaml.Node) bool) {
		n = w.expect(n, in, yaml.SequenceNode)
		if n == nil {
			return
		}
		for i, item := range n.Content {
			itemIn := join(in, strconv.Itoa(i))
			item = w.resolve(item)
			if item.Kind != yaml.MappingNode {
				w.errorAt(item, itemIn, "expected a mapping, found %s", kindName(item))
				continue
			}
			if !yield(itemIn, item) {
				return
			}
		}
	}
}

// value decodes n into v (any config type) at w, recording where each
// output path came from.
func (w *walker) value(n *yaml.Node, v reflect.Value, at where) {
	n = w.resolve(n)
	if w.visits > maxVisits {
		if !w.tooBig {
			w.tooBig = true
			w.errorAt(n, at.in, "the document expands (through aliases) to more than %d nodes", maxVisits)
		}
		return
	}
	if isNull(n) {
		return
	}
	w.record(at.out, n, at.in)
	switch v.Kind() {
	case reflect.Struct:
		w.object(n, v, at)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			w.errorAt(n, at.in, "expected a list, found %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			w.value(item, s.Index(i), at.index(i))
		}
		v.Set(s)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		if w.scalar(n, p, at) {
			v.Set(p)
			if at.key == "storage.files.mode" || at.key == "storage.directories.mode" {
				w.lintMode(n, at.in)
			}
		}
	default:
		w.scalar(n, v.Addr(), at)
	}
}

// scalar decodes a scalar into *p with yaml.v3's own rules, so that 0644
// and 0o644 are octal and yes/no are booleans exactly as YAML says.
func (w *walker) scalar(n *yaml.Node, p reflect.Value, at where) bool {
	want := map[reflect.Kind]string{reflect.String: "a string", reflect.Int: "an integer", reflect.Bool: "a boolean"}[p.Elem().Kind()]
	if n.Kind != yaml.ScalarNode {
		w.errorAt(n, at.in, "expected %s, found %s", want, kindName(n))
		return false
	}
	if err := n.Decode(p.Interface()); err != nil {
		w.errorAt(n, at.in, "expected %s, found %s %q", want, kindName(n), n.Value)
		return false
	}
	return true
}

// object decodes a mapping into struct v: known keys into fields, sugar
// keys to their handlers, and everything else is an error at its key.
func (w *walker) object(n *yaml.Node, v reflect.Value, at where) {
	if n.Kind != yaml.MappingNode {
		w.errorAt(n, at.in, "expected a mapping, found %s", kindName(n))
		return
	}
	fields := fieldsOf(v.Type())
	sugar := map[string]*yaml.Node{}
	seen := map[string]bool{}
	for _, p := range w.pairs(n, at.in, 0) {
		k, val := p.key, p.value
		name := k.Value
		if seen[name] {
			if !p.merged {
				w.errorAt(k, join(at.in, name), "duplicate key %s", name)
			}
			continue
		}
		seen[name] = true
		if f, ok := fields[name]; ok && w.knows(v.Type(), at, name) {
			w.value(val, v.FieldByIndex(f.index), at.field(f.json, name))
			continue
		}
		if isSugar(v.Type(), name) {
			ok, err := w.sugarAllowed(at.key, name)
			if err != nil {
				w.errorAt(k, join(at.in, name), "%v", err)
				continue
			}
			if ok {
				sugar[name] = val
				continue
			}
		}
		w.unknownKey(v.Type(), k, at, name)
	}
	w.applySugar(n, v, at, sugar)
}

type pair struct {
	key, value *yaml.Node
	merged     bool
}

// maxMergeDepth bounds merge keys nested in merged mappings.
const maxMergeDepth = 16

// pairs lists the entries of mapping n with YAML merge keys (<<: *anchor,
// or a list of anchors) expanded: the keys n sets itself come first and
// win, then merged keys in order, an earlier merged mapping winning over
// a later one, as the YAML merge key type says.
func (w *walker) pairs(n *yaml.Node, in string, depth int) []pair {
	var own, merged []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := w.resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			w.errorAt(k, in, "keys must be strings, found %s", kindName(k))
			continue
		}
		if k.Value != "<<" || (k.Tag != "!!merge" && k.Tag != "") {
			own = append(own, pair{key: k, value: val})
			continue
		}
		if depth >= maxMergeDepth {
			w.errorAt(k, in, "merge keys nested more than %d deep", maxMergeDepth)
			continue
		}
		val = w.resolve(val)
		sources := []*yaml.Node{val}
		if val.Kind == yaml.SequenceNode {
			sources = val.Content
		}
		for _, src := range sources {
			src = w.resolve(src)
			if src.Kind != yaml.MappingNode {
				w.errorAt(src, in, "<< merges mappings, found %s", kindName(src))
				continue
			}
			for _, p := range w.pairs(src, in, depth+1) {
				p.merged = true
				merged = append(merged, p)
			}
		}
	}
	return append(own, merged...)
}

func isSugar(t reflect.Type, name string) bool {
	for _, s := range sugarKeys[t] {
		if s == name {
			return true
		}
	}
	return false
}

func (w *walker) forbidden(key string) bool {
	for _, f := range w.v.forbidden {
		if key == f || strings.HasPrefix(key, f+".") {
			return true
		}
	}
	return false
}

// unknownKey reports a key this variant version does not have, saying
// which later stable version has it when one does.
func (w *walker) unknownKey(t reflect.Type, k *yaml.Node, at where, name string) {
	note := w.laterVersions(name, func(lw *walker) bool { return lw.knows(t, at, name) })
	w.errorAt(k, join(at.in, name), "unknown key %s%s", name, note)
}

// laterVersions says which later version of this variant has a key this
// one lacks, as " (name needs fcos 1.7.0 or later)", or, when only an
// experimental version has it, " (name is only in … so far)"; "" when
// none has it.
func (w *walker) laterVersions(name string, knows func(lw *walker) bool) string {
	for _, stable := range []bool{true, false} {
		for _, later := range Versions {
			if later.Variant != w.v.Variant || !w.v.Version.LessThan(later.Version) || (later.Version.PreRelease == "") != stable {
				continue
			}
			if knows(&walker{v: later}) {
				if stable {
					return fmt.Sprintf(" (%s needs %s or later)", name, later)
				}
				return fmt.Sprintf(" (%s is only in %s so far)", name, later)
			}
		}
	}
	return ""
}

// knows reports whether this walker's version accepts key name in struct
// type t at at. It is the test object applies, without decoding.
func (w *walker) knows(t reflect.Type, at where, name string) bool {
	if f, ok := fieldsOf(t)[name]; ok && !(at.key == "ignition" && name == "version") {
		key := join(at.key, f.json)
		return allowed(w.v.Ignition, key) && !w.forbidden(key)
	}
	if isSugar(t, name) {
		ok, err := w.sugarAllowed(at.key, name)
		return ok && err == nil
	}
	return false
}
