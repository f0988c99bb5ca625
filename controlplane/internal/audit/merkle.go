package audit

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"math/bits"
)

// The audit log is also an RFC 6962 Merkle tree: leaf i is record i+1
// (the record's chain hash, which commits to its content and everything
// before it), so a signed checkpoint of the tree's size and root proves
// every record up to it, an inclusion proof shows one record is in it,
// and a consistency proof shows a later tree extends an earlier one —
// without replaying the log.

// Hash is a Merkle tree hash.
type Hash [sha256.Size]byte

// LeafHash is RFC 6962's hash of a leaf: SHA-256(0x00 ‖ data).
func LeafHash(data []byte) Hash {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(data)
	var out Hash
	copy(out[:], h.Sum(nil))
	return out
}

// RecordLeaf is the leaf of a record: its chain hash as written.
func RecordLeaf(r Record) Hash { return LeafHash([]byte(r.Hash)) }

func nodeHash(l, r Hash) Hash {
	h := sha256.New()
	h.Write([]byte{1})
	h.Write(l[:])
	h.Write(r[:])
	var out Hash
	copy(out[:], h.Sum(nil))
	return out
}

// split is the largest power of two smaller than n (RFC 6962's k).
func split(n int) int { return 1 << (bits.Len(uint(n-1)) - 1) }

// RootHash is the Merkle tree hash of the leaves (RFC 6962 MTH); the
// empty tree's is SHA-256 of nothing.
func RootHash(leaves []Hash) Hash {
	switch len(leaves) {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return leaves[0]
	}
	k := split(len(leaves))
	return nodeHash(RootHash(leaves[:k]), RootHash(leaves[k:]))
}

// ErrProofRange is a proof asked of a tree or index that does not exist.
var ErrProofRange = errors.New("proof out of range")

// InclusionProof is RFC 6962's audit path for leaf index in the tree of
// the first size leaves.
func InclusionProof(leaves []Hash, index, size int) ([]Hash, error) {
	if size < 1 || size > len(leaves) || index < 0 || index >= size {
		return nil, fmt.Errorf("%w: leaf %d of a tree of %d (the log has %d)", ErrProofRange, index, size, len(leaves))
	}
	return path(index, leaves[:size]), nil
}

func path(m int, d []Hash) []Hash {
	if len(d) <= 1 {
		return nil
	}
	k := split(len(d))
	if m < k {
		return append(path(m, d[:k]), RootHash(d[k:]))
	}
	return append(path(m-k, d[k:]), RootHash(d[:k]))
}

// ConsistencyProof is RFC 6962's proof that the tree of the first from
// leaves is a prefix of the tree of the first to leaves.
func ConsistencyProof(leaves []Hash, from, to int) ([]Hash, error) {
	if from < 1 || from > to || to > len(leaves) {
		return nil, fmt.Errorf("%w: from %d to %d (the log has %d)", ErrProofRange, from, to, len(leaves))
	}
	return subproof(from, leaves[:to], true), nil
}

func subproof(m int, d []Hash, whole bool) []Hash {
	n := len(d)
	if m == n {
		if whole {
			return nil
		}
		return []Hash{RootHash(d)}
	}
	k := split(n)
	if m <= k {
		return append(subproof(m, d[:k], whole), RootHash(d[k:]))
	}
	return append(subproof(m-k, d[k:], false), RootHash(d[:k]))
}

// NodeHash is RFC 6962's hash of an interior node: SHA-256(0x01 ‖ l ‖ r).
func NodeHash(l, r Hash) Hash { return nodeHash(l, r) }
