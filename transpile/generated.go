package transpile

import (
	"reflect"
	"strconv"
	"strings"

	"github.com/ignition-go/ignition/config/merge"
	"github.com/ignition-go/ignition/config/types"
)

// addGenerated merges the user's config over the config that boot_device
// and grub stand for, as Ignition merges a child config over its parent:
// an entry the user names again (a disk by device, a partition by label,
// the root filesystem by device) overrides the generated one field by
// field. Merging moves the user's list entries behind the generated ones,
// so the translation map is rewritten to the merged indexes.
func (w *walker) addGenerated(cfg *types.Config) {
	gen, tr := w.bootConfig()
	w.grubConfig(&gen, tr)
	if w.r.IsFatal() || reflect.ValueOf(gen).IsZero() {
		return
	}
	merged := merge.Merge(gen, *cfg)
	moves := map[string]string{}
	listMoves(reflect.ValueOf(*cfg), reflect.ValueOf(merged), "", "", moves)
	out := make(map[string]loc, len(w.tr)+len(tr))
	for p, l := range w.tr {
		out[movePath(p, moves)] = l
	}
	for p, l := range tr {
		if _, ok := out[p]; !ok {
			out[p] = l
		}
	}
	w.tr = out
	*cfg = merged
}

// listMoves walks a user config and the merged config side by side and
// records, for every keyed list entry of the user's, its merged path.
func listMoves(user, merged reflect.Value, uat, mat string, moves map[string]string) {
	t := user.Type()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		up, mp := join(uat, name), join(mat, name)
		if sf.Anonymous {
			up, mp = uat, mat
		}
		u, m := user.Field(i), merged.Field(i)
		switch {
		case sf.Type.Kind() == reflect.Struct:
			listMoves(u, m, up, mp, moves)
		case sf.Type.Kind() == reflect.Slice && sf.Type.Elem().Kind() == reflect.Struct:
			l := types.ListOf(sf)
			if l.Append {
				continue
			}
			for j := 0; j < u.Len(); j++ {
				key := l.Key(u.Index(j))
				for k := 0; k < m.Len(); k++ {
					if l.Key(m.Index(k)) != key {
						continue
					}
					from, to := up+"."+strconv.Itoa(j), mp+"."+strconv.Itoa(k)
					if from != to {
						moves[from] = to
					}
					listMoves(u.Index(j), m.Index(k), from, to, moves)
					break
				}
			}
		}
	}
}

// movePath rewrites a user output path through the moves of its list
// entries, outermost first: storage.disks.1.partitions.0 becomes
// storage.disks.3.partitions.2 when both entries moved.
func movePath(p string, moves map[string]string) string {
	parts := strings.Split(p, ".")
	var from, to string
	for _, s := range parts {
		from, to = join(from, s), join(to, s)
		if m, ok := moves[from]; ok {
			to = m
		}
	}
	return to
}
