package consent

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"regexp"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/secureai-nexus/nexus/controlplane/internal/audit"
)

// BreakGlassRequest is the body of POST /api/v1/admin/break-glass: an
// emergency override for one workload (spiffe_id) or one data subject's
// requests (subject) on one model, for a bounded time, with a reason.
type BreakGlassRequest struct {
	SPIFFEID string `json:"spiffe_id,omitempty"`
	Subject  string `json:"subject,omitempty"`
	Model    string `json:"model"`
	Reason   string `json:"reason"`
	Duration string `json:"duration"`
}

// Grant is a break-glass grant as stored and listed for review.
type Grant struct {
	ID string `json:"id"`
	// Kind is "spiffe" (the override applies to a caller) or "subject"
	// (to requests on behalf of one end user, named by SubjectID).
	Kind        string     `json:"kind"`
	SPIFFEID    string     `json:"spiffe_id,omitempty"`
	SubjectID   string     `json:"subject_id,omitempty"`
	Model       string     `json:"model"`
	Reason      string     `json:"reason"`
	RequestedBy string     `json:"requested_by"`
	CreatedAt   time.Time  `json:"created_at"`
	ExpiresAt   time.Time  `json:"expires_at"`
	EndedAt     *time.Time `json:"ended_at,omitempty"`
	EndedBy     string     `json:"ended_by,omitempty"`
	ReviewedAt  *time.Time `json:"reviewed_at,omitempty"`
	ReviewedBy  string     `json:"reviewed_by,omitempty"`
	ReviewNote  string     `json:"review_note,omitempty"`
}

// Active says whether the grant overrides decisions at now.
func (g Grant) Active(now time.Time) bool { return g.EndedAt == nil && now.Before(g.ExpiresAt) }

var modelRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

const (
	minReason = 10
	maxReason = 1000
)

// ParseBreakGlass reads and validates a break-glass request.
func ParseBreakGlass(body []byte, max time.Duration) (BreakGlassRequest, error) {
	var req BreakGlassRequest
	if err := strictJSON(body, &req); err != nil {
		return req, err
	}
	return req, req.Validate(max)
}

// Validate checks every field; the first fault is returned.
func (r BreakGlassRequest) Validate(max time.Duration) error {
	switch {
	case r.SPIFFEID == "" && r.Subject == "":
		return fieldErr("spiffe_id", "one of spiffe_id (a workload) or subject (an end user) is required")
	case r.SPIFFEID != "" && r.Subject != "":
		return fieldErr("subject", "give spiffe_id or subject, not both")
	case r.SPIFFEID != "":
		if _, err := spiffeid.FromString(r.SPIFFEID); err != nil {
			return fieldErr("spiffe_id", "%v", err)
		}
	default:
		if err := ValidSubject(r.Subject); err != nil {
			return err
		}
	}
	if !modelRE.MatchString(r.Model) {
		return fieldErr("model", "is required: the name of one model")
	}
	if len(r.Reason) < minReason || len(r.Reason) > maxReason || !printable(r.Reason) {
		return fieldErr("reason", "must say why, in %d to %d printable characters (it is read at review; do not name the patient)", minReason, maxReason)
	}
	_, err := ParseDuration("duration", r.Duration, max)
	return err
}

const grantCols = `id, kind, principal, model, reason, requested_by, created_at, expires_at, ended_at, ended_by, reviewed_at, reviewed_by, review_note`

