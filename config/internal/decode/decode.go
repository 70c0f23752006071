package decode

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"

	"github.com/coreos/vcontext/path"
	"github.com/coreos/vcontext/report"
	"github.com/coreos/vcontext/tree"

	"github.com/ignition-go/ignition/config/internal/jsontree"
)

// Decode fills out (a pointer to the schema's root struct) from n. It
// returns warnings for unused and duplicate keys and errors for values of
// the wrong type; a field with a wrong-typed value is left unset.
func (s *Schema) Decode(n *jsontree.Node, out any) report.Report {
	d := decoder{}
	d.object(n, s.root, reflect.ValueOf(out).Elem(), path.New("json"))
	return d.r
}

type decoder struct {
	r report.Report
}

func (d *decoder) typeError(p path.ContextPath, want string, n *jsontree.Node) {
	d.r.AddOnError(p, fmt.Errorf("type mismatch: expected %s, found %s", want, n.Kind))
}

func (d *decoder) object(n *jsontree.Node, o *object, v reflect.Value, p path.ContextPath) {
	if n.Kind == jsontree.Null {
		return
	}
	if n.Kind != jsontree.Object {
		d.typeError(p, "object", n)
		return
	}
	dups := duplicateKeys(n.Members)
	for i := range n.Members {
		m := &n.Members[i]
		if last, ok := dups[m.Key]; ok {
			// As in encoding/json the last value wins; say so once, there.
			if i != last {
				continue
			}
			d.r.AddOnWarn(p.Append(tree.Key(m.Key)), fmt.Errorf("duplicate key %s: earlier values are ignored", m.Key))
		}
		f, ok := o.fields[m.Key]
		if !ok {
			msg := "unused key " + m.Key
			if v, ok := o.later[m.Key]; ok {
				msg += fmt.Sprintf(" (it needs spec %s or later)", v)
			}
			d.r.AddOnWarn(p.Append(tree.Key(m.Key)), errors.New(msg))
			continue
		}
		d.value(&m.Value, f, v.FieldByIndex(f.index), p.Append(m.Key))
	}
}

// duplicateKeys maps each key that occurs more than once to the index of
// its last occurrence. It returns nil in the usual case of no repeats.
func duplicateKeys(ms []jsontree.Member) map[string]int {
	if len(ms) < 2 {
		return nil
	}
	var dups map[string]int
	seen := make(map[string]struct{}, len(ms))
	for i, m := range ms {
		if _, ok := seen[m.Key]; ok {
			if dups == nil {
				dups = map[string]int{}
			}
			dups[m.Key] = i
		}
		seen[m.Key] = struct{}{}
	}
	return dups
}

func (d *decoder) value(n *jsontree.Node, f *field, v reflect.Value, p path.ContextPath) {
	t := f.typ
	switch {
	case t.Kind() == reflect.Struct:
		d.object(n, f.elem, v, p)
	case t.Kind() == reflect.Slice:
		if n.Kind == jsontree.Null {
			return
		}
		if n.Kind != jsontree.Array {
			d.typeError(p, "array", n)
			return
		}
		s := reflect.MakeSlice(t, len(n.Items), len(n.Items))
		for i := range n.Items {
			ep := p.Append(i)
			if f.elem != nil {
				d.object(&n.Items[i], f.elem, s.Index(i), ep)
			} else {
				d.scalar(&n.Items[i], s.Index(i), ep)
			}
		}
		v.Set(s)
	default:
		d.scalar(n, v, p)
	}
}

// scalar sets a string, int or bool, or a pointer to one. null leaves the
// value unset, as encoding/json does.
func (d *decoder) scalar(n *jsontree.Node, v reflect.Value, p path.ContextPath) {
	if n.Kind == jsontree.Null {
		return
	}
	t := v.Type()
	ptr := t.Kind() == reflect.Pointer
	if ptr {
		t = t.Elem()
	}
	target := reflect.New(t).Elem()
	switch t.Kind() {
	case reflect.String:
		if n.Kind != jsontree.String {
			d.typeError(p, "string", n)
			return
		}
		target.SetString(n.Text)
	case reflect.Bool:
		if n.Kind != jsontree.Bool {
			d.typeError(p, "boolean", n)
			return
		}
		target.SetBool(n.Bool)
	case reflect.Int:
		if n.Kind != jsontree.Number {
			d.typeError(p, "integer", n)
			return
		}
		i, err := strconv.ParseInt(n.Text, 10, 0)
		if err != nil {
			d.r.AddOnError(p, fmt.Errorf("type mismatch: expected integer, found %s", n.Text))
			return
		}
		target.SetInt(i)
	default:
		panic(fmt.Sprintf("decode: unsupported field type %s", t))
	}
	if ptr {
		v.Set(target.Addr())
	} else {
		v.Set(target)
	}
}
