package audit

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// Checkpoint is a C2SP tlog-checkpoint: the log's origin, its size and
// its root hash, signed as a note.
type Checkpoint struct {
	Origin string
	Size   int64
	Root   Hash
}

// Text is the checkpoint's body as the format writes it.
func (c Checkpoint) Text() string {
	return fmt.Sprintf("%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root[:]))
}

// ParseCheckpoint reads a checkpoint's body.
func ParseCheckpoint(text string) (Checkpoint, error) {
	lines := strings.SplitN(text, "\n", 4)
	if len(lines) < 4 || lines[0] == "" {
		return Checkpoint{}, errors.New("checkpoint: want origin, size and root hash on three lines")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 {
		return Checkpoint{}, fmt.Errorf("checkpoint: size %q is not a count", lines[1])
	}
	raw, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(raw) != len(Hash{}) {
		return Checkpoint{}, fmt.Errorf("checkpoint: root hash %q is not 32 bytes of base64", lines[2])
	}
	c := Checkpoint{Origin: lines[0], Size: size}
	copy(c.Root[:], raw)
	return c, nil
}

// Signer signs checkpoints with an Ed25519 note key.
type Signer struct {
	signer   note.Signer
	Verifier string // the verifier key, "name+hash+base64", to publish
}

// LoadOrCreateSigner reads the note signing key at path, creating it
// (0600) named name on first use.
func LoadOrCreateSigner(path, name string) (*Signer, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		skey, vkey, err := note.GenerateKey(rand.Reader, name)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, []byte(skey+"\n"+vkey+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("write checkpoint key: %w", err)
		}
		raw = []byte(skey + "\n" + vkey + "\n")
	} else if err != nil {
		return nil, fmt.Errorf("read checkpoint key: %w", err)
	}
	parts := strings.Fields(string(raw))
	if len(parts) != 2 {
		return nil, fmt.Errorf("checkpoint key %s: want the signer and verifier keys", path)
	}
	s, err := note.NewSigner(parts[0])
	if err != nil {
		return nil, fmt.Errorf("checkpoint key %s: %w", path, err)
	}
	return &Signer{signer: s, Verifier: parts[1]}, nil
}

// Sign returns the signed checkpoint note.
func (s *Signer) Sign(c Checkpoint) ([]byte, error) {
	return note.Sign(&note.Note{Text: c.Text()}, s.signer)
}

// OpenCheckpoint verifies a signed checkpoint with the verifier key and
// parses it.
func OpenCheckpoint(signed []byte, verifierKey string) (Checkpoint, error) {
	v, err := note.NewVerifier(verifierKey)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("verifier key: %w", err)
	}
	n, err := note.Open(bytes.TrimSpace(signed), note.VerifierList(v))
	if err != nil {
		// note.Open wants the trailing newline the note format ends with.
		if n2, err2 := note.Open(append(bytes.TrimSpace(signed), '\n'), note.VerifierList(v)); err2 == nil {
			n, err = n2, nil
		}
	}
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint signature: %w", err)
	}
	return ParseCheckpoint(n.Text)
}

// VerifyInclusion checks an inclusion proof of leaf at index against a
// tree of size with root (RFC 9162's algorithm).
func VerifyInclusion(leaf Hash, index, size int64, root Hash, proof []Hash) error {
	if index < 0 || index >= size {
		return ErrProofRange
	}
	fn, sn := index, size-1
	r := leaf
	for _, p := range proof {
		if sn == 0 {
			return errors.New("inclusion proof is too long")
		}
		if fn&1 == 1 || fn == sn {
			r = nodeHash(p, r)
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			r = nodeHash(r, p)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 || r != root {
		return errors.New("inclusion proof does not lead to the checkpoint's root")
	}
	return nil
}

// VerifyConsistency checks that the tree of size2 with root2 extends the
// tree of size1 with root1 (RFC 9162's algorithm).
func VerifyConsistency(size1, size2 int64, root1, root2 Hash, proof []Hash) error {
	switch {
	case size1 < 1 || size2 < size1:
		return ErrProofRange
	case size1 == size2:
		if len(proof) != 0 || root1 != root2 {
			return errors.New("consistency proof of equal sizes must be empty and the roots equal")
		}
		return nil
	case len(proof) == 0:
		return errors.New("empty consistency proof")
	}
	if size1&(size1-1) == 0 { // a power of two: the old root is a node of the new tree
		proof = append([]Hash{root1}, proof...)
	}
	fn, sn := size1-1, size2-1
	for fn&1 == 1 {
		fn >>= 1
		sn >>= 1
	}
	fr, sr := proof[0], proof[0]
	for _, c := range proof[1:] {
		if sn == 0 {
			return errors.New("consistency proof is too long")
		}
		if fn&1 == 1 || fn == sn {
			fr = nodeHash(c, fr)
			sr = nodeHash(c, sr)
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			sr = nodeHash(sr, c)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 || fr != root1 || sr != root2 {
		return errors.New("consistency proof does not join the two checkpoints")
	}
	return nil
}