func scanGrants(rows *sql.Rows) ([]Grant, error) {
	defer rows.Close()
	var out []Grant
	for rows.Next() {
		var (
			g                        Grant
			principal                string
			created, expires         int64
			ended, reviewed          sql.NullInt64
			endedBy, reviewedBy, rev sql.NullString
		)
		if err := rows.Scan(&g.ID, &g.Kind, &principal, &g.Model, &g.Reason, &g.RequestedBy, &created, &expires, &ended, &endedBy, &reviewed, &reviewedBy, &rev); err != nil {
			return nil, fmt.Errorf("read break-glass grant: %w", err)
		}
		if g.Kind == "spiffe" {
			g.SPIFFEID = principal
		} else {
			g.SubjectID = principal
		}
		g.CreatedAt, g.ExpiresAt = time.Unix(0, created).UTC(), time.Unix(0, expires).UTC()
		if ended.Valid {
			t := time.Unix(0, ended.Int64).UTC()
			g.EndedAt, g.EndedBy = &t, endedBy.String
		}
		if reviewed.Valid {
			t := time.Unix(0, reviewed.Int64).UTC()
			g.ReviewedAt, g.ReviewedBy, g.ReviewNote = &t, reviewedBy.String, rev.String
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// grantSummary is what the audit log keeps of a grant: the reason only as
// a hash (free text may name a patient by mistake; the row keeps it for
// review and the hash proves it was not changed).
func grantSummary(g Grant) map[string]any {
	sum := sha256.Sum256([]byte(g.Reason))
	return map[string]any{
		"id": g.ID, "kind": g.Kind, "spiffe_id": g.SPIFFEID, "subject_id": g.SubjectID, "model": g.Model,
		"reason_sha256": hex.EncodeToString(sum[:]), "expires_at": g.ExpiresAt,
	}
}

// RequestBreakGlass stores and publishes a grant. The caller has already
// checked that actor may request one.
func (s *Service) RequestBreakGlass(ctx context.Context, actor string, req BreakGlassRequest) (Grant, audit.Record, error) {
	if err := req.Validate(s.maxBreakGlass); err != nil {
		return Grant{}, audit.Record{}, err
	}
	d, _ := ParseDuration("duration", req.Duration, s.maxBreakGlass)
	now := s.now().UTC()
	g := Grant{ID: newID(), Model: req.Model, Reason: req.Reason, RequestedBy: actor, CreatedAt: now, ExpiresAt: now.Add(d)}
	principal := req.SPIFFEID
	if req.SPIFFEID != "" {
		g.Kind, g.SPIFFEID = "spiffe", req.SPIFFEID
	} else {
		g.Kind, g.SubjectID = "subject", s.SubjectID(req.Subject)
		principal = g.SubjectID
	}
	e := audit.Entry{Time: now, Actor: actor, Action: "breakglass.grant", Target: "break-glass/" + g.ID, After: mustJSON(grantSummary(g))}
	rec, err := s.tables.Change(ctx, e, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO breakglass_grants (id, kind, principal, model, reason, requested_by, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, g.ID, g.Kind, principal, g.Model, g.Reason, actor, now.UnixNano(), g.ExpiresAt.UnixNano())
		return err
	})
	if err != nil {
		return Grant{}, audit.Record{}, err
	}
	s.log.Warn("break-glass grant issued", "grant", g.ID, "kind", g.Kind, "model", g.Model, "by", actor, "expires_at", g.ExpiresAt)
	s.republish(ctx)
	return g, rec, nil
}

// BreakGlassGrants lists every grant, newest first.
func (s *Service) BreakGlassGrants(ctx context.Context) ([]Grant, error) {
	rows, err := s.tables.Query(ctx, `SELECT `+grantCols+` FROM breakglass_grants ORDER BY created_at DESC, id`)
	if err != nil {
		return nil, fmt.Errorf("list break-glass grants: %w", err)
	}
	return scanGrants(rows)
}

// BreakGlassGrant returns one grant.
func (s *Service) BreakGlassGrant(ctx context.Context, id string) (Grant, error) {
	if err := ValidID(id); err != nil {
		return Grant{}, err
	}
	rows, err := s.tables.Query(ctx, `SELECT `+grantCols+` FROM breakglass_grants WHERE id = ?`, id)
	if err != nil {
		return Grant{}, fmt.Errorf("read break-glass grant: %w", err)
	}
	gs, err := scanGrants(rows)
	if err != nil {
		return Grant{}, err
	}
	if len(gs) == 0 {
		return Grant{}, fmt.Errorf("break-glass grant %s: %w", id, ErrNotFound)
	}
	return gs[0], nil
}

// ReviewBreakGlass marks a grant reviewed with the reviewer's note.
func (s *Service) ReviewBreakGlass(ctx context.Context, actor, id, note string) (Grant, audit.Record, error) {
	if len(note) > maxReason || !printable(note) {
		return Grant{}, audit.Record{}, fieldErr("note", "must be at most %d printable characters", maxReason)
	}
	g, err := s.BreakGlassGrant(ctx, id)
	if err != nil {
		return Grant{}, audit.Record{}, err
	}
	if g.ReviewedAt != nil {
		return g, audit.Record{}, fmt.Errorf("break-glass grant %s was reviewed by %s: %w", id, g.ReviewedBy, ErrEnded)
	}
	now := s.now().UTC()
	sum := sha256.Sum256([]byte(note))
	e := audit.Entry{Time: now, Actor: actor, Action: "breakglass.review", Target: "break-glass/" + id,
		After: mustJSON(map[string]any{"id": id, "reviewed_at": now, "note_sha256": hex.EncodeToString(sum[:])})}
	rec, err := s.tables.Change(ctx, e, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE breakglass_grants SET reviewed_at = ?, reviewed_by = ?, review_note = ? WHERE id = ?`, now.UnixNano(), actor, note, id)
		return err
	})
	if err != nil {
		return Grant{}, audit.Record{}, err
	}
	g.ReviewedAt, g.ReviewedBy, g.ReviewNote = &now, actor, note
	return g, rec, nil
}

// EndBreakGlass ends a grant before it expires and publishes the change.
func (s *Service) EndBreakGlass(ctx context.Context, actor, id string) (Grant, audit.Record, error) {
	g, err := s.BreakGlassGrant(ctx, id)
	if err != nil {
		return Grant{}, audit.Record{}, err
	}
	now := s.now().UTC()
	if !g.Active(now) {
		return g, audit.Record{}, fmt.Errorf("break-glass grant %s is no longer active: %w", id, ErrEnded)
	}
	e := audit.Entry{Time: now, Actor: actor, Action: "breakglass.end", Target: "break-glass/" + id,
		Before: mustJSON(grantSummary(g)), After: mustJSON(map[string]any{"id": id, "ended_at": now})}
	rec, err := s.tables.Change(ctx, e, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE breakglass_grants SET ended_at = ?, ended_by = ? WHERE id = ? AND ended_at IS NULL`, now.UnixNano(), actor, id)
		return err
	})
	if err != nil {
		return Grant{}, audit.Record{}, err
	}
	g.EndedAt, g.EndedBy = &now, actor
	s.republish(ctx)
	return g, rec, nil
}
