package types

import (
	"fmt"
	"reflect"
)

// List says how the entries of one list field are identified; see the
// `list` tag in the package documentation. Merging and duplicate detection
// both read it, so they cannot disagree about what "the same entry" means.
type List struct {
	// Append: the entries have no identity (list:"append").
	Append bool
	// Shared: the tagged sibling lists of the struct form one namespace.
	Shared bool
	// Key returns an entry's identity: Key() for structs, the value for
	// strings. Nil for append lists.
	Key func(entry reflect.Value) string
}

var keyedType = reflect.TypeFor[Keyed]()

// ListOf describes list field sf of a config type. It panics on an unknown
// tag or on a list whose entries have no identity: every list added to the
// model must say how it merges.
func ListOf(sf reflect.StructField) List {
	tag := sf.Tag.Get("list")
	if tag != "" && tag != "append" && tag != "shared" {
		panic(fmt.Sprintf("types: unknown list tag %q on %s", tag, sf.Name))
	}
	l := List{Append: tag == "append", Shared: tag == "shared"}
	if l.Append {
		return l
	}
	switch elem := sf.Type.Elem(); {
	case elem.Kind() == reflect.String:
		l.Key = reflect.Value.String
	case elem.Implements(keyedType):
		l.Key = func(e reflect.Value) string { return e.Interface().(Keyed).Key() }
	default:
		panic(fmt.Sprintf("types: list %s of %s has no Key() and no list:\"append\" tag", sf.Name, elem))
	}
	return l
}
