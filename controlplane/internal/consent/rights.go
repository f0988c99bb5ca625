package consent

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/audit"
)

// Export is everything Nexus holds about one data subject (GDPR Art. 15
// access and Art. 20 portability): their consent records in full, the
// break-glass grants that named them, and the audit records about them.
type Export struct {
	Subject     string         `json:"subject"`
	SubjectID   string         `json:"subject_id"`
	GeneratedAt time.Time      `json:"generated_at"`
	Consents    []Record       `json:"consents"`
	BreakGlass  []Grant        `json:"break_glass"`
	Audit       []audit.Record `json:"audit"`
}

// Export gathers the subject's data.
func (s *Service) Export(ctx context.Context, subject string) (Export, error) {
	if err := ValidSubject(subject); err != nil {
		return Export{}, err
	}
	sid := s.SubjectID(subject)
	out := Export{Subject: subject, SubjectID: sid, GeneratedAt: s.now().UTC(), Consents: []Record{}, BreakGlass: []Grant{}, Audit: []audit.Record{}}
	rs, err := s.List(ctx, subject)
	if err != nil {
		return Export{}, err
	}
	out.Consents = append(out.Consents, rs...)
	rows, err := s.tables.Query(ctx, `SELECT `+grantCols+` FROM breakglass_grants WHERE kind = 'subject' AND principal = ? ORDER BY created_at`, sid)
	if err != nil {
		return Export{}, fmt.Errorf("export break-glass grants: %w", err)
	}
	gs, err := scanGrants(rows)
	if err != nil {
		return Export{}, err
	}
	out.BreakGlass = append(out.BreakGlass, gs...)
	recs, err := s.auditAbout(ctx, sid, gs)
	if err != nil {
		return Export{}, err
	}
	out.Audit = append(out.Audit, recs...)
	return out, nil
}

// auditAbout reads the audit records whose target is the subject or one
// of its grants. sid is hex, so it is safe inside a LIKE pattern.
func (s *Service) auditAbout(ctx context.Context, sid string, grants []Grant) ([]audit.Record, error) {
	q := `SELECT seq, time, actor, action, target, before, after, prev_hash, hash FROM audit WHERE target = ? OR target LIKE ?`
	args := []any{"subjects/" + sid, "subjects/" + sid + "/%"}
	for _, g := range grants {
		q += ` OR target = ?`
		args = append(args, "break-glass/"+g.ID)
	}
	rows, err := s.tables.Query(ctx, q+` ORDER BY seq`, args...)
	if err != nil {
		return nil, fmt.Errorf("export audit records: %w", err)
	}
	defer rows.Close()
	var out []audit.Record
	for rows.Next() {
		var (
			r             audit.Record
			at            string
			before, after sql.NullString
		)
		if err := rows.Scan(&r.Seq, &at, &r.Actor, &r.Action, &r.Target, &before, &after, &r.PrevHash, &r.Hash); err != nil {
			return nil, fmt.Errorf("export audit records: %w", err)
		}
		r.Time, _ = time.Parse(time.RFC3339Nano, at)
		if before.Valid {
			r.Before = json.RawMessage(before.String)
		}
		if after.Valid {
			r.After = json.RawMessage(after.String)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Erasure is what an erasure did.
type Erasure struct {
	SubjectID       string    `json:"subject_id"`
	ConsentsDeleted int64     `json:"consents_deleted"`
	KeysDestroyed   bool      `json:"keys_destroyed"`
	ErasedAt        time.Time `json:"erased_at"`
	AuditSeq        int64     `json:"audit_seq"`
}

// Erase forgets a subject (GDPR Art. 17): their keys are destroyed first,
// so every sealed copy of their records — in backups too — is unreadable
// even if what follows fails, then their rows are deleted with an audit
// record that names them only by keyed hash. Earlier audit records stay
// as they are: they never held more than the hash. Erasing a subject
// Nexus holds nothing about still destroys any keys and is audited.
func (s *Service) Erase(ctx context.Context, actor, subject string) (Erasure, error) {
	if err := ValidSubject(subject); err != nil {
		return Erasure{}, err
	}
	sid := s.SubjectID(subject)
	if err := s.sealer.ForgetSubject(ctx, sid); err != nil {
		return Erasure{}, fmt.Errorf("destroy the subject's keys: %w", err)
	}
	now := s.now().UTC()
	out := Erasure{SubjectID: sid, KeysDestroyed: true, ErasedAt: now}
	rec, err := s.tables.Change(ctx, audit.Entry{}, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM consent_records WHERE subject_id = ?`, sid)
		if err != nil {
			return err
		}
		out.ConsentsDeleted, _ = res.RowsAffected()
		return nil
	}, func() audit.Entry {
		return audit.Entry{Time: now, Actor: actor, Action: "subject.erase", Target: "subjects/" + sid,
			After: mustJSON(map[string]any{"subject_id": sid, "consents_deleted": out.ConsentsDeleted, "keys_destroyed": true})}
	})
	if err != nil {
		return Erasure{}, err
	}
	out.AuditSeq = rec.Seq
	s.republish(ctx)
	return out, nil
}
