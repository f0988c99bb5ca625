package audit

import (
	"fmt"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// tlogTree builds the same log with Go's own transparency-log package
// (golang.org/x/mod/sumdb/tlog, the checksum database's), an independent
// implementation of RFC 6962 to hold ours to.
func tlogTree(t *testing.T, data [][]byte) tlog.HashReader {
	t.Helper()
	var stored []tlog.Hash
	r := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = stored[x]
		}
		return out, nil
	})
	for i, d := range data {
		hs, err := tlog.StoredHashes(int64(i), d, r)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, hs...)
	}
	return r
}

func TestMerkleAgainstTlog(t *testing.T) {
	const n = 70
	var data [][]byte
	var leaves []Hash
	for i := range n {
		d := []byte(fmt.Sprintf("record %d", i))
		data = append(data, d)
		leaves = append(leaves, LeafHash(d))
	}
	r := tlogTree(t, data)
	for size := 1; size <= n; size++ {
		th, err := tlog.TreeHash(int64(size), r)
		if err != nil {
			t.Fatal(err)
		}
		root := RootHash(leaves[:size])
		if Hash(th) != root {
			t.Fatalf("size %d: root %x, tlog %x", size, root, th)
		}
		for index := 0; index < size; index++ {
			p, err := InclusionProof(leaves, index, size)
			if err != nil {
				t.Fatal(err)
			}
			if err := tlog.CheckRecord(toTlog(p), int64(size), th, int64(index), tlog.Hash(leaves[index])); err != nil {
				t.Fatalf("tlog refuses our inclusion proof of %d in %d: %v", index, size, err)
			}
			if err := VerifyInclusion(leaves[index], int64(index), int64(size), root, p); err != nil {
				t.Fatalf("our verifier refuses our proof of %d in %d: %v", index, size, err)
			}
			theirs, _ := tlog.ProveRecord(int64(size), int64(index), r)
			if err := VerifyInclusion(leaves[index], int64(index), int64(size), root, fromTlog(theirs)); err != nil {
				t.Fatalf("our verifier refuses tlog's proof of %d in %d: %v", index, size, err)
			}
		}
		for from := 1; from <= size; from++ {
			p, err := ConsistencyProof(leaves, from, size)
			if err != nil {
				t.Fatal(err)
			}
			oldRoot := RootHash(leaves[:from])
			if err := tlog.CheckTree(tlog.TreeProof(toTlog(p)), int64(size), th, int64(from), tlog.Hash(oldRoot)); err != nil {
				t.Fatalf("tlog refuses our consistency proof %d→%d: %v", from, size, err)
			}
			if err := VerifyConsistency(int64(from), int64(size), oldRoot, root, p); err != nil {
				t.Fatalf("our verifier refuses our proof %d→%d: %v", from, size, err)
			}
		}
	}
	// Forgeries fail.
	p, _ := InclusionProof(leaves, 5, 40)
	if err := VerifyInclusion(LeafHash([]byte("forged")), 5, 40, RootHash(leaves[:40]), p); err == nil {
		t.Error("a forged leaf passed")
	}
	c, _ := ConsistencyProof(leaves, 13, 40)
	if err := VerifyConsistency(13, 40, RootHash(leaves[:12]), RootHash(leaves[:40]), c); err == nil {
		t.Error("a wrong old root passed")
	}
	if _, err := InclusionProof(leaves, 40, 40); err == nil {
		t.Error("an index past the tree passed")
	}
}

func TestCheckpointNote(t *testing.T) {
	s, err := LoadOrCreateSigner(t.TempDir()+"/key", "nexus.local/audit")
	if err != nil {
		t.Fatal(err)
	}
	c := Checkpoint{Origin: "nexus.local/audit", Size: 3, Root: LeafHash([]byte("x"))}
	signed, err := s.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := OpenCheckpoint(signed, s.Verifier)
	if err != nil || got != c {
		t.Fatalf("open: %+v %v\n%s", got, err, signed)
	}
	bad := append([]byte(nil), signed...)
	bad[len("nexus.local/audit\n")] = '4' // size 3 → 4
	if _, err := OpenCheckpoint(bad, s.Verifier); err == nil {
		t.Error("an edited checkpoint verified")
	}
	other, _ := LoadOrCreateSigner(t.TempDir()+"/key", "nexus.local/audit")
	if _, err := OpenCheckpoint(signed, other.Verifier); err == nil {
		t.Error("another key verified the checkpoint")
	}
}

func toTlog(p []Hash) tlog.RecordProof {
	out := make(tlog.RecordProof, len(p))
	for i, h := range p {
		out[i] = tlog.Hash(h)
	}
	return out
}

func fromTlog(p tlog.RecordProof) []Hash {
	out := make([]Hash, len(p))
	for i, h := range p {
		out[i] = Hash(h)
	}
	return out
}
