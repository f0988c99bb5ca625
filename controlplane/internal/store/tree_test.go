package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/audit"
	"github.com/secureai-nexus/nexus/controlplane/internal/store"
)

// The store keeps the audit log's Merkle tree as it appends, rebuilds it
// for a database written without one, and VerifyAudit catches a tree
// that no longer matches the records.
func TestAuditTreeIsStoredRebuiltAndVerified(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.OpenSQLite(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	var leaves []audit.Hash
	for i := range 13 {
		rec, err := st.Append(ctx, audit.Entry{Time: time.Unix(int64(i), 0), Actor: "test", Action: "note", Target: "t"})
		if err != nil {
			t.Fatal(err)
		}
		leaves = append(leaves, audit.RecordLeaf(rec))
	}
	check := func(st *store.SQLite) {
		t.Helper()
		n, err := st.AuditSize(ctx)
		if err != nil || n != 13 {
			t.Fatalf("size %d, %v", n, err)
		}
		for size := int64(1); size <= n; size++ {
			root, err := audit.TreeRoot(ctx, st, size)
			if err != nil || root != audit.RootHash(leaves[:size]) {
				t.Fatalf("root of %d: %x, %v", size, root, err)
			}
		}
		if v, err := st.VerifyAudit(ctx); err != nil || !v.OK {
			t.Fatalf("verify: %+v, %v", v, err)
		}
	}
	check(st)

	// A database from before the tree was stored.
	if err := st.EnsureSchema(ctx, `DELETE FROM audit_tree`); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if st, err = store.OpenSQLite(ctx, dir); err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	check(st)

	// An edited node: the chain still verifies, the tree does not.
	if err := st.EnsureSchema(ctx, `UPDATE audit_tree SET hash = zeroblob(32) WHERE level = 2 AND idx = 1`); err != nil {
		t.Fatal(err)
	}
	v, err := st.VerifyAudit(ctx)
	if err != nil || v.OK || v.Reason == "" {
		t.Fatalf("an edited tree node verified: %+v, %v", v, err)
	}
}
