package transpile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/ignition-go/ignition/config/types"
)

// roleLabel is the label that picks the machine config pool.
const roleLabel = "machineconfiguration.openshift.io/role"

// k8sName is a Kubernetes object name (an RFC 1123 DNS subdomain).
var k8sName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// mcMeta is the metadata section of an openshift config.
type mcMeta struct {
	node      *yaml.Node
	name      string
	nameNode  *yaml.Node
	labels    [][2]string
	roleFound bool
}

// ocpReq is the openshift section.
type ocpReq struct {
	node            *yaml.Node
	keys            []pair
	kernelType      string
	kernelArguments []string
	extensions      []string
	fips            *bool
}

func (w *walker) parseMetadata(n *yaml.Node) {
	const in = "metadata"
	n = w.expect(n, in, yaml.MappingNode)
	if n == nil {
		return
	}
	m := &mcMeta{node: n}
	for _, p := range w.mapPairs(n, in) {
		kin := join(in, p.key.Value)
		switch p.key.Value {
		case "name":
			if s, ok := w.str(p.value, kin); ok {
				m.name, m.nameNode = s, w.resolve(p.value)
				if len(s) > 253 || !k8sName.MatchString(s) {
					w.errorAt(m.nameNode, kin, "metadata.name %q is not a Kubernetes object name (lower case letters, digits, '-' and '.')", s)
				}
			}
		case "labels":
			labels := w.expect(p.value, kin, yaml.MappingNode)
			if labels == nil {
				continue
			}
			for _, l := range w.mapPairs(labels, kin) {
				if v, ok := w.str(l.value, join(kin, l.key.Value)); ok {
					m.labels = append(m.labels, [2]string{l.key.Value, v})
					m.roleFound = m.roleFound || l.key.Value == roleLabel
				}
			}
		default:
			w.errorAt(p.key, kin, "unknown key %s", p.key.Value)
		}
	}
	w.meta = m
}

func (w *walker) parseOpenShift(n *yaml.Node) {
	const in = "openshift"
	n = w.expect(n, in, yaml.MappingNode)
	if n == nil {
		return
	}
	o := &ocpReq{node: n}
	for _, p := range w.mapPairs(n, in) {
		kin := join(in, p.key.Value)
		o.keys = append(o.keys, p)
		switch p.key.Value {
		case "kernel_type":
			if s, ok := w.str(p.value, kin); ok {
				if s != "default" && s != "realtime" {
					w.errorAt(w.resolve(p.value), kin, "kernel_type must be default or realtime, found %q", s)
				}
				o.kernelType = s
			}
		case "kernel_arguments":
			o.kernelArguments = w.strList(p.value, kin)
		case "extensions":
			o.extensions = w.strList(p.value, kin)
		case "fips":
			var b bool
			if v := w.resolve(p.value); !isNull(v) && w.scalar(v, reflect.ValueOf(&b), where{in: kin}) {
				o.fips = &b
			}
		default:
			w.errorAt(p.key, kin, "unknown key %s", p.key.Value)
		}
	}
	w.ocp = o
}

// strList decodes a list of strings.
func (w *walker) strList(n *yaml.Node, in string) []string {
	n = w.expect(n, in, yaml.SequenceNode)
	if n == nil {
		return nil
	}
	var out []string
	for i, item := range n.Content {
		if s, ok := w.str(item, join(in, fmt.Sprint(i))); ok {
			out = append(out, s)
		}
	}
	return out
}

// checkOpenShift refuses what the Machine Config Operator cannot apply
// (the fields it lacks altogether are refused while walking) and, for a
// MachineConfig, requires its name and role.
func (w *walker) checkOpenShift(cfg *types.Config, root *yaml.Node) {
	if !w.v.has(featOpenShift) {
		return
	}
	at := func(out string) loc { return w.locate(strings.Split(out, ".")) }
	fail := func(l loc, format string, args ...any) {
		e := Entry{Kind: Error, Line: l.line, Column: l.col, Message: fmt.Sprintf(format, args...)}
		if l.path != "" {
			e.Path = "$." + l.path
		}
		w.r.Entries = append(w.r.Entries, e)
	}
	for i, u := range cfg.Passwd.Users {
		if u.Name != "core" {
			fail(at(fmt.Sprintf("passwd.users.%d.name", i)), "openshift configs may only configure the core user, found %q", u.Name)
		}
	}
	for i, f := range cfg.Storage.Files {
		if src := f.Contents.Source; src != nil && !strings.HasPrefix(*src, "data:") {
			fail(at(fmt.Sprintf("storage.files.%d.contents.source", i)), "openshift file contents must be inline, local or a data: URL, found %q", *src)
		}
	}
	for i, f := range cfg.Storage.Filesystems {
		if f.Format != nil && (*f.Format == "btrfs" || *f.Format == "none") {
			fail(at(fmt.Sprintf("storage.filesystems.%d.format", i)), "openshift supports ext4, xfs, vfat and swap, not %s", *f.Format)
		}
	}
	w.checkCexKarg(cfg, root)
	if w.opts.Raw {
		if w.ocp != nil {
			for _, p := range w.ocp.keys {
				msg := "openshift.%s is ignored when writing raw Ignition (-r): only a MachineConfig carries it"
				if p.key.Value == "fips" && w.v.has(featFIPSCipher) {
					msg = "openshift.%s only sets the LUKS cipher in raw Ignition (-r): FIPS mode itself needs the MachineConfig"
				}
				w.warnAt(p.key, join("openshift", p.key.Value), msg, p.key.Value)
			}
		}
		return
	}
	switch {
	case w.meta == nil:
		w.errorAt(root, "", "a MachineConfig needs metadata (name and the %s label); use -r for raw Ignition", roleLabel)
	case w.meta.name == "":
		w.errorAt(w.meta.node, "metadata", "a MachineConfig needs metadata.name")
	case !w.meta.roleFound:
		w.errorAt(w.meta.node, "metadata", "a MachineConfig needs the metadata.labels %s label (master, worker or a custom pool)", roleLabel)
	}
}

