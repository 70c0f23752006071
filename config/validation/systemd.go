package validation

import (
	"regexp"
	"strings"

	"github.com/coreos/go-systemd/v22/unit"
	"github.com/coreos/vcontext/path"

	"github.com/ignition-go/ignition/config/types"
)

var (
	// unitExtensions are the unit types systemd knows; a unit file with
	// any other suffix is ignored by systemd.
	unitExtensions = map[string]struct{}{
		".service": {}, ".socket": {}, ".device": {}, ".mount": {}, ".automount": {}, ".swap": {},
		".target": {}, ".path": {}, ".timer": {}, ".snapshot": {}, ".slice": {}, ".scope": {},
	}

	// instanceRE splits "<prefix>@<instance>.service"; the template it is
	// instantiated from is "<prefix>@.service".
	instanceRE = regexp.MustCompile(`^(.+?)@(.+?)\.service$`)
)

// unitInfo is what parsing a unit's contents told us.
type unitInfo struct {
	err error // the parse error, if any
	// lacksInstall: contents parsed, but there is no [Install] section, so
	// enabling the unit does nothing.
	lacksInstall bool
}

// parseUnit parses unit or drop-in contents. Unset or empty contents are
// fine (a unit can be only enabled or masked) and lack nothing.
func parseUnit(contents *string) unitInfo {
	if isEmpty(contents) {
		return unitInfo{}
	}
	opts, err := unit.DeserializeOptions(strings.NewReader(*contents))
	if err != nil {
		return unitInfo{err: err}
	}
	for _, o := range opts {
		if o.Section == "Install" {
			return unitInfo{}
		}
	}
	return unitInfo{lacksInstall: true}
}

func (v *validator) systemd(sd *types.Systemd) {
	at := root("systemd")
	infos := make([]unitInfo, len(sd.Units))
	for i := range sd.Units {
		infos[i] = parseUnit(sd.Units[i].Contents)
	}
	v.templatesWithoutInstall(at, sd.Units, infos)

	for i := range sd.Units {
		u := &sd.Units[i]
		uat := at.Append("units", i)
		if _, ok := unitExtensions[unitExtension(u.Name)]; !ok {
			v.err(uat.Append("name"), errUnitExt)
		}
		switch info := infos[i]; {
		case info.err != nil:
			v.err(uat.Append("contents"), unitContentError(info.err))
		case info.lacksInstall && isTrue(u.Enabled):
			v.warn(uat.Append("contents"), noInstallWarning(u.Name))
		}
		for j := range u.Dropins {
			d := &u.Dropins[j]
			dat := uat.Append("dropins", j)
			if info := parseUnit(d.Contents); info.err != nil {
				v.err(dat.Append("contents"), unitContentError(info.err))
			}
			if !strings.HasSuffix(d.Name, ".conf") {
				v.err(dat.Append("name"), errDropinExt)
			}
		}
	}
}

// unitExtension returns the text from the last "." of a unit name, or "".
func unitExtension(name string) string {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name[i:]
	}
	return ""
}

// templatesWithoutInstall warns about an enabled instance ("foo@bar.service")
// of a template unit in this config ("foo@.service") whose contents have no
// [Install] section: enabling the instance then does nothing.
func (v *validator) templatesWithoutInstall(at path.ContextPath, units []types.Unit, infos []unitInfo) {
	var lacking map[string]bool
	for i := range units {
		if infos[i].lacksInstall {
			if lacking == nil {
				lacking = map[string]bool{}
			}
			lacking[units[i].Name] = true
		}
	}
	if lacking == nil {
		return
	}
	for i := range units {
		u := &units[i]
		if !isTrue(u.Enabled) {
			continue
		}
		m := instanceRE.FindStringSubmatch(u.Name)
		if m == nil {
			continue
		}
		if template := m[1] + "@.service"; lacking[template] {
			v.warn(at.Append("units", i, "contents"), noTemplateInstallWarning(template, u.Name))
		}
	}
}
