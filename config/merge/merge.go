// Package merge layers one config (the child) over another (the parent), as
// Ignition does for every config named in ignition.config.merge and for the
// system base config under the user config.
//
// The rules, applied field by field from the root of types.Config down:
//
//   - A plain (non-pointer) scalar takes the child's value, even when that is
//     the zero value. Such fields are either identity keys (a name, path,
//     device, URL or partition number, already equal when two entries are
//     merged) or ignition.version.
//   - An optional (pointer) scalar takes the child's value when the child set
//     it, and keeps the parent's otherwise; a child can override with a zero
//     value, but not unset a value.
//   - A nested object the child left entirely empty keeps the parent's; one
//     the parent left empty takes the child's; otherwise the two are merged
//     field by field. "Empty" means every field is unset: nil pointers, zero
//     scalars, lists with no entries, empty nested objects. An embedded
//     struct (types.Node) is not an object of its own in JSON, so its fields
//     are merged as the fields of the enclosing struct.
//   - A list tagged list:"append" has no identity: the result is the
//     parent's entries followed by the child's.
//   - Every other list is keyed: struct entries by Key(), strings by value.
//     The parent's entries stay where they are; one the child names again in
//     the same list is merged with the child's (strings: the child's string),
//     one the child names only in another list of the same shared namespace
//     (list:"shared" siblings: files, directories and links by path; kernel
//     arguments that should and should not exist) is dropped, so the child's
//     entry replaces it. The child's remaining entries follow, in the child's
//     order.
//   - HTTP headers are keyed by name, but a child header without a value
//     deletes the parent's header of that name instead of being merged into
//     it. With no parent header to delete it is kept like any new entry (and
//     fails later, when it is sent).
//
// A child list with several entries of one key (a duplicate that validation
// reports, but merging must still handle): the last one is merged into the
// parent's entries of that key and the earlier ones are dropped; if the
// parent's list lacks the key, all of them are appended unchanged, so that
// merging into an empty parent returns the child as it was. Duplicates in
// the parent's list are each merged with the child's entry.
//
// ignition.version is a plain scalar, so the result carries the child's
// version (or the parent's, when the child's whole ignition section is
// empty). Both sides are the same Go type whatever version they were parsed
// from, and the engine stamps the version it runs before using the result,
// so the value here does not matter.
//
// A merged list that ends up with no entries is nil; a list or object taken
// whole from one side is copied as it is.
//
// Merge never changes its arguments and the result shares no memory with
// them: everything reachable from the result through pointers and slices is
// freshly allocated.
package merge

import (
	"fmt"
	"reflect"

	"github.com/ignition-go/ignition/config/types"
)

// Merge returns child layered over parent; see the package documentation.
func Merge(parent, child types.Config) types.Config {
	out := mergeFields(reflect.ValueOf(parent), reflect.ValueOf(child))
	return out.Interface().(types.Config)
}

// fieldKind says which merge rule applies to a struct field.
type fieldKind int

const (
	plainScalar fieldKind = iota
	optionalScalar
	nestedStruct
	embeddedStruct
	appendList
	keyedList
)

// fieldPlan is what merging needs to know about one struct field.
type fieldPlan struct {
	index int
	kind  fieldKind
	// For keyed lists: how to get an entry's identity, the indices of the
	// other lists sharing its namespace, and whether entries are HTTP
	// headers (whose valueless child entries delete).
	key     func(reflect.Value) string
	shared  []int
	headers bool
}

// plans holds the field plans of every struct type reachable from
// types.Config. It is built once at init and only read afterwards, so
// concurrent merges need no locking, and a field type the rules do not cover
// panics at program start rather than in the middle of a merge.
var plans = map[reflect.Type][]fieldPlan{}

var headerType = reflect.TypeFor[types.HTTPHeader]()

func init() {
	planStruct(reflect.TypeFor[types.Config]())
}

// planStruct records the plan of struct type t and of every struct type
// reachable from it.
func planStruct(t reflect.Type) {
	if _, done := plans[t]; done {
		return
	}
	plans[t] = nil // mark as in progress; types are not recursive, but be safe
	var fields []fieldPlan
	var shared []int
	for i := range t.NumField() {
		sf := t.Field(i)
		where := t.String() + "." + sf.Name
		if !sf.IsExported() {
			panic("merge: unexported field " + where)
		}
		p := fieldPlan{index: i}
		ft := sf.Type
		switch {
		case isScalar(ft.Kind()):
			p.kind = plainScalar
		case ft.Kind() == reflect.Pointer && isScalar(ft.Elem().Kind()):
			p.kind = optionalScalar
		case ft.Kind() == reflect.Struct:
			p.kind = nestedStruct
			if sf.Anonymous {
				p.kind = embeddedStruct
			}
			planStruct(ft)
		case ft.Kind() == reflect.Slice:
			if elem := ft.Elem(); elem.Kind() == reflect.Struct {
				planStruct(elem)
			}
			l := types.ListOf(sf)
			p.kind = keyedList
			if l.Append {
				p.kind = appendList
			}
			p.key = l.Key
			p.headers = ft.Elem() == headerType
			if l.Shared {
				shared = append(shared, i)
			}
		default:
			panic(fmt.Sprintf("merge: no merge rule for %s (%s)", where, ft))
		}
		if sf.Tag.Get("list") != "" && p.kind != appendList && p.kind != keyedList {
			panic("merge: list tag on non-list field " + where)
		}
		fields = append(fields, p)
	}
	// Each shared list learns the indices of its siblings (fields[i] is
	// the plan of field i).
	for _, i := range shared {
		for _, other := range shared {
			if other != i {
				fields[i].shared = append(fields[i].shared, other)
			}
		}
	}
	plans[t] = fields
}

