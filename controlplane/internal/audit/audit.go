// Package audit defines the append-only, hash-chained record of every change
// made through the control plane. Each record's hash covers its content and
// the previous record's hash, so editing, removing or reordering any record
// breaks the chain at that point and Verify says where.
package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// GenesisHash is the previous-hash of the first record.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// Entry is one change: who did what to which target, with the state before
// and after.
type Entry struct {
	Time   time.Time       `json:"time"`
	Actor  string          `json:"actor"`
	Action string          `json:"action"`
	Target string          `json:"target"`
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`
}

// Record is an entry as stored: its place in the chain and its hash.
type Record struct {
	Seq      int64  `json:"seq"`
	PrevHash string `json:"prev_hash"`
	Hash     string `json:"hash"`
	Entry
}

// Seal places e after prev (nil for the first record) and computes its hash.
func Seal(prev *Record, e Entry) (Record, error) {
	r := Record{Seq: 1, PrevHash: GenesisHash, Entry: e}
	if prev != nil {
		r.Seq = prev.Seq + 1
		r.PrevHash = prev.Hash
	}
	r.Time = r.Time.UTC().Truncate(time.Microsecond)
	h, err := hash(r)
	if err != nil {
		return Record{}, err
	}
	r.Hash = h
	return r, nil
}

// hash covers every field but the hash itself, in a fixed encoding: JSON of
// a struct (field order is fixed) with before/after compacted, so
// whitespace a store adds or drops does not matter but any content change
// does.
func hash(r Record) (string, error) {
	compact := func(raw json.RawMessage) (json.RawMessage, error) {
		if len(raw) == 0 {
			return nil, nil
		}
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			return nil, fmt.Errorf("audit record %d: before/after is not JSON: %w", r.Seq, err)
		}
		return b.Bytes(), nil
	}
	before, err := compact(r.Before)
	if err != nil {
		return "", err
	}
	after, err := compact(r.After)
	if err != nil {
		return "", err
	}
	doc, err := json.Marshal(struct {
		Seq      int64           `json:"seq"`
		PrevHash string          `json:"prev_hash"`
		Time     string          `json:"time"`
		Actor    string          `json:"actor"`
		Action   string          `json:"action"`
		Target   string          `json:"target"`
		Before   json.RawMessage `json:"before"`
		After    json.RawMessage `json:"after"`
	}{r.Seq, r.PrevHash, r.Time.UTC().Format(time.RFC3339Nano), r.Actor, r.Action, r.Target, before, after})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(doc)
	return hex.EncodeToString(sum[:]), nil
}

// Verification is the result of checking a chain.
type Verification struct {
	OK      bool   `json:"ok"`
	Records int64  `json:"records"`
	Head    string `json:"head,omitempty"`
	// BrokenAt is the sequence number of the first record that does not
	// verify, and Reason says why.
	BrokenAt int64  `json:"broken_at,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// Verifier checks records fed to it in sequence order.
type Verifier struct {
	prev *Record
	v    Verification
}

// Add checks the next record. It returns false once the chain is broken.
func (c *Verifier) Add(r Record) bool {
	if c.v.BrokenAt != 0 {
		return false
	}
	c.v.Records++
	wantSeq, wantPrev := int64(1), GenesisHash
	if c.prev != nil {
		wantSeq, wantPrev = c.prev.Seq+1, c.prev.Hash
	}
	switch h, err := hash(r); {
	case r.Seq != wantSeq:
		c.breakAt(wantSeq, fmt.Sprintf("record %d is missing (found %d next)", wantSeq, r.Seq))
	case r.PrevHash != wantPrev:
		c.breakAt(r.Seq, "previous-hash does not match the record before it")
	case err != nil:
		c.breakAt(r.Seq, err.Error())
	case h != r.Hash:
		c.breakAt(r.Seq, "content does not match its hash (edited)")
	default:
		rc := r
		c.prev = &rc
		return true
	}
	return false
}

func (c *Verifier) breakAt(seq int64, reason string) {
	c.v.BrokenAt, c.v.Reason = seq, reason
}

// Result returns the verification so far.
func (c *Verifier) Result() Verification {
	v := c.v
	v.OK = v.BrokenAt == 0
	if c.prev != nil {
		v.Head = c.prev.Hash
	}
	return v
}
