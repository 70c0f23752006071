package validation

import (
	"reflect"
	"strings"
	"sync"

	"github.com/coreos/vcontext/path"

	"github.com/ignition-go/ignition/config/types"
)

// Duplicates are found by one walk over the config driven by the types'
// `list` tags and Key methods (see config/types), the same ones merging
// uses: an entry is a duplicate exactly when merging would treat it as the
// same thing as an earlier entry. Writing one loop per list would let the
// two drift apart as lists are added.

// plan is what the walk does at one struct type.
type plan struct {
	// namespaces are the groups of sibling lists whose entries must have
	// distinct keys, in field order; a group has several lists when they
	// are tagged list:"shared".
	namespaces [][]listField
	// children are the fields that lead to more lists, in field order.
	children []childField
}

type listField struct {
	index int
	name  string                     // JSON key
	key   func(reflect.Value) string // an entry's identity

}

type childField struct {
	index int
	name  string // JSON key; "" for an embedded struct, which adds no path element
	slice bool
}

var (
	plans = sync.OnceValue(func() map[reflect.Type]*plan {
		m := map[reflect.Type]*plan{}
		buildPlan(reflect.TypeFor[types.Config](), m)
		return m
	})
)

// buildPlan fills m with the plans of t and every struct type under it, and
// reports whether t leads to any list that is checked (so that the walk can
// skip the many objects, such as users and units, with nothing to check).
// types.ListOf panics on a list whose identity is undefined.
func buildPlan(t reflect.Type, m map[reflect.Type]*plan) bool {
	if p, ok := m[t]; ok {
		return p != nil
	}
	m[t] = nil // a placeholder; the types have no cycles
	p := &plan{}
	var shared []listField
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if sf.Anonymous {
			name = ""
		}
		ft := sf.Type
		switch ft.Kind() {
		case reflect.Struct:
			if buildPlan(ft, m) {
				p.children = append(p.children, childField{index: i, name: name})
			}
		case reflect.Slice:
			et := ft.Elem()
			if l := types.ListOf(sf); !l.Append {
				lf := listField{index: i, name: name, key: l.Key}
				if l.Shared {
					if shared == nil {
						p.namespaces = append(p.namespaces, nil) // filled in below
					}
					shared = append(shared, lf)
				} else {
					p.namespaces = append(p.namespaces, []listField{lf})
				}
			}
			if et.Kind() == reflect.Struct && buildPlan(et, m) {
				p.children = append(p.children, childField{index: i, name: name, slice: true})
			}
		}
	}
	for i, ns := range p.namespaces {
		if ns == nil {
			p.namespaces[i] = shared
		}
	}
	if len(p.namespaces) == 0 && len(p.children) == 0 {
		return false
	}
	m[t] = p
	return true
}

// duplicates reports every list entry whose identity an earlier entry of
// its namespace already has, at the later entry.
func (v *validator) duplicates(cfg *types.Config) {
	v.dupWalk(reflect.ValueOf(cfg).Elem(), root(), plans())
}

func (v *validator) dupWalk(val reflect.Value, at path.ContextPath, m map[reflect.Type]*plan) {
	p := m[val.Type()]
	if p == nil {
		return
	}
	for _, ns := range p.namespaces {
		v.dupNamespace(val, at, ns)
	}
	for _, c := range p.children {
		f := val.Field(c.index)
		cat := at
		if c.name != "" {
			cat = at.Append(c.name)
		}
		if !c.slice {
			v.dupWalk(f, cat, m)
			continue
		}
		for i := range f.Len() {
			v.dupWalk(f.Index(i), cat.Append(i), m)
		}
	}
}

func (v *validator) dupNamespace(val reflect.Value, at path.ContextPath, ns []listField) {
	n := 0
	for _, lf := range ns {
		n += val.Field(lf.index).Len()
	}
	if n < 2 {
		return
	}
	seen := make(map[string]struct{}, n)
	for _, lf := range ns {
		list := val.Field(lf.index)
		for i := range list.Len() {
			e := list.Index(i)
			k := lf.key(e)
			if _, dup := seen[k]; dup {
				v.err(at.Append(lf.name, i), errDuplicate)
				continue
			}
			seen[k] = struct{}{}
		}
	}
}