// cexKarg is the kernel argument that points the initramfs at the key an
// IBM Crypto Express card sealed the root volume with.
const cexKarg = "rd.luks.key=/etc/luks/cex.key"

// checkCexKarg: a root volume sealed by a Crypto Express card (boot_device
// or a storage.luks entry named root) cannot be opened at boot without
// cexKarg, and openshift.kernel_arguments is the only way to set it.
func (w *walker) checkCexKarg(cfg *types.Config, root *yaml.Node) {
	if !w.v.has(featBootS390) {
		return
	}
	cex := false
	for _, l := range cfg.Storage.Luks {
		cex = cex || (l.Name == "root" && l.Cex.Enabled != nil && *l.Cex.Enabled)
	}
	if !cex {
		return
	}
	at, in := root, ""
	if w.ocp != nil {
		at, in = w.ocp.node, "openshift"
		for _, p := range w.ocp.keys {
			if p.key.Value == "kernel_arguments" {
				at, in = p.key, "openshift.kernel_arguments"
			}
		}
		for _, a := range w.ocp.kernelArguments {
			if a == cexKarg {
				return
			}
		}
	}
	w.errorAt(at, in, "the root LUKS volume uses cex, which needs %s in openshift.kernel_arguments", cexKarg)
}

// fipsCipher is the luksFormat cipher openshift.fips asks for in 4.8.0–
// 4.19.0 (the one OpenShift's FIPS-mode MachineConfigs use); from 4.20.0
// the default cipher is kept.
var fipsCipher = []string{"--cipher", "aes-cbc-essiv:sha256"}

// addFIPSCipher gives every LUKS volume of this config (storage.luks and
// the one boot_device makes; not those of merged configs, which are not
// ours to change) the FIPS cipher, when openshift.fips is true in a version
// that does so. A volume that already names a cipher keeps its own.
func (w *walker) addFIPSCipher(cfg *types.Config) {
	if w.ocp == nil || w.ocp.fips == nil || !*w.ocp.fips || !w.v.has(featFIPSCipher) {
		return
	}
	for i := range cfg.Storage.Luks {
		l := &cfg.Storage.Luks[i]
		named := false
		for _, o := range l.Options {
			named = named || o == "--cipher" || o == "-c" || strings.HasPrefix(o, "--cipher=")
		}
		if !named {
			l.Options = append(l.Options, fipsCipher...)
		}
	}
}

// machineConfig wraps an Ignition config in a MachineConfig resource.
func (w *walker) machineConfig(ignJSON []byte) ([]byte, error) {
	var ign any
	if err := json.Unmarshal(ignJSON, &ign); err != nil {
		return nil, fmt.Errorf("reading back the Ignition config: %w", err)
	}
	mapping := func() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode} }
	set := func(m *yaml.Node, key string, v *yaml.Node) {
		m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, v)
	}
	str := func(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: s, Style: styleFor(s)} }
	encode := func(v any) (*yaml.Node, error) {
		var n yaml.Node
		if err := n.Encode(v); err != nil {
			return nil, fmt.Errorf("encoding the MachineConfig: %w", err)
		}
		return &n, nil
	}

	doc := mapping()
	set(doc, "apiVersion", str("machineconfiguration.openshift.io/v1"))
	set(doc, "kind", str("MachineConfig"))
	meta := mapping()
	labels := mapping()
	for _, l := range w.meta.labels {
		set(labels, l[0], str(l[1]))
	}
	set(meta, "labels", labels)
	set(meta, "name", str(w.meta.name))
	set(doc, "metadata", meta)
	spec := mapping()
	config, err := encode(ign)
	if err != nil {
		return nil, err
	}
	set(spec, "config", config)
	if o := w.ocp; o != nil {
		if len(o.extensions) > 0 {
			n, err := encode(o.extensions)
			if err != nil {
				return nil, err
			}
			set(spec, "extensions", n)
		}
		if o.fips != nil {
			n, err := encode(*o.fips)
			if err != nil {
				return nil, err
			}
			set(spec, "fips", n)
		}
		if len(o.kernelArguments) > 0 {
			n, err := encode(o.kernelArguments)
			if err != nil {
				return nil, err
			}
			set(spec, "kernelArguments", n)
		}
		if o.kernelType != "" {
			set(spec, "kernelType", str(o.kernelType))
		}
	}
	set(doc, "spec", spec)
	var b bytes.Buffer
	b.WriteString("# Generated by ignition-transpile; do not edit\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encoding the MachineConfig: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encoding the MachineConfig: %w", err)
	}
	return b.Bytes(), nil
}

// styleFor quotes a string that YAML would otherwise read as another type.
func styleFor(s string) yaml.Style {
	var v any
	if err := yaml.Unmarshal([]byte(s), &v); err != nil {
		return yaml.DoubleQuotedStyle
	}
	if _, ok := v.(string); !ok {
		return yaml.DoubleQuotedStyle
	}
	return 0
}
