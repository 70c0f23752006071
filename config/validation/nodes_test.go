package validation_test

import (
	"testing"
)

func TestNodePaths(t *testing.T) {
	var cases []ruleCase
	for _, kind := range []string{"files", "directories", "links"} {
		node := func(p string) string {
			extra := ""
			if kind == "links" {
				extra = `,"target":"/t"`
			}
			return `{"storage":{"` + kind + `":[{"path":` + quote(p) + extra + `}]}}`
		}
		at := "$.storage." + kind + ".0.path"
		cases = append(cases,
			ruleCase{name: kind + " ok", json: node("/etc/a.conf")},
			ruleCase{name: kind + " root", json: node("/")},
			ruleCase{name: kind + " empty", json: node(""), want: []entry{E(at, msgPathEmpty)}},
			ruleCase{name: kind + " relative", json: node("etc/a"), want: []entry{E(at, msgPathRelative)}},
			ruleCase{name: kind + " dot", json: node("./a"), want: []entry{E(at, msgPathRelative)}},
			ruleCase{name: kind + " trailing slash", json: node("/etc/"), want: []entry{E(at, msgPathUnclean)}},
			ruleCase{name: kind + " double slash", json: node("/etc//a"), want: []entry{E(at, msgPathUnclean)}},
			ruleCase{name: kind + " dot segment", json: node("/etc/./a"), want: []entry{E(at, msgPathUnclean)}},
			ruleCase{name: kind + " dot-dot", json: node("/etc/../a"), want: []entry{E(at, msgPathUnclean)}},
		)
	}
	runCases(t, cases)
}

func TestOwners(t *testing.T) {
	var cases []ruleCase
	for _, kind := range []string{"files", "directories", "links"} {
		node := func(owners string) string {
			extra := ""
			if kind == "links" {
				extra = `,"target":"/t"`
			}
			return `{"storage":{"` + kind + `":[{"path":"/n"` + extra + `,` + owners + `}]}}`
		}
		at := "$.storage." + kind + ".0."
		cases = append(cases,
			ruleCase{name: kind + " by id", json: node(`"user":{"id":0},"group":{"id":0}`)},
			ruleCase{name: kind + " by name", json: node(`"user":{"name":"core"},"group":{"name":"core"}`)},
			ruleCase{name: kind + " id and empty name", json: node(`"user":{"id":0,"name":""}`)},
			ruleCase{name: kind + " user both", json: node(`"user":{"id":0,"name":"root"}`), want: []entry{E(at+"user", msgIDAndName)}},
			ruleCase{name: kind + " group both", json: node(`"group":{"id":0,"name":"root"}`), want: []entry{E(at+"group", msgIDAndName)}},
		)
	}
	runCases(t, cases)
}

func TestModes(t *testing.T) {
	var cases []ruleCase
	for _, kind := range []string{"files", "directories"} {
		node := func(mode string) string {
			return `{"storage":{"` + kind + `":[{"path":"/n","mode":` + mode + `}]}}`
		}
		at := "$.storage." + kind + ".0.mode"
		cases = append(cases,
			ruleCase{name: kind + " 0", json: node("0")},
			ruleCase{name: kind + " 0644", json: node("420")},
			ruleCase{name: kind + " 07777", json: node("4095")},
			ruleCase{name: kind + " too big", json: node("4096"), want: []entry{E(at, msgMode)}},
			ruleCase{name: kind + " negative", json: node("-1"), want: []entry{E(at, msgMode)}},
			ruleCase{name: kind + " negative 3.5", version: "3.5.0", json: node("-1"), want: []entry{E(at, msgMode), W(at, msgModeSpecial)}},
			ruleCase{name: kind + " setuid", json: node("2541")},
			ruleCase{name: kind + " setuid 3.5", version: "3.5.0", json: node("2541"), want: []entry{W(at, msgModeSpecial)}},
			ruleCase{name: kind + " sticky 3.0", version: "3.0.0", json: node("1023"), want: []entry{W(at, msgModeSpecial)}},
			ruleCase{name: kind + " plain 3.0", version: "3.0.0", json: node("493")},
		)
	}
	runCases(t, cases)
}

