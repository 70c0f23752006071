package exec

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOfflineLaterStagesNeedNet: a config fetch-offline assembles whole
// is cached either way; when a later stage needs the network (files or
// LUKS keys from a server, Tang binding without an advertisement, a
// custom Clevis pin that says so) the neednet flag is written as well.
func TestOfflineLaterStagesNeedNet(t *testing.T) {
	const adv = `{\"payload\":\"e30\",\"protected\":\"e30\",\"signature\":\"c2ln\"}`
	luks := func(entry string) string {
		return `{"ignition":{"version":"3.4.0"},"storage":{"luks":[` + entry + `]}}`
	}
	files := func(entry string) string {
		return `{"ignition":{"version":"3.4.0"},"storage":{"files":[` + entry + `]}}`
	}
	tests := []struct {
		name string
		cfg  string
		why  string // "" for no flag
	}{
		{"tang without advertisement",
			luks(`{"name":"data","device":"/dev/vdb","clevis":{"tang":[{"url":"http://tang.example","thumbprint":"x"}]}}`),
			"storage.luks.0 (data): clevis.tang.0 (http://tang.example) has no advertisement, which binding fetches"},
		{"second tang without advertisement",
			luks(`{"name":"data","device":"/dev/vdb","clevis":{"tang":[{"url":"http://a","thumbprint":"x","advertisement":"` + adv + `"},{"url":"http://b","thumbprint":"y"}],"threshold":1}}`),
			"storage.luks.0 (data): clevis.tang.1 (http://b) has no advertisement, which binding fetches"},
		{"tang with advertisement",
			luks(`{"name":"data","device":"/dev/vdb","clevis":{"tang":[{"url":"http://a","thumbprint":"x","advertisement":"` + adv + `"}]}}`),
			""},
		{"custom needs network",
			luks(`{"name":"data","device":"/dev/vdb"},{"name":"net","device":"/dev/vdc","clevis":{"custom":{"pin":"tang","config":"{}","needsNetwork":true}}}`),
			"storage.luks.1 (net): clevis.custom.needsNetwork"},
		{"custom without network",
			luks(`{"name":"data","device":"/dev/vdb","clevis":{"custom":{"pin":"tpm2","config":"{}","needsNetwork":false}}}`),
			""},
		{"tpm2", luks(`{"name":"data","device":"/dev/vdb","clevis":{"tpm2":true}}`), ""},
		{"key file from a server",
			luks(`{"name":"data","device":"/dev/vdb","keyFile":{"source":"https://user:pw@keys.example/data?token=s3cret"}}`),
			"storage.luks.0 (data): fetching the key file from https://REDACTED@keys.example/data?token=REDACTED"},
		{"key file in the config", luks(`{"name":"data","device":"/dev/vdb","keyFile":{"source":"data:,k"}}`), ""},
		{"file from a server",
			files(`{"path":"/etc/a","contents":{"source":"data:,a"}},{"path":"/etc/b","contents":{"source":"tftp://10.0.0.1/b"}}`),
			"storage.files.1 (/etc/b): fetching tftp://10.0.0.1/b"},
		{"fragment from a server",
			files(`{"path":"/etc/a","append":[{"source":"data:,x"},{"source":"s3://bucket/a"}]}`),
			"storage.files.0 (/etc/a): append.1: fetching s3://bucket/a"},
		{"files in the config", files(`{"path":"/etc/a","contents":{"source":"data:,a"},"append":[{"source":"data:,b"}]},{"path":"/etc/empty"}`), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHost(t)
			h.write(filepath.Join(h.local, "user.ign"), tt.cfg)
			if _, err := h.acquirer().Run(context.Background(), true); err != nil {
				t.Fatal(err)
			}
			if _, err := ReadCache(h.cache); err != nil {
				t.Errorf("no cache: %v", err)
			}
			_, err := os.Stat(h.neednet)
			logs := h.logs.String()
			if tt.why == "" {
				if !errors.Is(err, os.ErrNotExist) {
					t.Errorf("neednet written: %v\n%s", err, logs)
				}
				return
			}
			if err != nil {
				t.Errorf("no neednet flag: %v", err)
			}
			if want := tt.why + " needs the network; wrote " + h.neednet; !strings.Contains(logs, want) {
				t.Errorf("log lacks %q:\n%s", want, logs)
			}
			if strings.Contains(logs, "s3cret") || strings.Contains(logs, "pw@") {
				t.Errorf("secrets in the log:\n%s", logs)
			}

			// The fetch stage then uses the cache and fetches nothing.
			out, err := h.acquirer().Fetch(context.Background(), false)
			if err != nil || !out.FromCache {
				t.Errorf("fetch stage: from cache %v, %v", out.FromCache, err)
			}
		})
	}
}
