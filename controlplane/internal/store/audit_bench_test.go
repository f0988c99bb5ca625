package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/audit"
	"github.com/secureai-nexus/nexus/controlplane/internal/store"
)

// BenchmarkAuditAppend is one audited change as the admin API makes it:
// a transaction with SQLite's full fsync, the record sealed into the
// chain and its Merkle tree nodes written.
func BenchmarkAuditAppend(b *testing.B) {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	after, _ := json.Marshal(map[string]uint32{"v1": 90, "v2": 10})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := st.Append(ctx, audit.Entry{Time: time.Now(), Actor: "token:local-admin", Action: "traffic.set", Target: "models/triage", After: after}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}

var (
	bigLogOnce sync.Once
	bigLog     *store.SQLite
	bigLogErr  error
)

// million is a log of 10⁶ records, built once per benchmark run.
func million(b *testing.B) *store.SQLite {
	bigLogOnce.Do(func() {
		dir, err := os.MkdirTemp("", "nexus-audit-bench-")
		if err != nil {
			bigLogErr = err
			return
		}
		ctx := context.Background()
		if bigLog, bigLogErr = store.OpenSQLite(ctx, dir); bigLogErr != nil {
			return
		}
		after, _ := json.Marshal(map[string]uint32{"v1": 90, "v2": 10})
		t0 := time.Now()
		bigLogErr = bigLog.AppendBulk(ctx, 1_000_000, func(i int) audit.Entry {
			return audit.Entry{Time: t0.Add(time.Duration(i) * time.Millisecond), Actor: "token:local-admin", Action: "traffic.set", Target: fmt.Sprintf("models/m%d", i%50), After: after}
		})
	})
	if bigLogErr != nil {
		b.Fatal(bigLogErr)
	}
	return bigLog
}

// BenchmarkAuditProofs serves a checkpoint's root and proofs at 10⁶
// records from the stored tree; "whole-log" is the same proof computed
// from every record read back (the baseline, measured in the same run).
func BenchmarkAuditProofs(b *testing.B) {
	ctx := context.Background()
	st := million(b)
	size, err := st.AuditSize(ctx)
	if err != nil || size != 1_000_000 {
		b.Fatalf("size %d, %v", size, err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	b.Run("checkpoint-root", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := audit.TreeRoot(ctx, st, size); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("inclusion", func(b *testing.B) {
		var hashes int
		for i := 0; i < b.N; i++ {
			p, err := audit.TreeInclusionProof(ctx, st, rng.Int64N(size), size, size)
			if err != nil {
				b.Fatal(err)
			}
			hashes = len(p)
		}
		b.ReportMetric(float64(hashes*32), "proof-bytes")
	})
	b.Run("consistency", func(b *testing.B) {
		var hashes int
		for i := 0; i < b.N; i++ {
			p, err := audit.TreeConsistencyProof(ctx, st, 1+rng.Int64N(size-1), size, size)
			if err != nil {
				b.Fatal(err)
			}
			hashes = len(p)
		}
		b.ReportMetric(float64(hashes*32), "proof-bytes")
	})
	b.Run("inclusion-whole-log", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			var leaves []audit.Hash
			for after := int64(0); ; {
				recs, err := st.Audit(ctx, after, 1000)
				if err != nil {
					b.Fatal(err)
				}
				for _, r := range recs {
					leaves = append(leaves, audit.RecordLeaf(r))
					after = r.Seq
				}
				if len(recs) < 1000 {
					break
				}
			}
			if _, err := audit.InclusionProof(leaves, int(rng.Int64N(size)), int(size)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
