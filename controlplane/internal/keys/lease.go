package keys

import (
	"context"
	"fmt"
	"time"
)

// Lease is a data key handed to a sealer outside the control plane —
// nexus-authz sealing the decision-log inputs its masks hide — as a KMS's
// GenerateDataKey hands one out: the key itself, its id, and when the
// sealer must stop using it (its bucket's end, or its rotation). The key
// stays in the keyring, wrapped by the KEK, and is destroyed with its
// bucket: what was sealed under it then cannot be read by anyone.
type Lease struct {
	ID       string    `json:"id"`
	Key      []byte    `json:"key"`
	Class    string    `json:"class"`
	NotAfter time.Time `json:"not_after"`
}

// LeaseDataKey returns the current data key of class c.Class for an
// outside sealer. Per-subject classes are not leased: a subject's key
// never leaves the control plane.
func (k *Keyring) LeaseDataKey(ctx context.Context, actor string, c Context) (Lease, error) {
	cl, err := k.check(c)
	if err != nil {
		return Lease{}, err
	}
	if cl.PerSubject {
		return Lease{}, &FieldError{Field: "class", Msg: fmt.Sprintf("class %s keys one subject each; its keys are not leased", cl.Name)}
	}
	lk, err := k.writer(ctx, cl, "")
	if err != nil {
		return Lease{}, err
	}
	notAfter := lk.BucketEnd
	if r := cl.rotation(); r > 0 && lk.CreatedAt.Add(r).Before(notAfter) {
		notAfter = lk.CreatedAt.Add(r)
	}
	// Every hand-out of a key is on the record, the key never.
	if _, err := k.tables.Change(ctx, entry(k.now(), actor, "keys.dek.lease", "data-keys/"+lk.ID,
		map[string]any{"class": cl.Name, "purpose": c.Purpose, "not_after": ts(notAfter)}), nil); err != nil {
		return Lease{}, err
	}
	return Lease{ID: lk.ID, Key: append([]byte(nil), lk.raw...), Class: cl.Name, NotAfter: notAfter.UTC()}, nil
}

// LeasedKey returns a leased data key by id, for reading what was sealed
// under it: refused once the key is destroyed or its data past retention
// (unless a legal hold keeps it), as Open refuses.
func (k *Keyring) LeasedKey(ctx context.Context, actor, id string) (Lease, error) {
	if !validID(id) {
		return Lease{}, &FieldError{Field: "id", Msg: fmt.Sprintf("%q is not a data key id", id)}
	}
	lk, err := k.reader(ctx, id)
	if err != nil {
		return Lease{}, err
	}
	if cl, ok := k.classes[lk.Class]; ok && cl.PerSubject {
		return Lease{}, ErrContext
	}
	if err := k.checkRetention(ctx, lk.row); err != nil {
		return Lease{}, err
	}
	if _, err := k.tables.Change(ctx, entry(k.now(), actor, "keys.dek.read", "data-keys/"+lk.ID, map[string]any{"class": lk.Class}), nil); err != nil {
		return Lease{}, err
	}
	return Lease{ID: lk.ID, Key: append([]byte(nil), lk.raw...), Class: lk.Class, NotAfter: lk.BucketEnd.UTC()}, nil
}
