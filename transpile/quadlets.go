package transpile

import (
	"fmt"
	"path"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/ignition-go/ignition/config/types"
)

// quadletDir is where Podman's systemd generator reads system quadlets.
const quadletDir = "/etc/containers/systemd"

// quadletTypes are the file types Podman's quadlet generator turns into
// systemd units (podman-systemd.unit(5)).
var quadletTypes = []string{".artifact", ".build", ".container", ".image", ".kube", ".network", ".pod", ".volume"}

// quadlet is one systemd.quadlets entry: a file for Podman's generator.
// It has no enabled field: the generator reads the quadlet's own
// [Install] section, so there is no unit for Ignition to enable.
type quadlet struct {
	name, contents string
	node           *yaml.Node
	in             string
	dropins        []quadletDropin
}

type quadletDropin struct {
	name, contents string
	node           *yaml.Node
	in             string
}

func (w *walker) parseQuadlets(n *yaml.Node, in string) {
	n = w.resolve(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		w.errorAt(n, in, "expected a list, found %s", kindName(n))
		return
	}
	seen := map[string]bool{}
	for i, item := range n.Content {
		itemIn := join(in, fmt.Sprint(i))
		item = w.resolve(item)
		if item.Kind != yaml.MappingNode {
			w.errorAt(item, itemIn, "expected a mapping, found %s", kindName(item))
			continue
		}
		q := quadlet{node: item, in: itemIn}
		var ok bool
		if q.name, q.contents, ok = w.quadletFile(item, itemIn, "dropins", &q); !ok {
			continue
		}
		switch {
		case q.name == "":
			w.errorAt(item, join(itemIn, "name"), "a quadlet needs a name (e.g. web.container)")
			continue
		case strings.Contains(q.name, "/") || !hasQuadletType(q.name):
			w.errorAt(item, join(itemIn, "name"), "quadlet name %q must be a file name ending in one of %s", q.name, strings.Join(quadletTypes, ", "))
			continue
		case seen[q.name]:
			w.errorAt(item, join(itemIn, "name"), "duplicate quadlet %s", q.name)
			continue
		}
		seen[q.name] = true
		w.quadlets = append(w.quadlets, q)
	}
}

// quadletFile reads name, contents or contents_local, and (for a quadlet,
// when dropinsKey is set) its drop-ins from one mapping.
func (w *walker) quadletFile(item *yaml.Node, in, dropinsKey string, q *quadlet) (name, contents string, ok bool) {
	var hasContents, hasLocal bool
	var localNode *yaml.Node
	for _, p := range w.mapPairs(item, in) {
		kin := join(in, p.key.Value)
		switch p.key.Value {
		case "name":
			name, _ = w.str(p.value, kin)
		case "contents":
			contents, hasContents = w.str(p.value, kin)
		case "contents_local":
			rel, ok := w.str(p.value, kin)
			if !ok {
				continue
			}
			localNode = p.value
			data, ok := w.readLocal(w.resolve(p.value), kin, rel)
			if !ok {
				return "", "", false
			}
			if !hasContents {
				contents = string(data)
			}
			hasLocal = true
		default:
			if dropinsKey == "" || p.key.Value != dropinsKey {
				msg := "unknown key " + p.key.Value
				if p.key.Value == "enabled" {
					msg += " (Podman's generator enables a quadlet through its [Install] section)"
				}
				w.errorAt(p.key, kin, "%s", msg)
				continue
			}
			w.parseQuadletDropins(p.value, kin, q)
		}
	}
	if hasContents && hasLocal {
		w.errorAt(w.resolve(localNode), join(in, "contents_local"), "contents and contents_local are mutually exclusive")
		return "", "", false
	}
	return name, contents, true
}

func (w *walker) parseQuadletDropins(n *yaml.Node, in string, q *quadlet) {
	n = w.resolve(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		w.errorAt(n, in, "expected a list, found %s", kindName(n))
		return
	}
	for i, item := range n.Content {
		itemIn := join(in, fmt.Sprint(i))
		item = w.resolve(item)
		if item.Kind != yaml.MappingNode {
			w.errorAt(item, itemIn, "expected a mapping, found %s", kindName(item))
			continue
		}
		name, contents, ok := w.quadletFile(item, itemIn, "", nil)
		if !ok {
			continue
		}
		if strings.Contains(name, "/") || !strings.HasSuffix(name, ".conf") {
			w.errorAt(item, join(itemIn, "name"), "drop-in name %q must be a file name ending in .conf", name)
			continue
		}
		q.dropins = append(q.dropins, quadletDropin{name: name, contents: contents, node: item, in: itemIn})
	}
}

func hasQuadletType(name string) bool {
	for _, t := range quadletTypes {
		if strings.HasSuffix(name, t) && len(name) > len(t) {
			return true
		}
	}
	return false
}

// addQuadlets writes each quadlet, and its drop-ins in NAME.d/, as a file
// in /etc/containers/systemd.
func (w *walker) addQuadlets(cfg *types.Config) {
	for _, q := range w.quadlets {
		w.quadletFileEntry(cfg, path.Join(quadletDir, q.name), q.contents, q.node, q.in)
		for _, d := range q.dropins {
			w.quadletFileEntry(cfg, path.Join(quadletDir, q.name+".d", d.name), d.contents, d.node, d.in)
		}
	}
}

func (w *walker) quadletFileEntry(cfg *types.Config, p, contents string, n *yaml.Node, in string) {
	for _, f := range cfg.Storage.Files {
		if f.Path == p {
			w.errorAt(n, in, "%s is both in storage.files and generated by systemd.quadlets", p)
			return
		}
	}
	url, gz := dataURL([]byte(contents), true)
	c := ""
	if gz {
		c = "gzip"
	}
	mode := 0o644
	// Overwrite, as Ignition writes units: the file is wholly the config's.
	w.record(fmt.Sprintf("storage.files.%d", len(cfg.Storage.Files)), n, in)
	cfg.Storage.Files = append(cfg.Storage.Files, types.File{
		Node:     types.Node{Path: p, Overwrite: ptr(true)},
		Contents: types.Resource{Source: &url, Compression: &c},
		Mode:     &mode,
	})
}
