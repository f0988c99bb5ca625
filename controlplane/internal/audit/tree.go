package audit

import (
	"context"
	"fmt"
	"math/bits"
)

// Nodes reads the hashes of a log's perfect subtrees: level ℓ, index i is
// the Merkle tree hash of leaves [i·2^ℓ, (i+1)·2^ℓ). A store keeps them as
// records are appended (TreeAppend says which to write), so a checkpoint
// or a proof reads O(log² n) hashes instead of the whole log.
type Nodes interface {
	Node(ctx context.Context, level int, index int64) (Hash, error)
}

// TreeNode is one stored perfect-subtree hash.
type TreeNode struct {
	Level int
	Index int64
	Hash  Hash
}

// TreeAppend returns the nodes that appending leaf (at index) completes:
// the leaf itself, then each parent whose right child it completes.
// sibling reads an existing node.
func TreeAppend(ctx context.Context, index int64, leaf Hash, sibling Nodes) ([]TreeNode, error) {
	out := []TreeNode{{0, index, leaf}}
	h, level, i := leaf, 0, index
	for i&1 == 1 {
		left, err := sibling.Node(ctx, level, i-1)
		if err != nil {
			return nil, fmt.Errorf("audit tree: node %d/%d: %w", level, i-1, err)
		}
		h, level, i = nodeHash(left, h), level+1, i>>1
		out = append(out, TreeNode{level, i, h})
	}
	return out, nil
}

// SubtreeHash is the Merkle tree hash of leaves [lo, hi). In RFC 6962's
// recursion from [0, n) every left part is an aligned perfect subtree, so
// the range is a stored node or a node and a smaller range.
func SubtreeHash(ctx context.Context, n Nodes, lo, hi int64) (Hash, error) {
	size := hi - lo
	if size <= 0 {
		return Hash{}, fmt.Errorf("%w: empty range %d..%d", ErrProofRange, lo, hi)
	}
	if size&(size-1) == 0 && lo%size == 0 {
		return n.Node(ctx, bits.TrailingZeros64(uint64(size)), lo/size)
	}
	k := int64(split(int(size)))
	left, err := SubtreeHash(ctx, n, lo, lo+k)
	if err != nil {
		return Hash{}, err
	}
	right, err := SubtreeHash(ctx, n, lo+k, hi)
	if err != nil {
		return Hash{}, err
	}
	return nodeHash(left, right), nil
}

// TreeRoot is the root of the tree of the first size leaves.
func TreeRoot(ctx context.Context, n Nodes, size int64) (Hash, error) {
	if size == 0 {
		return RootHash(nil), nil
	}
	return SubtreeHash(ctx, n, 0, size)
}

// TreeInclusionProof is InclusionProof over stored nodes, in a log that
// has logSize leaves.
func TreeInclusionProof(ctx context.Context, n Nodes, index, size, logSize int64) ([]Hash, error) {
	if size < 1 || size > logSize || index < 0 || index >= size {
		return nil, fmt.Errorf("%w: leaf %d of a tree of %d (the log has %d)", ErrProofRange, index, size, logSize)
	}
	var proof []Hash
	lo, hi := int64(0), size
	// Walk down from the root, collecting the sibling of each step; the
	// proof lists them leaf first.
	for hi-lo > 1 {
		k := int64(split(int(hi - lo)))
		var sib Hash
		var err error
		if index < lo+k {
			sib, err = SubtreeHash(ctx, n, lo+k, hi)
			hi = lo + k
		} else {
			sib, err = SubtreeHash(ctx, n, lo, lo+k)
			lo += k
		}
		if err != nil {
			return nil, err
		}
		proof = append(proof, sib)
	}
	reverse(proof)
	return proof, nil
}

// TreeConsistencyProof is ConsistencyProof over stored nodes.
func TreeConsistencyProof(ctx context.Context, n Nodes, from, to, logSize int64) ([]Hash, error) {
	if from < 1 || from > to || to > logSize {
		return nil, fmt.Errorf("%w: from %d to %d (the log has %d)", ErrProofRange, from, to, logSize)
	}
	var proof []Hash
	lo, hi, m, whole := int64(0), to, from, true
	for {
		size := hi - lo
		if m == size {
			if !whole {
				h, err := SubtreeHash(ctx, n, lo, hi)
				if err != nil {
					return nil, err
				}
				proof = append(proof, h)
			}
			break
		}
		k := int64(split(int(size)))
		var sib Hash
		var err error
		if m <= k {
			sib, err = SubtreeHash(ctx, n, lo+k, hi)
			hi = lo + k
		} else {
			sib, err = SubtreeHash(ctx, n, lo, lo+k)
			lo, m, whole = lo+k, m-k, false
		}
		if err != nil {
			return nil, err
		}
		proof = append(proof, sib)
	}
	reverse(proof)
	return proof, nil
}

func reverse(p []Hash) {
	for i, j := 0, len(p)-1; i < j; i, j = i+1, j-1 {
		p[i], p[j] = p[j], p[i]
	}
}

// MemoryNodes keeps a tree's nodes in memory (tests, tools).
type MemoryNodes map[[2]int64]Hash

// Node implements Nodes.
func (m MemoryNodes) Node(_ context.Context, level int, index int64) (Hash, error) {
	h, ok := m[[2]int64{int64(level), index}]
	if !ok {
		return Hash{}, fmt.Errorf("%w: no node %d/%d", ErrProofRange, level, index)
	}
	return h, nil
}

// Append adds the next leaf at index.
func (m MemoryNodes) Append(ctx context.Context, index int64, leaf Hash) error {
	nodes, err := TreeAppend(ctx, index, leaf, m)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		m[[2]int64{int64(n.Level), n.Index}] = n.Hash
	}
	return nil
}
