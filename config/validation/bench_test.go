package validation_test

import (
	"testing"
	"time"

	"github.com/ignition-go/ignition/config/internal/testconfig"
	"github.com/ignition-go/ignition/config/v3_6"
	"github.com/ignition-go/ignition/config/validation"
)

// TestBigConfigIsFast guards against quadratic checks creeping in: the
// config below takes a few milliseconds to validate, so even a slow,
// loaded machine stays far below the limit, while a check quadratic in the
// number of files (25 million path comparisons) would not.
func TestBigConfigIsFast(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	cfg := testconfig.Big(20000, 2000, 500, 100)
	start := time.Now()
	r := validation.Validate(cfg, &v3_6.Spec)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("validation took %v", d)
	}
	if len(r.Entries) != 0 {
		t.Fatalf("unexpected entries: %v", r)
	}
}

func BenchmarkValidate(b *testing.B) {
	cfg := testconfig.Big(5000, 100, 500, 100)
	b.ReportAllocs()
	for b.Loop() {
		if r := validation.Validate(cfg, &v3_6.Spec); len(r.Entries) != 0 {
			b.Fatal(r)
		}
	}
}