func isScalar(k reflect.Kind) bool {
	switch k {
	case reflect.Bool, reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

// mergeFields merges two values of one struct type field by field.
func mergeFields(parent, child reflect.Value) reflect.Value {
	out := reflect.New(parent.Type()).Elem()
	for _, f := range plans[parent.Type()] {
		p, c := parent.Field(f.index), child.Field(f.index)
		var r reflect.Value
		switch f.kind {
		case plainScalar:
			r = c
		case optionalScalar:
			r = p
			if !c.IsNil() {
				r = c
			}
			r = deepCopy(r)
		case nestedStruct:
			switch {
			case isEmpty(c):
				r = deepCopy(p)
			case isEmpty(p):
				r = deepCopy(c)
			default:
				r = mergeFields(p, c)
			}
		case embeddedStruct:
			r = mergeFields(p, c)
		case appendList:
			r = concat(p, c)
		case keyedList:
			siblings := make([]reflect.Value, len(f.shared))
			for i, s := range f.shared {
				siblings[i] = child.Field(s)
			}
			r = mergeKeyed(f, p, c, siblings)
		}
		out.Field(f.index).Set(r)
	}
	return out
}

// concat returns copies of the parent's entries followed by the child's.
func concat(parent, child reflect.Value) reflect.Value {
	out := reflect.Zero(parent.Type())
	for _, list := range []reflect.Value{parent, child} {
		for i := range list.Len() {
			out = reflect.Append(out, deepCopy(list.Index(i)))
		}
	}
	return out
}

// mergeKeyed merges two keyed lists; siblings are the child's other lists
// in the same shared namespace (none for an ordinary list).
func mergeKeyed(f fieldPlan, parent, child reflect.Value, siblings []reflect.Value) reflect.Value {
	// The child's entry for each key is its last one with that key.
	last := make(map[string]int, child.Len())
	for i := range child.Len() {
		last[f.key(child.Index(i))] = i
	}
	elsewhere := map[string]bool{}
	for _, s := range siblings {
		for i := range s.Len() {
			elsewhere[f.key(s.Index(i))] = true
		}
	}

	out := reflect.Zero(parent.Type())
	inParent := make(map[string]bool, parent.Len())
	for i := range parent.Len() {
		p := parent.Index(i)
		k := f.key(p)
		inParent[k] = true
		j, inChild := last[k]
		switch {
		case inChild && f.headers && child.Index(j).Interface().(types.HTTPHeader).Value == nil:
			// A valueless child header deletes the parent's.
		case inChild:
			out = reflect.Append(out, mergeEntry(p, child.Index(j)))
		case elsewhere[k]:
			// The child redefines this key in a sibling list, whose
			// merge emits the child's entry; drop the parent's.
		default:
			out = reflect.Append(out, deepCopy(p))
		}
	}
	for i := range child.Len() {
		if c := child.Index(i); !inParent[f.key(c)] {
			out = reflect.Append(out, deepCopy(c))
		}
	}
	return out
}

// mergeEntry merges two list entries with one key. Entries are merged field
// by field even when one is empty: they are the same object by identity.
func mergeEntry(parent, child reflect.Value) reflect.Value {
	if parent.Kind() == reflect.Struct {
		return mergeFields(parent, child)
	}
	return child // a string, equal to the parent's
}

// isEmpty reports whether v has nothing set: see the package documentation.
// A list with no entries counts as empty even when it is non-nil (as a
// decoded "[]" may be), so JSON that spells out an empty list still leaves
// the parent's object alone.
func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if !isEmpty(v.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Slice:
		return v.Len() == 0
	default:
		return v.IsZero()
	}
}

// deepCopy returns a copy of v that shares no pointer or slice memory with
// it, keeping the difference between nil and empty lists.
func deepCopy(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return reflect.Zero(v.Type())
		}
		out := reflect.New(v.Type().Elem())
		out.Elem().Set(deepCopy(v.Elem()))
		return out
	case reflect.Slice:
		if v.IsNil() {
			return reflect.Zero(v.Type())
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			out.Index(i).Set(deepCopy(v.Index(i)))
		}
		return out
	case reflect.Struct:
		out := reflect.New(v.Type()).Elem()
		for i := range v.NumField() {
			out.Field(i).Set(deepCopy(v.Field(i)))
		}
		return out
	default:
		return v // scalars are copied by value
	}
}
