package config

import (
	"github.com/coreos/vcontext/path"
	"github.com/coreos/vcontext/report"
	"github.com/coreos/vcontext/tree"

	"github.com/ignition-go/ignition/config/internal/jsontree"
)

// correlate gives every entry of r the line and column of the deepest
// node its path reaches in root. Entries that already have a marker keep it.
func correlate(r *report.Report, root *jsontree.Node, raw []byte) {
	if len(r.Entries) == 0 {
		return
	}
	lines := jsontree.NewLines(raw)
	for i := range r.Entries {
		e := &r.Entries[i]
		if e.Marker.StartP != nil {
			continue
		}
		off := locate(root, e.Context)
		line, col := lines.Position(off)
		e.Marker = tree.Marker{StartP: &tree.Pos{Index: int64(off), Line: int64(line), Column: int64(col)}}
	}
}

// locate returns the byte offset of the deepest node reached by p: a key
// (tree.Key) points at the key itself, anything else at the value.
func locate(n *jsontree.Node, p path.ContextPath) int {
	off := n.Start
	for _, elem := range p.Path {
		switch e := elem.(type) {
		case string:
			child := n.Get(e)
			if child == nil {
				return off
			}
			n, off = child, child.Start
		case tree.Key:
			for j := len(n.Members) - 1; j >= 0; j-- {
				if n.Members[j].Key == string(e) {
					return n.Members[j].KeyStart
				}
			}
			return off
		case int:
			if n.Kind != jsontree.Array || e < 0 || e >= len(n.Items) {
				return off
			}
			n = &n.Items[e]
			off = n.Start
		default:
			return off
		}
	}
	return off
}

// markerAt returns a marker for a byte offset (used for syntax errors, which
// have no path).
func markerAt(raw []byte, off int) tree.Marker {
	line, col := jsontree.NewLines(raw).Position(off)
	return tree.Marker{StartP: &tree.Pos{Index: int64(off), Line: int64(line), Column: int64(col)}}
}
