package consent

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/audit"
	"github.com/secureai-nexus/nexus/controlplane/internal/store"
)

// Errors the API maps to statuses.
var (
	ErrNotFound = errors.New("not found")
	// ErrEnded is a change to a consent already revoked or a grant
	// already ended.
	ErrEnded = errors.New("already ended")
)

// Config configures a Service.
type Config struct {
	Tables store.Tables
	Sealer Sealer
	// SubjectKey keys SubjectID; nexus-authz must be given the same key.
	SubjectKey []byte
	// MaxBreakGlass bounds a break-glass grant's duration (default 4h).
	MaxBreakGlass time.Duration
	Now           func() time.Time
	Log           *slog.Logger
}

// Service keeps consent records and break-glass grants, and publishes the
// active ones.
type Service struct {
	tables        store.Tables
	sealer        Sealer
	key           []byte
	maxBreakGlass time.Duration
	now           func() time.Time
	log           *slog.Logger
	pub           *Publisher
}

// DefaultMaxBreakGlass is the longest break-glass grant unless configured.
const DefaultMaxBreakGlass = 4 * time.Hour

var schema = []string{
	`CREATE TABLE IF NOT EXISTS consent_records (
		id TEXT PRIMARY KEY,
		subject_id TEXT NOT NULL,
		purposes TEXT NOT NULL,
		categories TEXT NOT NULL,
		sharing INTEGER NOT NULL,
		recorded_at INTEGER NOT NULL,
		expires_at INTEGER NOT NULL,
		revoked_at INTEGER,
		revoked_by TEXT,
		sealed BLOB NOT NULL
	)`,
	`CREATE INDEX IF NOT EXISTS consent_records_subject ON consent_records (subject_id)`,
	`CREATE TABLE IF NOT EXISTS breakglass_grants (
		id TEXT PRIMARY KEY,
		kind TEXT NOT NULL,
		principal TEXT NOT NULL,
		model TEXT NOT NULL,
		reason TEXT NOT NULL,
		requested_by TEXT NOT NULL,
		created_at INTEGER NOT NULL,
		expires_at INTEGER NOT NULL,
		ended_at INTEGER,
		ended_by TEXT,
		reviewed_at INTEGER,
		reviewed_by TEXT,
		review_note TEXT
	)`,
}

// New creates the service's tables and publishes the current state.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Tables == nil || cfg.Sealer == nil {
		return nil, errors.New("consent: a store and a sealer are required")
	}
	if len(cfg.SubjectKey) < 16 {
		return nil, errors.New("consent: the subject key must be at least 16 bytes (the same key nexus-authz gets as NEXUS_TELEMETRY_SUBJECT_KEY)")
	}
	s := &Service{tables: cfg.Tables, sealer: cfg.Sealer, key: cfg.SubjectKey, maxBreakGlass: cfg.MaxBreakGlass, now: cfg.Now, log: cfg.Log}
	if s.maxBreakGlass <= 0 {
		s.maxBreakGlass = DefaultMaxBreakGlass
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for _, ddl := range schema {
		if err := cfg.Tables.EnsureSchema(ctx, ddl); err != nil {
			return nil, fmt.Errorf("consent: %w", err)
		}
	}
	s.pub = newPublisher(s)
	if err := s.pub.Refresh(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Publisher serves the active consents and grants as an OPA bundle.
func (s *Service) Publisher() *Publisher { return s.pub }

// Close stops the publisher's expiry timer.
func (s *Service) Close() { s.pub.stop() }

// SubjectID is the keyed hash of sub under the service's key.
func (s *Service) SubjectID(sub string) string { return SubjectID(s.key, sub) }

// MaxBreakGlass is the longest grant the service accepts.
func (s *Service) MaxBreakGlass() time.Duration { return s.maxBreakGlass }

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var idRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// ValidID checks a record or grant id from a path.
func ValidID(id string) error {
	if !idRE.MatchString(id) {
		return fieldErr("id", "%q is not an id (32 lower-case hex digits)", truncate(id))
	}
	return nil
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only called on values built here
	}
	return b
}

// consentSummary is what the audit log keeps of a consent: never the
// subject, only its keyed hash.
func consentSummary(r Record) json.RawMessage {
	return mustJSON(map[string]any{
		"id": r.ID, "subject_id": r.SubjectID, "purposes": r.Purposes, "categories": r.Categories,
		"sharing": r.Sharing, "third_parties": len(r.ThirdParties), "jurisdiction": r.Jurisdiction,
		"consent_time": r.ConsentTime, "expires_at": r.ExpiresAt,
	})
}

func consentTarget(sid, id string) string { return "subjects/" + sid + "/consents/" + id }

// Grant records a consent and publishes it.
func (s *Service) Grant(ctx context.Context, actor string, req Request) (Record, audit.Record, error) {
	now := s.now().UTC()
	if err := req.Validate(now); err != nil {
		return Record{}, audit.Record{}, err
	}
	d, _ := ParseDuration("duration", req.Duration, MaxDuration)
	r := Record{
		ID: newID(), Subject: req.Subject, SubjectID: s.SubjectID(req.Subject),
		Purposes: req.Purposes, Categories: req.Categories, Duration: req.Duration,
		Sharing: req.Sharing, ThirdParties: req.ThirdParties, CollectionMethod: req.CollectionMethod,
		Jurisdiction: req.Jurisdiction, PolicyURL: req.PolicyURL, Controller: req.Controller,
		ConsentTime: now, RecordedAt: now, RecordedBy: actor,
	}
	if req.ConsentTime != nil {
		r.ConsentTime = req.ConsentTime.UTC()
	}
	// The consent runs from when it was given.
	r.ExpiresAt = r.ConsentTime.Add(d)
	if !r.ExpiresAt.After(now) {
		return Record{}, audit.Record{}, fieldErr("duration", "a consent given at %s for %s has already expired", r.ConsentTime.Format(time.RFC3339), req.Duration)
	}
	plain, err := json.Marshal(r)
	if err != nil {
		return Record{}, audit.Record{}, err
	}
	sealed, err := s.sealer.Seal(ctx, r.SubjectID, sealPurpose, plain)
	if err != nil {
		return Record{}, audit.Record{}, fmt.Errorf("seal consent record: %w", err)
	}
	e := audit.Entry{Time: now, Actor: actor, Action: "consent.grant", Target: consentTarget(r.SubjectID, r.ID), After: consentSummary(r)}
	rec, err := s.tables.Change(ctx, e, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO consent_records (id, subject_id, purposes, categories, sharing, recorded_at, expires_at, sealed)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, r.ID, r.SubjectID, string(mustJSON(r.Purposes)), string(mustJSON(r.Categories)),
			r.Sharing, now.UnixNano(), r.ExpiresAt.UnixNano(), sealed)
		return err
	})
	if err != nil {
		return Record{}, audit.Record{}, err
	}
	s.republish(ctx)
	return r, rec, nil
}

