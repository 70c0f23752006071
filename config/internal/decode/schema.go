// Package decode fills the canonical config types from a positioned JSON
// tree, keeping only the keys a spec version defines. Keys the version does
// not define are reported as unused, as the reference tools do, and type
// mismatches are reported at their path instead of stopping the parse.
package decode

import (
	"reflect"
	"strings"
)

// Schema is the set of keys one spec version accepts, compiled against the
// canonical Go types.
type Schema struct {
	root *object
}

type object struct {
	fields map[string]*field
	// later maps keys this version lacks but a newer one defines to that
	// newer version, so the unused-key warning can say what is needed.
	later map[string]string
}

type field struct {
	index []int // reflect index path (through embedded structs)
	typ   reflect.Type
	elem  *object // for struct and []struct fields
}

// Gate says whether a key path exists in a version, and if not, which
// newer version (if any) adds it. Paths are dotted without list indices,
// e.g. "storage.files.contents.source".
type Gate func(path string) (ok bool, addedIn string)

// Compile builds the schema of root (a struct type) keeping every key the
// gate allows. A key not allowed hides its subtree.
func Compile(root reflect.Type, gate Gate) *Schema {
	return &Schema{root: compileObject(root, "", gate)}
}

func compileObject(t reflect.Type, prefix string, gate Gate) *object {
	o := &object{fields: map[string]*field{}, later: map[string]string{}}
	for _, sf := range Fields(t) {
		path := sf.Name
		if prefix != "" {
			path = prefix + "." + sf.Name
		}
		if ok, addedIn := gate(path); !ok {
			if addedIn != "" {
				o.later[sf.Name] = addedIn
			}
			continue
		}
		f := &field{index: sf.Index, typ: sf.Type}
		if st := structOf(sf.Type); st != nil {
			f.elem = compileObject(st, path, gate)
		}
		o.fields[sf.Name] = f
	}
	return o
}

// StructField is one JSON key of a struct type.
type StructField struct {
	Name  string // JSON key
	Index []int
	Type  reflect.Type
}

// Fields lists the JSON keys of struct type t, flattening embedded structs
// the way encoding/json does.
func Fields(t reflect.Type) []StructField {
	var out []StructField
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if sf.Anonymous && tag == "" {
			for _, inner := range Fields(sf.Type) {
				inner.Index = append([]int{i}, inner.Index...)
				out = append(out, inner)
			}
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "" || name == "-" || !sf.IsExported() {
			continue
		}
		out = append(out, StructField{Name: name, Index: []int{i}, Type: sf.Type})
	}
	return out
}

// Paths lists every key path of struct type t, dotted without list indices.
func Paths(t reflect.Type) []string {
	var out []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for _, sf := range Fields(t) {
			p := sf.Name
			if prefix != "" {
				p = prefix + "." + sf.Name
			}
			out = append(out, p)
			if st := structOf(sf.Type); st != nil {
				walk(st, p)
			}
		}
	}
	walk(t, "")
	return out
}

// structOf returns the struct type behind a struct or slice-of-struct type.
func structOf(t reflect.Type) reflect.Type {
	if t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() == reflect.Struct {
		return t
	}
	return nil
}
