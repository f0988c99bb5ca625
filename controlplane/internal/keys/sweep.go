package keys

import (
	"time"
)

// KeyState is what the sweeper decides on: a DEK's place and whether it
// is already destroyed.
type KeyState struct {
	ID          string
	Class       string
	Subject     string
	BucketStart time.Time
	BucketEnd   time.Time
	CreatedAt   time.Time
	Destroyed   bool
}

func state(r row) KeyState {
	return KeyState{ID: r.ID, Class: r.Class, Subject: r.Subject, BucketStart: r.BucketStart, BucketEnd: r.BucketEnd,
		CreatedAt: r.CreatedAt, Destroyed: !r.DestroyedAt.IsZero()}
}

// Plan is the sweeper's decision.
type Plan struct {
	// Destroy are the DEKs past retention and not held.
	Destroy []KeyState
	// Held are past retention but kept, each by the first hold covering it.
	Held []HeldKey
	// Unknown are DEKs of a class the configuration no longer has: kept,
	// since destruction cannot be undone, and reported.
	Unknown []KeyState
}

// HeldKey is a DEK a legal hold keeps.
type HeldKey struct {
	Key  KeyState
	Hold string
}

// Decide says which DEKs to destroy at now: those whose bucket ended more
// than their class's retention ago, unless a hold in force covers them.
// Per-subject DEKs are destroyed only by erasure.
func Decide(keys []KeyState, holds []Hold, classes map[string]Class, now time.Time) Plan {
	var p Plan
	for _, k := range keys {
		if k.Destroyed {
			continue
		}
		cl, ok := classes[k.Class]
		if !ok {
			p.Unknown = append(p.Unknown, k)
			continue
		}
		if cl.PerSubject || k.BucketEnd.IsZero() || now.Sub(k.BucketEnd) <= cl.Retention {
			continue
		}
		if h, held := heldBy(k, holds); held {
			p.Held = append(p.Held, HeldKey{Key: k, Hold: h})
			continue
		}
		p.Destroy = append(p.Destroy, k)
	}
	return p
}

// heldBy returns the first hold in force covering k.
func heldBy(k KeyState, holds []Hold) (string, bool) {
	for _, h := range holds {
		if h.Covers(k) {
			return h.ID, true
		}
	}
	return "", false
}

// Covers says whether h, in force, keeps k: same class, the same subject
// when h names one, and a time range (when h has one) overlapping k's
// bucket, or holding its creation for a per-subject key.
func (h Hold) Covers(k KeyState) bool {
	if h.LiftedAt != nil || h.Class != k.Class {
		return false
	}
	if h.Subject != "" && h.Subject != k.Subject {
		return false
	}
	start, end := k.BucketStart, k.BucketEnd
	if start.IsZero() {
		start, end = k.CreatedAt, k.CreatedAt.Add(time.Nanosecond)
	}
	if h.From != nil && !end.After(*h.From) {
		return false
	}
	if h.To != nil && !start.Before(*h.To) {
		return false
	}
	return true
}
