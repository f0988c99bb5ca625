// Package store persists the control plane's state: traffic weights set
// through the admin API (which override the mesh file's) and the audit log.
// The embedded SQLite store serves one replica; PostgreSQL serves several
// behind the same interface.
package store

import (
	"context"
	"errors"

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
	// Append adds an audit record for a change that has no state here.
	Append(ctx context.Context, e audit.Entry) (audit.Record, error)
	// Audit returns up to limit records with seq > after, in order.
	Audit(ctx context.Context, after int64, limit int) ([]audit.Record, error)
	// VerifyAudit walks the whole chain.
	VerifyAudit(ctx context.Context) (audit.Verification, error)
	Close() error
}

// ErrClosed is returned after Close.
var ErrClosed = errors.New("store is closed")
