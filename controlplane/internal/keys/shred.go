package keys

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/audit"
)

const sweeperActor = "nexus-keys-sweeper"

// SweepResult says what one sweep did.
type SweepResult struct {
	Destroyed []string  `json:"destroyed"`
	Held      []HeldKey `json:"held"`
	Unknown   []string  `json:"unknown_class"`
	Purged    []string  `json:"purged"`
}

// Sweep destroys every DEK past its retention that no hold keeps, then
// runs the destroy hooks for every destroyed DEK whose rows are not yet
// deleted (also those of an earlier process that stopped in between).
func (k *Keyring) Sweep(ctx context.Context) (SweepResult, error) {
	var res SweepResult
	rows, err := k.rowsWhere(ctx, `destroyed_at IS NULL`)
	if err != nil {
		return res, err
	}
	holds, err := k.Holds(ctx)
	if err != nil {
		return res, err
	}
	keys := make([]KeyState, len(rows))
	for i, r := range rows {
		keys[i] = state(r)
	}
	plan := Decide(keys, holds, k.classes, k.now())
	res.Held = plan.Held
	for _, u := range plan.Unknown {
		res.Unknown = append(res.Unknown, u.ID)
		k.log.Warn("data key of an unconfigured retention class kept", "key", u.ID, "class", u.Class)
	}
	var errs []error
	for _, d := range plan.Destroy {
		if err := k.destroy(ctx, sweeperActor, "keys.dek.destroy", "data-keys/"+d.ID, map[string]any{"reason": "retention"}, `id = ?`, d.ID); err != nil {
			var he *HeldError
			if !errors.As(err, &he) {
				errs = append(errs, err)
			}
			continue
		}
		res.Destroyed = append(res.Destroyed, d.ID)
	}
	purged, err := k.purge(ctx)
	res.Purged = purged
	if err != nil {
		errs = append(errs, err)
	}
	return res, errors.Join(errs...)
}

