package types_test

import (
	"reflect"
	"testing"

	"github.com/ignition-go/ignition/config/internal/decode"
	"github.com/ignition-go/ignition/config/types"
)

// TestEveryListHasAnIdentity walks the model: each list must be of strings
// (identified by value), of Keyed structs, or tagged list:"append";
// list:"shared" needs at least two siblings sharing the element kind.
func TestEveryListHasAnIdentity(t *testing.T) {
	keyed := reflect.TypeFor[types.Keyed]()
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type, where string)
	walk = func(st reflect.Type, where string) {
		if seen[st] {
			return
		}
		seen[st] = true
		shared := 0
		for _, f := range decode.Fields(st) {
			sf := st.FieldByIndex(f.Index)
			tag := sf.Tag.Get("list")
			p := where + "." + f.Name
			switch tag {
			case "", "append", "shared":
			default:
				t.Errorf("%s: unknown list tag %q", p, tag)
			}
			if tag == "shared" {
				shared++
			}
			ft := f.Type
			if ft.Kind() == reflect.Slice {
				elem := ft.Elem()
				if elem.Kind() == reflect.Struct && tag != "append" && !elem.Implements(keyed) {
					t.Errorf("%s: list of %s has no Key() and is not list:\"append\"", p, elem)
				}
				if elem.Kind() == reflect.Struct {
					walk(elem, p)
				}
			} else if tag != "" {
				t.Errorf("%s: list tag on a non-list", p)
			}
			if ft.Kind() == reflect.Struct {
				walk(ft, p)
			}
		}
		if shared == 1 {
			t.Errorf("%s: a single list:\"shared\" list shares with nothing", where)
		}
	}
	walk(reflect.TypeFor[types.Config](), "$")
}

func TestPartitionKey(t *testing.T) {
	label := "root"
	for _, tc := range []struct {
		p    types.Partition
		want string
	}{
		{types.Partition{Number: 3, Label: &label}, "number:3"},
		{types.Partition{Label: &label}, "label:root"},
		{types.Partition{}, ""},
	} {
		if got := tc.p.Key(); got != tc.want {
			t.Errorf("%+v: key %q, want %q", tc.p, got, tc.want)
		}
	}
}
