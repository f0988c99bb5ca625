package keys

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Hold is a legal hold: while in force, no DEK it covers is destroyed.
type Hold struct {
	ID      string     `json:"id"`
	Class   string     `json:"class"`
	Subject string     `json:"subject,omitempty"`
	From    *time.Time `json:"from,omitempty"`
	To      *time.Time `json:"to,omitempty"`
	// Reason cites the matter (a case number), never a person.
	Reason    string     `json:"reason"`
	Actor     string     `json:"actor"`
	CreatedAt time.Time  `json:"created_at"`
	LiftedAt  *time.Time `json:"lifted_at,omitempty"`
	LiftedBy  string     `json:"lifted_by,omitempty"`
}

// HoldRequest is a hold to place.
type HoldRequest struct {
	Class   string     `json:"class"`
	Subject string     `json:"subject,omitempty"`
	From    *time.Time `json:"from,omitempty"`
	To      *time.Time `json:"to,omitempty"`
	Reason  string     `json:"reason"`
}

// Errors of holds and erasure.
var (
	ErrHoldNotFound = errors.New("no legal hold in force with this id")
	ErrHeld         = errors.New("a legal hold blocks destruction")
)

// HeldError names the hold that blocked a destruction.
type HeldError struct{ Hold string }

func (e *HeldError) Error() string {
	return fmt.Sprintf("legal hold %s blocks destruction; lift it first", e.Hold)
}

func (e *HeldError) Unwrap() error { return ErrHeld }

func (k *Keyring) validateHold(r HoldRequest) error {
	cl, ok := k.classes[r.Class]
	if !ok {
		return &FieldError{"class", fmt.Sprintf("no retention class %q", r.Class)}
	}
	if r.Subject != "" {
		if !cl.PerSubject {
			return &FieldError{"subject", fmt.Sprintf("class %s keys time buckets, not subjects; hold it by time range", r.Class)}
		}
		if err := ValidSubject(r.Subject); err != nil {
			return err
		}
	}
	if r.From != nil && r.To != nil && !r.From.Before(*r.To) {
		return &FieldError{"to", "must be after from"}
	}
	reason := strings.TrimSpace(r.Reason)
	switch {
	case reason == "":
		return &FieldError{"reason", "is required: cite the matter (a case or ticket number)"}
	case len(reason) > 200:
		return &FieldError{"reason", "must be at most 200 bytes"}
	case strings.Contains(reason, "@"):
		return &FieldError{"reason", "must not hold an e-mail address: it goes into the audit log; cite a case number"}
	}
	return nil
}

// PlaceHold records a hold, audited.
func (k *Keyring) PlaceHold(ctx context.Context, actor string, r HoldRequest) (Hold, error) {
	if err := k.validateHold(r); err != nil {
		return Hold{}, err
	}
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return Hold{}, err
	}
	now := k.now().UTC()
	h := Hold{ID: "hold_" + hex.EncodeToString(b), Class: r.Class, Subject: r.Subject, From: utcPtr(r.From), To: utcPtr(r.To),
		Reason: strings.TrimSpace(r.Reason), Actor: actor, CreatedAt: now}
	_, err := k.tables.Change(ctx, entry(now, actor, "keys.hold.place", "legal-holds/"+h.ID, h), func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO legal_holds (id, class, subject, from_time, to_time, reason, actor, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, h.ID, h.Class, nullStr(h.Subject), nullTSPtr(h.From), nullTSPtr(h.To), h.Reason, actor, ts(now))
		return err
	})
	if err != nil {
		return Hold{}, fmt.Errorf("place legal hold: %w", err)
	}
	return h, nil
}

// LiftHold ends a hold, audited; what it kept is destroyed by the next
// sweep if past retention.
func (k *Keyring) LiftHold(ctx context.Context, actor, id string) (Hold, error) {
	now := k.now().UTC()
	var h Hold
	_, err := k.tables.Change(ctx, entry(now, actor, "keys.hold.lift", "legal-holds/"+id, map[string]any{"lifted_at": ts(now)}), func(tx *sql.Tx) error {
		holds, err := queryHolds(ctx, tx, `id = ? AND lifted_at IS NULL`, id)
		if err != nil {
			return err
		}
		if len(holds) == 0 {
			return ErrHoldNotFound
		}
		h = holds[0]
		h.LiftedAt, h.LiftedBy = &now, actor
		_, err = tx.ExecContext(ctx, `UPDATE legal_holds SET lifted_at = ?, lifted_by = ? WHERE id = ?`, ts(now), actor, id)
		return err
	})
	if err != nil {
		return Hold{}, fmt.Errorf("lift legal hold %s: %w", id, err)
	}
	return h, nil
}

// Holds lists holds in force.
func (k *Keyring) Holds(ctx context.Context) ([]Hold, error) {
	return queryHolds(ctx, k.tables, `lifted_at IS NULL`)
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// tablesQuerier adapts store.Tables.Query.
type tablesQuerier interface {
	Query(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func queryHolds(ctx context.Context, q any, cond string, args ...any) ([]Hold, error) {
	query := `SELECT id, class, subject, from_time, to_time, reason, actor, created_at, lifted_at, lifted_by FROM legal_holds WHERE ` + cond + ` ORDER BY created_at, id`
	var rows *sql.Rows
	var err error
	switch q := q.(type) {
	case querier:
		rows, err = q.QueryContext(ctx, query, args...)
	case tablesQuerier:
		rows, err = q.Query(ctx, query, args...)
	default:
		return nil, errors.New("no way to query legal holds")
	}
	if err != nil {
		return nil, fmt.Errorf("read legal holds: %w", err)
	}
	defer rows.Close()
	out := []Hold{}
	for rows.Next() {
		var h Hold
		var subject, from, to, lifted, liftedBy sql.NullString
		var created string
		if err := rows.Scan(&h.ID, &h.Class, &subject, &from, &to, &h.Reason, &h.Actor, &created, &lifted, &liftedBy); err != nil {
			return nil, fmt.Errorf("read legal holds: %w", err)
		}
		h.Subject, h.LiftedBy = subject.String, liftedBy.String
		h.CreatedAt, _ = time.Parse(time.RFC3339Nano, created)
		h.From, h.To, h.LiftedAt = parsePtr(from), parsePtr(to), parsePtr(lifted)
		out = append(out, h)
	}
	return out, rows.Err()
}

func parsePtr(ns sql.NullString) *time.Time {
	if !ns.Valid {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, ns.String)
	if err != nil {
		return nil
	}
	return &t
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func nullTSPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return ts(*t)
}
