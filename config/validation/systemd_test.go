package validation_test

import (
	"strings"
	"testing"
)

func units(list string) string { return `{"systemd":{"units":[` + list + `]}}` }

func TestUnitNames(t *testing.T) {
	var ok []string
	for _, ext := range []string{"service", "socket", "device", "mount", "automount", "swap", "target", "path", "timer", "snapshot", "slice", "scope"} {
		ok = append(ok, `{"name":"u.`+ext+`"}`)
	}
	at := "$.systemd.units.0.name"
	runCases(t, []ruleCase{
		{name: "every type", json: units(strings.Join(ok, ","))},
		{name: "dotted", json: units(`{"name":"a.b.c.service"}`)},
		{name: "no extension", json: units(`{"name":"foo"}`), want: []entry{E(at, msgUnitExt)}},
		{name: "unknown extension", json: units(`{"name":"foo.conf"}`), want: []entry{E(at, msgUnitExt)}},
		{name: "case", json: units(`{"name":"foo.Service"}`), want: []entry{E(at, msgUnitExt)}},
		{name: "empty", json: units(`{"name":""}`), want: []entry{E(at, msgUnitExt)}},
	})
}

func TestUnitContents(t *testing.T) {
	u := "$.systemd.units.0"
	const install = `[Unit]\nDescription=x\n\n[Install]\nWantedBy=multi-user.target\n`
	const noInstall = `[Unit]\nDescription=x\n`
	runCases(t, []ruleCase{
		{name: "ok", json: units(`{"name":"a.service","enabled":true,"contents":"` + install + `"}`)},
		{name: "empty contents", json: units(`{"name":"a.service","enabled":true,"contents":""}`)},
		{name: "no contents", json: units(`{"name":"a.service","enabled":true}`)},
		{name: "mask only", json: units(`{"name":"a.service","mask":true}`)},
		{name: "unterminated section", json: units(`{"name":"a.service","contents":"[Unit"}`),
			want: []entry{E(u+".contents", "invalid unit content: unable to find end of section")}},
		{name: "garbage after section", json: units(`{"name":"a.service","contents":"[Unit] x\n"}`),
			want: []entry{E(u+".contents", `invalid unit content: found garbage after section name : "x"`)}},
		{name: "option without value", json: units(`{"name":"a.service","contents":"[Unit]\nfoo"}`),
			want: []entry{E(u+".contents", "invalid unit content: EOF")}},
		{name: "option name across lines", json: units(`{"name":"a.service","contents":"[Unit]\nfoo\nbar=1\n"}`),
			want: []entry{E(u+".contents", "invalid unit content: unexpected newline encountered while parsing option name")}},
		{name: "long line", json: units(`{"name":"a.service","contents":"[Unit]\nDescription=` + strings.Repeat("x", 3000) + `\n"}`),
			want: []entry{E(u+".contents", "invalid unit content: line too long (max 2048 bytes)")}},
		{name: "enabled without install", json: units(`{"name":"a.service","enabled":true,"contents":"` + noInstall + `"}`),
			want: []entry{W(u+".contents", `unit "a.service" is enabled, but has no install section so enable does nothing`)}},
		{name: "name is Go-quoted", json: units(`{"name":"a\"b.service","enabled":true,"contents":"` + noInstall + `"}`),
			want: []entry{W(u+".contents", `unit "a\"b.service" is enabled, but has no install section so enable does nothing`)}},
		{name: "disabled without install", json: units(`{"name":"a.service","enabled":false,"contents":"` + noInstall + `"}`)},
		{name: "unparsable and enabled", json: units(`{"name":"a.service","enabled":true,"contents":"[Unit"}`),
			want: []entry{E(u+".contents", "invalid unit content: unable to find end of section")}},
		// Only an option in [Install] makes enabling do something.
		{name: "empty install section", json: units(`{"name":"a.service","enabled":true,"contents":"[Unit]\nA=b\n[Install]\n"}`),
			want: []entry{W(u+".contents", `unit "a.service" is enabled, but has no install section so enable does nothing`)}},
	})
}

func TestTemplateInstances(t *testing.T) {
	const noInstall = `[Unit]\nDescription=x\n`
	const install = `[Unit]\nDescription=x\n[Install]\nWantedBy=multi-user.target\n`
	at := "$.systemd.units.1.contents"
	runCases(t, []ruleCase{
		{name: "template without install", json: units(`{"name":"get@.service","contents":"` + noInstall + `"},{"name":"get@a.service","enabled":true}`),
			want: []entry{W(at, `template unit "get@.service" for "get@a.service" doesn't have Install section`)}},
		{name: "template listed after", json: units(`{"name":"a.service"},{"name":"x@y@z.service","enabled":true},{"name":"x@.service","contents":"` + noInstall + `"}`),
			want: []entry{W(at, `template unit "x@.service" for "x@y@z.service" doesn't have Install section`)}},
		{name: "template with install", json: units(`{"name":"get@.service","contents":"` + install + `"},{"name":"get@a.service","enabled":true}`)},
		{name: "instance not enabled", json: units(`{"name":"get@.service","contents":"` + noInstall + `"},{"name":"get@a.service"}`)},
		{name: "template without contents", json: units(`{"name":"get@.service"},{"name":"get@a.service","enabled":true}`)},
		{name: "template elsewhere", json: units(`{"name":"get@a.service","enabled":true}`)},
		{name: "not a service", json: units(`{"name":"get@.timer","contents":"` + noInstall + `"},{"name":"get@a.timer","enabled":true}`)},
		// Reported before the units' own rules.
		{name: "order", json: units(`{"name":"get@.service","contents":"` + noInstall + `"},{"name":"get@a.service","enabled":true},{"name":"bad"}`),
			want: []entry{W(at, `template unit "get@.service" for "get@a.service" doesn't have Install section`), E("$.systemd.units.2.name", msgUnitExt)}},
	})
}

func TestDropins(t *testing.T) {
	d := "$.systemd.units.0.dropins.0"
	dropin := func(fields string) string { return units(`{"name":"a.service","dropins":[{` + fields + `}]}`) }
	runCases(t, []ruleCase{
		{name: "ok", json: dropin(`"name":"10-a.conf","contents":"[Service]\nEnvironment=A=1\n"`)},
		{name: "no contents", json: dropin(`"name":"10-a.conf"`)},
		{name: "bad extension", json: dropin(`"name":"10-a.txt"`), want: []entry{E(d+".name", msgDropinExt)}},
		{name: "no extension", json: dropin(`"name":"conf"`), want: []entry{E(d+".name", msgDropinExt)}},
		{name: "bad contents", json: dropin(`"name":"10-a.conf","contents":"[Service"`),
			want: []entry{E(d+".contents", "invalid unit content: unable to find end of section")}},
		{name: "both", json: dropin(`"name":"x","contents":"[Service"`),
			want: []entry{E(d+".contents", "invalid unit content: unable to find end of section"), E(d+".name", msgDropinExt)}},
	})
}
