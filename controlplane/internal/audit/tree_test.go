package audit

import (
	"context"
	"fmt"
	"slices"
	"testing"
)

// The stored-node proofs are the same proofs as the whole-log ones (which
// are held to golang.org/x/mod/sumdb/tlog in TestMerkleAgainstTlog), at
// every size, index and pair of sizes up to 70.
func TestTreeProofsMatchWholeLogProofs(t *testing.T) {
	ctx := context.Background()
	const n = 70
	var leaves []Hash
	nodes := MemoryNodes{}
	for i := range n {
		leaf := LeafHash([]byte(fmt.Sprintf("record %d", i)))
		leaves = append(leaves, leaf)
		if err := nodes.Append(ctx, int64(i), leaf); err != nil {
			t.Fatal(err)
		}
	}
	for size := 1; size <= n; size++ {
		root, err := TreeRoot(ctx, nodes, int64(size))
		if err != nil || root != RootHash(leaves[:size]) {
			t.Fatalf("size %d: root %x (%v), want %x", size, root, err, RootHash(leaves[:size]))
		}
		for index := range size {
			got, err := TreeInclusionProof(ctx, nodes, int64(index), int64(size), n)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := InclusionProof(leaves, index, size)
			if !slices.Equal(got, want) {
				t.Fatalf("inclusion %d in %d: %x, want %x", index, size, got, want)
			}
		}
		for from := 1; from <= size; from++ {
			got, err := TreeConsistencyProof(ctx, nodes, int64(from), int64(size), n)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := ConsistencyProof(leaves, from, size)
			if !slices.Equal(got, want) {
				t.Fatalf("consistency %d→%d: %x, want %x", from, size, got, want)
			}
		}
	}
	if _, err := TreeInclusionProof(ctx, nodes, 5, 71, n); err == nil {
		t.Fatal("a tree larger than the log was proved")
	}
	if _, err := TreeConsistencyProof(ctx, nodes, 0, 3, n); err == nil {
		t.Fatal("a consistency proof from 0 was made")
	}
	if r, _ := TreeRoot(ctx, nodes, 0); r != RootHash(nil) {
		t.Fatal("empty tree root")
	}
}