// Run sweeps every interval until ctx ends, and rewraps data keys left on
// an older KEK version by a rotation outside Nexus (Vault's
// auto_rotate_period).
func (k *Keyring) Run(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		res, err := k.Sweep(ctx)
		if err != nil {
			k.log.Error("key sweep incomplete; retried next interval", "error", err)
		} else if len(res.Destroyed)+len(res.Purged) > 0 {
			k.log.Info("data keys destroyed past retention", "destroyed", len(res.Destroyed), "rows_deleted_for", len(res.Purged), "held", len(res.Held))
		}
		if rot, err := k.rotateIfDue(ctx); err != nil {
			k.log.Error("scheduled KEK rotation failed; retried next interval", "error", err)
		} else if rot != nil {
			k.log.Info("KEK rotated on schedule", "kek", rot.KEK, "version", rot.To, "rewrapped", rot.Rewrapped)
		}
		if n, err := k.RewrapStale(ctx, sweeperActor); err != nil {
			k.log.Error("rewrap to the current KEK version failed", "error", err)
		} else if n > 0 {
			k.log.Info("data keys rewrapped to the current KEK version", "keys", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// destroy overwrites the wrapped keys of the live DEKs matching cond and
// marks them destroyed with one audit record, in one transaction, after
// checking the holds inside it: a hold placed meanwhile still wins. A
// kill at any point leaves each key either intact or destroyed with its
// record. It returns the destroyed rows.
func (k *Keyring) destroy(ctx context.Context, actor, action, target string, detail map[string]any, cond string, args ...any) error {
	_, err := k.destroyRows(ctx, actor, action, target, detail, cond, args...)
	return err
}

func (k *Keyring) destroyRows(ctx context.Context, actor, action, target string, detail map[string]any, cond string, args ...any) ([]row, error) {
	now := k.now().UTC()
	var victims []row
	k.mu.Lock()
	hooked := len(k.hooks) > 0
	k.mu.Unlock()
	_, err := k.tables.Change(ctx, entry(now, actor, action, target, nil), func(tx *sql.Tx) error {
		holds, err := queryHolds(ctx, tx, `lifted_at IS NULL`)
		if err != nil {
			return err
		}
		rs, err := tx.QueryContext(ctx, `SELECT `+rowCols+` FROM data_keys WHERE destroyed_at IS NULL AND `+cond, args...)
		if err != nil {
			return err
		}
		for rs.Next() {
			r, err := scanRow(rs)
			if err != nil {
				rs.Close()
				return err
			}
			victims = append(victims, r)
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return err
		}
		for _, r := range victims {
			if h, held := heldBy(state(r), holds); held {
				return &HeldError{Hold: h}
			}
		}
		for _, r := range victims {
			// Overwritten in place, same length, so the page that held the
			// wrapped key is rewritten rather than freed with it inside.
			purged := any(nil)
			if !hooked {
				purged = ts(now)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE data_keys SET wrapped = zeroblob(length(wrapped)), destroyed_at = ?, purged_at = ? WHERE id = ?`,
				ts(now), purged, r.ID); err != nil {
				return err
			}
		}
		return nil
	}, func() audit.Entry {
		after := map[string]any{}
		for k, v := range detail {
			after[k] = v
		}
		ids := make([]map[string]any, 0, len(victims))
		for _, r := range victims {
			d := map[string]any{"id": r.ID, "class": r.Class}
			if r.Subject != "" {
				d["subject"] = r.Subject
			} else {
				d["bucket_start"], d["bucket_end"] = ts(r.BucketStart), ts(r.BucketEnd)
			}
			ids = append(ids, d)
		}
		after["keys"] = ids
		return entry(now, actor, action, target, after)
	})
	if err != nil {
		return nil, fmt.Errorf("destroy data keys: %w", err)
	}
	k.mu.Lock()
	for _, r := range victims {
		k.forget(r.ID)
	}
	k.mu.Unlock()
	return victims, nil
}

// purge runs the hooks for destroyed DEKs whose rows are not deleted yet
// and records each as done.
func (k *Keyring) purge(ctx context.Context) ([]string, error) {
	k.mu.Lock()
	hooks := append([]DestroyHook(nil), k.hooks...)
	k.mu.Unlock()
	pending, err := k.rowsWhere(ctx, `destroyed_at IS NOT NULL AND purged_at IS NULL`)
	if err != nil {
		return nil, err
	}
	var done []string
	var errs []error
	for _, r := range pending {
		d := DestroyedKey{ID: r.ID, Class: r.Class, Subject: r.Subject, BucketStart: r.BucketStart, BucketEnd: r.BucketEnd}
		ok := true
		for _, h := range hooks {
			if err := h(ctx, d); err != nil {
				errs = append(errs, fmt.Errorf("delete rows sealed under %s: %w", r.ID, err))
				ok = false
			}
		}
		if !ok {
			continue
		}
		now := k.now().UTC()
		if _, err := k.tables.Change(ctx, entry(now, sweeperActor, "keys.dek.rows_deleted", "data-keys/"+r.ID, map[string]any{"class": r.Class}), func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE data_keys SET purged_at = ? WHERE id = ? AND purged_at IS NULL`, ts(now), r.ID)
			return err
		}); err != nil {
			errs = append(errs, err)
			continue
		}
		done = append(done, r.ID)
	}
	return done, errors.Join(errs...)
}

// ForgetSubject erases a data subject (GDPR Art. 17): every DEK of the
// subject is destroyed, so all data sealed for them is unreadable, unless
// a legal hold covers it. The erasure is audited under the subject's
// keyed hash, even when they had no keys.
func (k *Keyring) ForgetSubject(ctx context.Context, subjectHash, actor string) (int, error) {
	if err := ValidSubject(subjectHash); err != nil {
		return 0, err
	}
	victims, err := k.destroyRows(ctx, actor, "keys.subject.erase", "subjects/"+subjectHash, map[string]any{"subject": subjectHash}, `subject = ?`, subjectHash)
	if err != nil {
		return 0, err
	}
	if _, err := k.purge(ctx); err != nil {
		return len(victims), fmt.Errorf("subject's keys destroyed; deleting their rows: %w", err)
	}
	return len(victims), nil
}

// rotateIfDue rotates the KEK when its current version is older than the
// configured rotation period.
func (k *Keyring) rotateIfDue(ctx context.Context) (*Rotation, error) {
	if k.kekRot <= 0 {
		return nil, nil
	}
	cur, err := k.kek.Current(ctx)
	if err != nil {
		return nil, err
	}
	if k.now().Sub(cur.CreatedAt) < k.kekRot {
		return nil, nil
	}
	rot, err := k.RotateKEK(ctx, sweeperActor)
	return &rot, err
}
