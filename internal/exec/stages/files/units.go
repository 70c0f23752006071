package files

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"strings"

	"github.com/ignition-go/ignition/config/types"
	"github.com/ignition-go/ignition/internal/resource"
)

const (
	unitDir    = "/etc/systemd/system"
	presetFile = "/etc/systemd/system-preset/20-ignition.preset"
)

// instanceRE splits an instance unit name, "<prefix>@<instance>.<type>",
// whose template is "<prefix>@.<type>".
var instanceRE = regexp.MustCompile(`^([^@]+)@([^@]+)(\.[a-z]+)$`)

// units writes systemd.units in config order: contents, drop-ins and
// masks, then one preset file with every enable and disable.
func (s *stage) units() error {
	var p presets
	for i := range s.cfg.Systemd.Units {
		u := &s.cfg.Systemd.Units[i]
		entry := fmt.Sprintf("systemd.units.%d", i)
		err := s.log.LogOp(func() error { return s.unit(u) }, "processing unit %q", u.Name)
		if err != nil {
			return entryErr(entry, u.Name, err)
		}
		if u.Enabled != nil {
			p.add(u.Name, *u.Enabled)
		}
	}
	if len(p.lines) == 0 {
		return nil
	}
	err := s.log.LogOp(func() error { return s.writePresets(p) }, "writing systemd presets to %q", presetFile)
	if err != nil {
		return fmt.Errorf("systemd presets (%s): %w", presetFile, err)
	}
	return nil
}

func (s *stage) unit(u *types.Unit) error {
	if err := checkName(u.Name); err != nil {
		return err
	}
	unitPath := unitDir + "/" + u.Name
	switch {
	case isTrue(u.Mask):
		if deref(u.Contents) != "" {
			s.log.Warning("unit %q is masked: its contents are not written", u.Name)
		}
	case deref(u.Contents) != "":
		err := s.log.LogOp(func() error { return s.writeText(unitPath, *u.Contents) },
			"writing unit %q at %q", u.Name, unitPath)
		if err != nil {
			return err
		}
	}
	for i := range u.Dropins {
		d := &u.Dropins[i]
		if deref(d.Contents) == "" {
			continue
		}
		if err := checkName(d.Name); err != nil {
			return fmt.Errorf("dropins.%d: %w", i, err)
		}
		p := unitDir + "/" + u.Name + ".d/" + d.Name
		err := s.log.LogOp(func() error { return s.writeText(p, *d.Contents) },
			"writing drop-in %q at %q", d.Name, p)
		if err != nil {
			return fmt.Errorf("dropins.%d: %w", i, err)
		}
	}
	switch {
	case isTrue(u.Mask):
		return s.log.LogOp(func() error { return s.mask(unitPath) }, "masking unit %q", u.Name)
	case u.Mask != nil:
		return s.log.LogOp(func() error { return s.unmask(unitPath) }, "unmasking unit %q", u.Name)
	}
	return nil
}

// checkName refuses a unit or drop-in name that is not a single path
// component.
func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.Contains(name, "/") {
		return fmt.Errorf("invalid name %q", name)
	}
	return nil
}

// writeText replaces p (a path in the target) with a 0644 file owned by
// root holding text.
func (s *stage) writeText(p, text string) error {
	n, err := resolve(s.root, p)
	if err != nil {
		return err
	}
	if err := s.mkdirs(n.Dir); err != nil {
		return err
	}
	return s.writeFile(n, meta{mode: 0o644}, func(w io.Writer) error {
		_, err := io.WriteString(w, text)
		return err
	})
}

// mask makes the unit a symlink to /dev/null, replacing a unit file.
func (s *stage) mask(p string) error {
	n, fi, err := s.lookup(p)
	if err != nil {
		return err
	}
	if fi != nil && fi.IsDir() {
		return fmt.Errorf("%s is a directory", p)
	}
	return s.placeSymlink(n, "/dev/null", fi, 0, 0)
}

// unmask removes the unit's symlink to /dev/null, if that is what is
// there; anything else is left alone.
func (s *stage) unmask(p string) error {
	n, err := resolve(s.root, p)
	if err != nil {
		return err
	}
	fi, err := s.existing(n)
	if err != nil || fi == nil || fi.Mode()&fs.ModeSymlink == 0 {
		return err
	}
	target, err := s.root.Readlink(n.Rel())
	if err != nil {
		return err
	}
	if target != "/dev/null" {
		return nil
	}
	if err := s.root.Remove(n.Rel()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return resource.SyncDir(s.root, n.Dir)
}

// presets are the lines of the preset file in unit order. Enabled
// instances of one template share a line, as systemd.preset(5) allows:
// "enable foo@.service a b". (systemd enables no instance from a line
// naming only the template unless it has DefaultInstance=.)
type presets struct {
	lines     []presetLine
	templates map[string]int // template → index of its enable line
}

type presetLine struct {
	verb      string // "enable" or "disable"
	unit      string
	instances []string
}

func (p *presets) add(name string, enable bool) {
	if !enable {
		// A disable line is a pattern matched against unit names; an
		// instance's own name matches just that instance.
		p.lines = append(p.lines, presetLine{verb: "disable", unit: name})
		return
	}
	m := instanceRE.FindStringSubmatch(name)
	if m == nil {
		p.lines = append(p.lines, presetLine{verb: "enable", unit: name})
		return
	}
	template := m[1] + "@" + m[3]
	if i, ok := p.templates[template]; ok {
		p.lines[i].instances = append(p.lines[i].instances, m[2])
		return
	}
	if p.templates == nil {
		p.templates = map[string]int{}
	}
	p.templates[template] = len(p.lines)
	p.lines = append(p.lines, presetLine{verb: "enable", unit: template, instances: []string{m[2]}})
}

func (p *presets) text() string {
	var b strings.Builder
	for _, l := range p.lines {
		b.WriteString(l.verb + " " + l.unit)
		for _, inst := range l.instances {
			b.WriteString(" " + inst)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// writePresets writes the preset file, after what it already holds (the
// config may have written it as a file too).
func (s *stage) writePresets(p presets) error {
	for _, l := range p.lines {
		what := l.unit
		if len(l.instances) > 0 {
			what = fmt.Sprintf("%s (instances %s)", l.unit, strings.Join(l.instances, " "))
		}
		s.log.Info("setting preset to %sd for %q", l.verb, what)
	}
	n, err := resolve(s.root, presetFile)
	if err != nil {
		return err
	}
	if err := s.mkdirs(n.Dir); err != nil {
		return err
	}
	fi, err := s.existing(n)
	if err != nil {
		return err
	}
	if fi != nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is in the way", kind(fi.Mode()))
	}
	return s.writeFile(n, meta{mode: 0o644}, func(w io.Writer) error {
		if fi != nil {
			old, err := s.root.ReadFile(n.Rel())
			if err != nil {
				return err
			}
			if len(old) > 0 && old[len(old)-1] != '\n' {
				old = append(old, '\n')
			}
			if _, err := w.Write(old); err != nil {
				return err
			}
		}
		_, err := io.WriteString(w, p.text())
		return err
	})
}
