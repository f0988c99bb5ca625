package keys

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Rotation is what RotateKEK did.
type Rotation struct {
	KEK       string `json:"kek"`
	From      int    `json:"from_version"`
	To        int    `json:"to_version"`
	Rewrapped int    `json:"rewrapped"`
}

// RotateKEK makes a new KEK version and rewraps every live DEK to it.
// Old versions keep unwrapping until retired, so a rotation never makes
// data unreadable before its retention ends.
func (k *Keyring) RotateKEK(ctx context.Context, actor string) (Rotation, error) {
	before, err := k.kek.Current(ctx)
	if err != nil {
		return Rotation{}, err
	}
	if err := k.kek.Rotate(ctx); err != nil {
		return Rotation{}, err
	}
	after, err := k.kek.Current(ctx)
	if err != nil {
		return Rotation{}, err
	}
	n, err := k.rewrap(ctx, actor, "keys.kek.rotate", map[string]any{"kek": k.kek.Name(), "from_version": before.Version, "to_version": after.Version}, after.Version)
	return Rotation{KEK: k.kek.Name(), From: before.Version, To: after.Version, Rewrapped: n}, err
}

// RewrapStale rewraps DEKs wrapped under an older KEK version than the
// current one (after a rotation made outside Nexus).
func (k *Keyring) RewrapStale(ctx context.Context, actor string) (int, error) {
	cur, err := k.kek.Current(ctx)
	if err != nil {
		return 0, err
	}
	return k.rewrap(ctx, actor, "keys.dek.rewrap", map[string]any{"kek": k.kek.Name(), "to_version": cur.Version}, cur.Version)
}

