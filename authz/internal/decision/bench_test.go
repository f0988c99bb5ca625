package decision_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/secureai-nexus/nexus/authz/internal/auditfeed"
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

// BenchmarkEngineCheckAnchoring is BenchmarkEngineCheck with what the
// audit log's anchoring adds to a decision: the caller's last decision
// recorded for the access review, and the decision log's head read as the
// control plane's pull does (here far more often than its once a minute).
func BenchmarkEngineCheckAnchoring(b *testing.B) {
	for _, anchored := range []bool{false, true} {
		name := "baseline"
		if anchored {
			name = "anchored"
		}
		b.Run(name, func(b *testing.B) {
			e := shippedEngine(b)
			f, err := os.Create(filepath.Join(b.TempDir(), "decisions.log"))
			if err != nil {
				b.Fatal(err)
			}
			l := decisionlog.New(f, "", 1<<16, nopCounters{})
			e.Log = l
			done := make(chan struct{})
			if anchored {
				e.Callers = &auditfeed.Callers{}
				feed := auditfeed.New(l.Head, 1024, nil)
				go func() {
					t := time.NewTicker(10 * time.Millisecond)
					defer t.Stop()
					for {
						select {
						case <-done:
							return
						case <-t.C:
							_ = feed.Since(0)
						}
					}
				}()
			}
			req := benchRequest()
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Check(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
			close(done)
			l.Close()
		})
	}
}
