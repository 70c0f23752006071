package transpile

import (
	"fmt"
	"path"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/ignition-go/ignition/config/types"
)

// Where Podman's systemd generators read quadlets: rootful ones from
// quadletDir, those every user runs (rootless) from quadletUsersDir.
const (
	quadletDir      = "/etc/containers/systemd"
	quadletUsersDir = "/etc/containers/systemd/users"
)

// quadletTypes are the file types Podman's quadlet generator turns into
// systemd units (podman-systemd.unit(5)).
var quadletTypes = []string{".artifact", ".build", ".container", ".image", ".kube", ".network", ".pod", ".volume"}

// quadlet is one systemd.quadlets entry: a file for Podman's generator.
// It has no enabled field: the generator reads the quadlet's own
// [Install] section, so there is no unit for Ignition to enable.
type quadlet struct {
	name, contents string
	hasContents    bool
	rootful        bool
	node           *yaml.Node
	in             string
	dropins        []quadletDropin
}

// dir is the directory the quadlet and its drop-ins go to.
func (q quadlet) dir() string {
	if q.rootful {
		return quadletDir
	}
	return quadletUsersDir
}

// template is, for an instance of a template quadlet (web@8080.container),
// the template's name (web@.container); "" otherwise.
func (q quadlet) template() string {
	base, inst, ok := strings.Cut(q.name, "@")
	if !ok {
		return ""
	}
	dot := strings.LastIndex(inst, ".")
	if dot <= 0 {
		return ""
	}
	return base + "@" + inst[dot:]
}

type quadletDropin struct {
	name, contents string
	node           *yaml.Node
	in             string
}

func (w *walker) parseQuadlets(n *yaml.Node, in string) {
	seen := map[string]bool{}
	for itemIn, item := range w.mappings(n, in) {
		q := quadlet{node: item, in: itemIn}
		var ok bool
		if q.name, q.contents, q.hasContents, ok = w.quadletFile(item, itemIn, "dropins", &q); !ok {
			continue
		}
		switch {
		case q.name == "":
			w.errorAt(item, join(itemIn, "name"), "a quadlet needs a name (e.g. web.container)")
			continue
		case strings.Contains(q.name, "/") || !hasQuadletType(q.name):
			w.errorAt(item, join(itemIn, "name"), "quadlet name %q must be a file name ending in one of %s", q.name, strings.Join(quadletTypes, ", "))
			continue
		case seen[q.dir()+"/"+q.name]:
			w.errorAt(item, join(itemIn, "name"), "duplicate quadlet %s", q.name)
			continue
		case !q.hasContents && len(q.dropins) == 0 && q.template() == "":
			// An instance without contents is a link to its template;
			// anything else would be an empty quadlet.
			w.errorAt(item, itemIn, "quadlet %s needs contents, contents_local or dropins", q.name)
			continue
		}
		seen[q.dir()+"/"+q.name] = true
		w.quadlets = append(w.quadlets, q)
	}
}

// quadletFile reads name, contents or contents_local, and (for a quadlet,
// when q is set) rootful and its drop-ins from one mapping.
func (w *walker) quadletFile(item *yaml.Node, in, dropinsKey string, q *quadlet) (name, contents string, hasContents, ok bool) {
	var hasLocal bool
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
				return "", "", false, false
			}
			if !hasContents {
				contents = string(data)
			}
			hasLocal = true
		case "rootful":
			if q == nil {
				w.errorAt(p.key, kin, "unknown key rootful (a drop-in goes where its quadlet goes)")
				continue
			}
			if v := w.resolve(p.value); !isNull(v) {
				w.scalar(v, reflect.ValueOf(&q.rootful), where{in: kin})
			}
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
		return "", "", false, false
	}
	return name, contents, hasContents || hasLocal, true
}

func (w *walker) parseQuadletDropins(n *yaml.Node, in string, q *quadlet) {
	for itemIn, item := range w.mappings(n, in) {
		name, contents, _, ok := w.quadletFile(item, itemIn, "", nil)
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

// addQuadlets writes each quadlet, and its drop-ins in NAME.d/, as files
// in /etc/containers/systemd (rootful) or its users/ directory. An
// instance of a template without contents of its own is a symbolic link
// to the template, which is how Podman's generator is told to run it.
func (w *walker) addQuadlets(cfg *types.Config) {
	for _, q := range w.quadlets {
		p := path.Join(q.dir(), q.name)
		switch {
		case q.hasContents:
			w.quadletFileEntry(cfg, p, q.contents, q.node, q.in)
		case q.template() != "":
			w.quadletLink(cfg, p, q.template(), q.node, q.in)
		}
		for _, d := range q.dropins {
			w.quadletFileEntry(cfg, path.Join(q.dir(), q.name+".d", d.name), d.contents, d.node, d.in)
		}
	}
}

func (w *walker) quadletLink(cfg *types.Config, p, target string, n *yaml.Node, in string) {
	if w.forbidden("storage.links") {
		w.errorAt(n, in, "quadlet %s is an instance of %s without contents, which needs a link; %s cannot create links", path.Base(p), target, w.v)
		return
	}
	for _, l := range cfg.Storage.Links {
		if l.Path == p {
			w.errorAt(n, in, "%s is both in storage.links and generated by systemd.quadlets", p)
			return
		}
	}
	w.record(fmt.Sprintf("storage.links.%d", len(cfg.Storage.Links)), n, in)
	cfg.Storage.Links = append(cfg.Storage.Links, types.Link{Node: types.Node{Path: p, Overwrite: ptr(true)}, Target: &target})
}

func (w *walker) quadletFileEntry(cfg *types.Config, p, contents string, n *yaml.Node, in string) {
	for _, f := range cfg.Storage.Files {
		if f.Path == p {
			w.errorAt(n, in, "%s is both in storage.files and generated by systemd.quadlets", p)
			return
		}
	}
	mode := 0o644
	// Overwrite, as Ignition writes units: the file is wholly the config's.
	w.record(fmt.Sprintf("storage.files.%d", len(cfg.Storage.Files)), n, in)
	cfg.Storage.Files = append(cfg.Storage.Files, types.File{
		Node:     types.Node{Path: p, Overwrite: ptr(true)},
		Contents: w.embed([]byte(contents)),
		Mode:     &mode,
	})
}