func TestFiles(t *testing.T) {
	f := "$.storage.files.0"
	runCases(t, []ruleCase{
		{name: "overwrite with source", json: `{"storage":{"files":[{"path":"/f","overwrite":true,"contents":{"source":"data:,x"}}]}}`},
		{name: "overwrite with empty source", json: `{"storage":{"files":[{"path":"/f","overwrite":true,"contents":{"source":""}}]}}`},
		{name: "overwrite without source", json: `{"storage":{"files":[{"path":"/f","overwrite":true}]}}`, want: []entry{E(f+".overwrite", msgOverwriteNoSrc)}},
		{name: "overwrite with append only", json: `{"storage":{"files":[{"path":"/f","overwrite":true,"append":[{"source":"data:,x"}]}]}}`, want: []entry{E(f+".overwrite", msgOverwriteNoSrc)}},
		{name: "no overwrite without source", json: `{"storage":{"files":[{"path":"/f","overwrite":false}]}}`},
		{name: "append resources", json: `{"storage":{"files":[{"path":"/f","append":[{"source":"data:,x"},{"source":"ftp://x","compression":"xz"}]}]}}`,
			want: []entry{E(f+".append.1.compression", msgCompression), E(f+".append.1.source", msgURLScheme)}},
		{name: "file rules in order", json: `{"storage":{"files":[{"path":"f","mode":99999,"overwrite":true,"user":{"id":1,"name":"a"},"group":{"id":1,"name":"a"},"append":[{"source":"ftp://a"}],"contents":{"compression":"xz"}}]}}`,
			want: []entry{
				E(f+".mode", msgMode), E(f+".overwrite", msgOverwriteNoSrc), E(f+".path", msgPathRelative),
				E(f+".group", msgIDAndName), E(f+".user", msgIDAndName),
				E(f+".append.0.source", msgURLScheme), E(f+".contents.compression", msgCompression),
			}},
	})
}

func TestLinks(t *testing.T) {
	l := "$.storage.links.0"
	runCases(t, []ruleCase{
		{name: "symlink", json: `{"storage":{"links":[{"path":"/l","target":"../t"}]}}`},
		{name: "no target", json: `{"storage":{"links":[{"path":"/l"}]}}`, want: []entry{E(l+".target", msgLinkTarget)}},
		{name: "empty target", json: `{"storage":{"links":[{"path":"/l","target":""}]}}`, want: []entry{E(l+".target", msgLinkTarget)}},
		{name: "no target 3.2", version: "3.2.0", json: `{"storage":{"links":[{"path":"/l"}]}}`},
	})
}

func TestPathsUnderLinks(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "file", json: `{"storage":{"links":[{"path":"/a","target":"/x"}],"files":[{"path":"/a/b"}]}}`,
			want: []entry{E("$.storage.files.0", msgFileUnderLink)}},
		{name: "directory", json: `{"storage":{"links":[{"path":"/a","target":"/x"}],"directories":[{"path":"/a/b/c"}]}}`,
			want: []entry{E("$.storage.directories.0", msgDirUnderLink)}},
		{name: "link", json: `{"storage":{"links":[{"path":"/a/b","target":"/y"},{"path":"/a","target":"/x"}]}}`,
			want: []entry{E("$.storage.links.0", msgLinkUnderLink)}},
		{name: "sibling with common prefix", json: `{"storage":{"links":[{"path":"/a","target":"/x"}],"files":[{"path":"/ab"}],"directories":[{"path":"/"}]}}`},
		{name: "same path is a duplicate, not a nesting", json: `{"storage":{"links":[{"path":"/a","target":"/x"}],"files":[{"path":"/a"}]}}`,
			want: []entry{E("$.storage.links.0", msgDuplicate)}},
		// One entry per link the path goes through, in the links' order,
		// and directories, then files, then links.
		{name: "through several links", json: `{"storage":{"links":[{"path":"/a/b","target":"/y"},{"path":"/a","target":"/x"}],"files":[{"path":"/a/b/c"},{"path":"/z"}],"directories":[{"path":"/a/d"}]}}`,
			want: []entry{
				E("$.storage.directories.0", msgDirUnderLink),
				E("$.storage.files.0", msgFileUnderLink), E("$.storage.files.0", msgFileUnderLink),
				E("$.storage.links.0", msgLinkUnderLink),
			}},
	})
}

