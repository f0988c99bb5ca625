package decision_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/secureai-nexus/nexus/authz/internal/decisionlog"
)

type nopCounters struct{}

func (nopCounters) LogDropped()    {}
func (nopCounters) LogWriteError() {}

// BenchmarkEngineCheck is one decision without gRPC: input conversion,
// evaluation of the shipped policy, response mapping, and the decision log
// line written to a file (its cost lands on the writer goroutine).
func BenchmarkEngineCheck(b *testing.B) {
	e := shippedEngine(b)
	f, err := os.Create(filepath.Join(b.TempDir(), "decisions.log"))
	if err != nil {
		b.Fatal(err)
	}
	l := decisionlog.New(f, "", 1<<16, nopCounters{})
	e.Log = l
	req := benchRequest()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Check(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
	l.Close()
}