func (k *Keyring) rewrap(ctx context.Context, actor, action string, detail map[string]any, to int) (int, error) {
	rows, err := k.tables.Query(ctx, `SELECT `+rowCols+`, wrapped FROM data_keys WHERE destroyed_at IS NULL AND kek_version < ?`, to)
	if err != nil {
		return 0, fmt.Errorf("read data keys: %w", err)
	}
	type change struct {
		id       string
		old, new []byte
		version  int
	}
	var changes []change
	var stale []struct {
		r       row
		wrapped []byte
	}
	for rows.Next() {
		var w []byte
		r, err := scanRow(rows, &w)
		if err != nil {
			rows.Close()
			return 0, err
		}
		stale = append(stale, struct {
			r       row
			wrapped []byte
		}{r, w})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if len(stale) == 0 && action != "keys.kek.rotate" {
		return 0, nil
	}
	var errs []error
	for _, s := range stale {
		nw, err := k.kek.Rewrap(ctx, s.wrapped, wrapAAD(s.r))
		if err != nil {
			errs = append(errs, fmt.Errorf("rewrap %s: %w", s.r.ID, err))
			continue
		}
		v, err := k.kek.WrappedVersion(nw)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		changes = append(changes, change{s.r.ID, s.wrapped, nw, v})
	}
	detail["rewrapped"] = len(changes)
	if len(errs) > 0 {
		detail["failed"] = len(errs)
	}
	n := 0
	_, err = k.tables.Change(ctx, entry(k.now(), actor, action, "kek", detail), func(tx *sql.Tx) error {
		for _, c := range changes {
			// Only a row still holding what was rewrapped changes: a key
			// destroyed meanwhile stays destroyed.
			res, err := tx.ExecContext(ctx, `UPDATE data_keys SET wrapped = ?, kek_version = ? WHERE id = ? AND destroyed_at IS NULL AND wrapped = ?`,
				c.new, c.version, c.id, c.old)
			if err != nil {
				return err
			}
			if m, _ := res.RowsAffected(); m > 0 {
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store rewrapped data keys: %w", err)
	}
	return n, errors.Join(errs...)
}

// KeyView is a DEK as operators and compliance checks see it: never key
// material.
type KeyView struct {
	ID          string     `json:"id"`
	Class       string     `json:"class"`
	Subject     string     `json:"subject,omitempty"`
	BucketStart *time.Time `json:"bucket_start,omitempty"`
	BucketEnd   *time.Time `json:"bucket_end,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	AgeSeconds  int64      `json:"age_seconds"`
	// DestroyAt is when retention ends (bucket end + retention); absent
	// for per-subject keys.
	DestroyAt   *time.Time `json:"destroy_at,omitempty"`
	KEK         string     `json:"kek"`
	KEKVersion  int        `json:"kek_version"`
	State       string     `json:"state"`
	Encryptions uint64     `json:"encryptions"`
	DestroyedAt *time.Time `json:"destroyed_at,omitempty"`
}

// DEK states.
const (
	StateActive    = "active"    // sealing new data
	StateReadable  = "readable"  // opening only, within retention
	StateOverdue   = "overdue"   // past retention, not destroyed yet
	StateHeld      = "held"      // past retention, kept by a legal hold
	StateDestroyed = "destroyed" // wrapped key overwritten
)

// KEKView is the KEK's state.
type KEKView struct {
	Name              string    `json:"name"`
	Version           int       `json:"version"`
	RotatedAt         time.Time `json:"rotated_at"`
	RotationAgeSecond int64     `json:"rotation_age_seconds"`
}

// Inventory is the keyring's state, what GET /admin/keys shows and what
// a compliance check reads (key ages, classes, the KEK's rotation age).
type Inventory struct {
	Classes []Class   `json:"classes"`
	KEK     KEKView   `json:"kek"`
	Keys    []KeyView `json:"keys"`
	Holds   []Hold    `json:"legal_holds"`
	At      time.Time `json:"at"`
}

// Inventory lists every DEK with its age and state.
func (k *Keyring) Inventory(ctx context.Context) (Inventory, error) {
	now := k.now().UTC()
	cur, err := k.kek.Current(ctx)
	if err != nil {
		return Inventory{}, fmt.Errorf("KEK: %w", err)
	}
	rows, err := k.rowsWhere(ctx, "")
	if err != nil {
		return Inventory{}, err
	}
	holds, err := k.Holds(ctx)
	if err != nil {
		return Inventory{}, err
	}
	k.mu.Lock()
	writers := map[string]uint64{}
	for _, w := range k.writers {
		writers[w.ID] = w.count
	}
	k.mu.Unlock()
	inv := Inventory{Classes: k.Classes(), Keys: []KeyView{}, Holds: holds, At: now,
		KEK: KEKView{Name: k.kek.Name(), Version: cur.Version, RotatedAt: cur.CreatedAt, RotationAgeSecond: int64(now.Sub(cur.CreatedAt) / time.Second)}}
	for _, r := range rows {
		v := KeyView{ID: r.ID, Class: r.Class, Subject: r.Subject, CreatedAt: r.CreatedAt, AgeSeconds: int64(now.Sub(r.CreatedAt) / time.Second),
			KEK: r.KEKName, KEKVersion: r.KEKVersion, Encryptions: r.Encryptions, State: StateReadable}
		if !r.BucketStart.IsZero() {
			s, e := r.BucketStart, r.BucketEnd
			v.BucketStart, v.BucketEnd = &s, &e
			if cl, ok := k.classes[r.Class]; ok {
				d := e.Add(cl.Retention)
				v.DestroyAt = &d
			}
		}
		if n, ok := writers[r.ID]; ok {
			v.State, v.Encryptions = StateActive, n
		}
		switch {
		case !r.DestroyedAt.IsZero():
			d := r.DestroyedAt
			v.State, v.DestroyedAt = StateDestroyed, &d
		case v.DestroyAt != nil && now.After(*v.DestroyAt):
			v.State = StateOverdue
			if _, held := heldBy(state(r), holds); held {
				v.State = StateHeld
			}
		}
		inv.Keys = append(inv.Keys, v)
	}
	return inv, nil
}