func TestHardLinks(t *testing.T) {
	l := "$.storage.links.0"
	runCases(t, []ruleCase{
		{name: "to file", json: `{"storage":{"links":[{"path":"/l","target":"/f","hard":true}],"files":[{"path":"/f"}],"directories":[{"path":"/d"}]}}`},
		{name: "to directory", json: `{"storage":{"links":[{"path":"/l","target":"/d","hard":true}],"directories":[{"path":"/d"}]}}`,
			want: []entry{E(l, msgHardLinkDir)}},
		{name: "to unclean directory", json: `{"storage":{"links":[{"path":"/l","target":"/d/./","hard":true}],"directories":[{"path":"/d"}]}}`,
			want: []entry{E(l, msgHardLinkDir)}},
		{name: "symlink to directory", json: `{"storage":{"links":[{"path":"/l","target":"/d","hard":false}],"directories":[{"path":"/d"}]}}`},
		// A relative target is resolved against the link's own path, as
		// the reference implementation does.
		{name: "relative under link path", json: `{"storage":{"links":[{"path":"/x/l","target":"d","hard":true}],"directories":[{"path":"/x/l/d"}]}}`,
			want: []entry{E("$.storage.directories.0", msgDirUnderLink), E(l, msgHardLinkDir)}},
		{name: "relative sibling", json: `{"storage":{"links":[{"path":"/x/l","target":"d","hard":true}],"directories":[{"path":"/x/d"}]}}`},
		{name: "owner ignored", json: `{"storage":{"links":[{"path":"/l","target":"/f","hard":true,"user":{"id":1,"name":"a"},"group":{"id":2,"name":"b"}}]}}`,
			want: []entry{
				W(l+".user.id", msgHardLinkOwner), W(l+".user.name", msgHardLinkOwner),
				W(l+".group.id", msgHardLinkOwner), W(l+".group.name", msgHardLinkOwner),
				E(l+".group", msgIDAndName), E(l+".user", msgIDAndName),
			}},
		{name: "group name ignored", json: `{"storage":{"links":[{"path":"/l","target":"/f","hard":true,"group":{"name":""}}]}}`,
			want: []entry{W(l+".group.name", msgHardLinkOwner)}},
		{name: "symlink owner", json: `{"storage":{"links":[{"path":"/l","target":"/f","user":{"id":1}}]}}`},
		// Without a target only the missing target is reported (3.3+); before
		// 3.3 the empty target resolves to the link itself.
		{name: "no target", json: `{"storage":{"links":[{"path":"/l","hard":true,"user":{"id":1}}],"directories":[{"path":"/l"}]}}`,
			want: []entry{E(l+".target", msgLinkTarget), E(l, msgDuplicate)}},
		{name: "no target 3.2", version: "3.2.0", json: `{"storage":{"links":[{"path":"/l","hard":true,"user":{"id":1}}],"directories":[{"path":"/l"}]}}`,
			want: []entry{E(l, msgHardLinkDir), W(l+".user.id", msgHardLinkOwner), E(l, msgDuplicate)}},
	})
}

func TestSystemdPathConflicts(t *testing.T) {
	units := `"systemd":{"units":[{"name":"a.service","contents":"[Service]\nExecStart=/bin/true\n","dropins":[{"name":"x.conf","contents":"[Unit]\n"},{"name":"y.conf"}]},{"name":"b.service","enabled":true}]}`
	runCases(t, []ruleCase{
		{name: "file on unit", json: `{` + units + `,"storage":{"files":[{"path":"/etc/systemd/system/a.service"}]}}`,
			want: []entry{E("$.storage.files.0.path", msgSystemdPath)}},
		{name: "directory on drop-in", json: `{` + units + `,"storage":{"directories":[{"path":"/etc/systemd/system/a.service.d/x.conf"}]}}`,
			want: []entry{E("$.storage.directories.0.path", msgSystemdPath)}},
		{name: "link on unit", json: `{` + units + `,"storage":{"links":[{"path":"/etc/systemd/system/a.service","target":"/dev/null"}]}}`,
			want: []entry{E("$.storage.links.0.path", msgSystemdPath)}},
		{name: "drop-in without contents", json: `{` + units + `,"storage":{"files":[{"path":"/etc/systemd/system/a.service.d/y.conf"}]}}`},
		{name: "unit without contents", json: `{` + units + `,"storage":{"links":[{"path":"/etc/systemd/system/b.service","target":"/dev/null"}]}}`},
		{name: "drop-in directory", json: `{` + units + `,"storage":{"directories":[{"path":"/etc/systemd/system/a.service.d"}]}}`},
		// Reported before anything else: it is a rule of the whole config.
		{name: "order", json: `{` + units + `,"storage":{"links":[{"path":"/etc/systemd/system/a.service"}],"files":[{"path":"/etc/systemd/system/a.service.d/x.conf"}]}}`,
			want: []entry{E("$.storage.files.0.path", msgSystemdPath), E("$.storage.links.0.path", msgSystemdPath), E("$.storage.links.0.target", msgLinkTarget)}},
	})
}