func (s *Service) republish(ctx context.Context) {
	if err := s.pub.Refresh(ctx); err != nil {
		// The change is stored; the next refresh (a later change or the
		// expiry timer) publishes it. nexus-authz keeps the last bundle
		// only as long as its staleness bound allows.
		s.log.Error("consent bundle not republished", "error", err)
	}
}

const recordCols = `id, subject_id, revoked_at, revoked_by, sealed`

func (s *Service) scanRecords(ctx context.Context, rows *sql.Rows) ([]Record, error) {
	defer rows.Close()
	var out []Record
	for rows.Next() {
		var (
			id, sid   string
			revokedAt sql.NullInt64
			revokedBy sql.NullString
			sealed    []byte
		)
		if err := rows.Scan(&id, &sid, &revokedAt, &revokedBy, &sealed); err != nil {
			return nil, fmt.Errorf("read consent record: %w", err)
		}
		plain, err := s.sealer.Open(ctx, sid, sealPurpose, sealed)
		if err != nil {
			return nil, fmt.Errorf("open consent record %s: %w", id, err)
		}
		var r Record
		if err := json.Unmarshal(plain, &r); err != nil {
			return nil, fmt.Errorf("consent record %s: %w", id, err)
		}
		if r.ID != id || r.SubjectID != sid {
			return nil, fmt.Errorf("consent record %s: sealed content belongs to another record", id)
		}
		if revokedAt.Valid {
			t := time.Unix(0, revokedAt.Int64).UTC()
			r.RevokedAt, r.RevokedBy = &t, revokedBy.String
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// List returns the subject's consent records, newest first.
func (s *Service) List(ctx context.Context, subject string) ([]Record, error) {
	if err := ValidSubject(subject); err != nil {
		return nil, err
	}
	rows, err := s.tables.Query(ctx, `SELECT `+recordCols+` FROM consent_records WHERE subject_id = ? ORDER BY recorded_at DESC, id`, s.SubjectID(subject))
	if err != nil {
		return nil, fmt.Errorf("list consents: %w", err)
	}
	return s.scanRecords(ctx, rows)
}

// Get returns one record.
func (s *Service) Get(ctx context.Context, id string) (Record, error) {
	if err := ValidID(id); err != nil {
		return Record{}, err
	}
	rows, err := s.tables.Query(ctx, `SELECT `+recordCols+` FROM consent_records WHERE id = ?`, id)
	if err != nil {
		return Record{}, fmt.Errorf("read consent: %w", err)
	}
	rs, err := s.scanRecords(ctx, rows)
	if err != nil {
		return Record{}, err
	}
	if len(rs) == 0 {
		return Record{}, fmt.Errorf("consent %s: %w", id, ErrNotFound)
	}
	return rs[0], nil
}

// Revoke ends a consent now and publishes the change; it returns once the
// bundle nexus-authz long-polls carries the revocation.
func (s *Service) Revoke(ctx context.Context, actor, id string) (Record, audit.Record, error) {
	r, err := s.Get(ctx, id)
	if err != nil {
		return Record{}, audit.Record{}, err
	}
	if r.RevokedAt != nil {
		return r, audit.Record{}, fmt.Errorf("consent %s was revoked at %s: %w", id, r.RevokedAt.Format(time.RFC3339), ErrEnded)
	}
	now := s.now().UTC()
	e := audit.Entry{Time: now, Actor: actor, Action: "consent.revoke", Target: consentTarget(r.SubjectID, r.ID),
		Before: consentSummary(r), After: mustJSON(map[string]any{"id": r.ID, "subject_id": r.SubjectID, "revoked_at": now})}
	var found bool
	rec, err := s.tables.Change(ctx, e, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE consent_records SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL`, now.UnixNano(), actor, id)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		found = n == 1
		if !found {
			return fmt.Errorf("consent %s: %w", id, ErrEnded)
		}
		return nil
	})
	if err != nil {
		return Record{}, audit.Record{}, err
	}
	r.RevokedAt, r.RevokedBy = &now, actor
	s.republish(ctx)
	return r, rec, nil
}
