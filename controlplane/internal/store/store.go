// Package store persists the control plane's state: traffic weights set
// through the admin API (which override the mesh file's) and the audit log.
// The embedded SQLite store serves one replica; PostgreSQL serves several
// behind the same interface.
package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/audit"
)

// Store is the control plane's persistent state. Every change is written
// together with its audit record in one transaction: there is never a
// change without its record, or a record without its change.
type Store interface {
	// Traffic returns the weights set through the API, by model and version.
	Traffic(ctx context.Context) (map[string]map[string]uint32, error)
	// SetTraffic stores model's weights and appends e to the audit log.
	SetTraffic(ctx context.Context, model string, weights map[string]uint32, e audit.Entry) (audit.Record, error)
	// Rollouts returns each model's last rollout state (JSON), by model.
	Rollouts(ctx context.Context) (map[string][]byte, error)
	// SaveRollout stores model's rollout state and, when e is set, appends
	// it to the audit log in the same transaction: every transition is
	// audited with the state it left.
	SaveRollout(ctx context.Context, model string, state []byte, at time.Time, e *audit.Entry) error
	// VersionStates returns the registry's record of each version (JSON:
	// its state and its last verification and validation reports), by
	// model and version.
	VersionStates(ctx context.Context) (map[string]map[string][]byte, error)
	// SaveVersionState stores a version's record with its audit entry.
	SaveVersionState(ctx context.Context, model, version string, record []byte, e audit.Entry) (audit.Record, error)
	// Append adds an audit record for a change that has no state here.
	Append(ctx context.Context, e audit.Entry) (audit.Record, error)
	// Audit returns up to limit records with seq > after, in order.
	Audit(ctx context.Context, after int64, limit int) ([]audit.Record, error)
	// VerifyAudit walks the whole chain.
	VerifyAudit(ctx context.Context) (audit.Verification, error)
	// CreateJoinToken stores a new join token (by hash) with its record.
	CreateJoinToken(ctx context.Context, t JoinToken, e audit.Entry) (audit.Record, error)
	// ConsumeJoinToken marks the token used if it is valid at now, and
	// appends the record entry builds from the outcome in the same
	// transaction: a refused token is audited as surely as a used one.
	ConsumeJoinToken(ctx context.Context, hash string, now time.Time, entry func(JoinToken, error) audit.Entry) (JoinToken, error)
	// RevokeJoinToken revokes an unused token.
	RevokeJoinToken(ctx context.Context, hash string, now time.Time, e audit.Entry) (audit.Record, error)
	Close() error
}

// JoinToken is a single-use credential bound to one SPIFFE id, exchanged
// once for an SVID. Only its hash is stored.
type JoinToken struct {
	Hash      string
	SPIFFEID  string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Reasons a join token is refused.
var (
	ErrTokenUnknown = errors.New("join token is unknown")
	ErrTokenUsed    = errors.New("join token was already used (replay)")
	ErrTokenExpired = errors.New("join token has expired")
	ErrTokenRevoked = errors.New("join token was revoked")
)

// ErrClosed is returned after Close.
var ErrClosed = errors.New("store is closed")

// Tables is what a package that keeps its own rows needs from the store:
// its schema, audited changes, and reads. *SQLite implements it.
type Tables interface {
	EnsureSchema(ctx context.Context, ddl string) error
	Change(ctx context.Context, e audit.Entry, change func(*sql.Tx) error, entry ...func() audit.Entry) (audit.Record, error)
	Query(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

var _ Tables = (*SQLite)(nil)
