package config

import (
	"encoding/json"
	"testing"

	"github.com/ignition-go/ignition/config/internal/testconfig"
	"github.com/ignition-go/ignition/config/types"
)

// bigConfig returns testconfig.Big as JSON.
func bigConfig(files, units, users int) []byte {
	raw, err := json.MarshalIndent(testconfig.Big(files, 0, units, users), "", "  ")
	if err != nil {
		panic(err)
	}
	return raw
}

func TestBigConfigIsValid(t *testing.T) {
	raw := bigConfig(50, 5, 2)
	if _, r, err := Parse(raw); err != nil || len(r.Entries) != 0 {
		t.Fatalf("%v %q", err, lines(r))
	}
}

// BenchmarkParseValidate parses and validates a ~10 MB config with 5,000
// files, 500 units and 100 users.
func BenchmarkParseValidate(b *testing.B) {
	raw := bigConfig(5000, 500, 100)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := Parse(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodingJSONBaseline is plain encoding/json decoding of the same
// config into the same types: no positions, no version gating, no rules. It
// is the yardstick for BenchmarkParseValidate (compare the two as a ratio).
func BenchmarkEncodingJSONBaseline(b *testing.B) {
	raw := bigConfig(5000, 500, 100)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var cfg types.Config
		if err := json.Unmarshal(raw, &cfg); err != nil {
			b.Fatal(err)
		}
	}
}
