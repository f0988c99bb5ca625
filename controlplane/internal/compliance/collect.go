package compliance

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/secureai-nexus/nexus/controlplane/internal/atomicfile"
	"github.com/secureai-nexus/nexus/controlplane/internal/audit"
)

// AuditRecords reads the audit chain (the store).
type AuditRecords interface {
	VerifyAudit(ctx context.Context) (audit.Verification, error)
	AuditSize(ctx context.Context) (int64, error)
	audit.Nodes
}

// AuditLog collects the audit evidence from the store and keeps the last
// checkpoint it signed in a file: each report checks the log against the
// checkpoint the previous report left, then signs the log as it now
// stands. A log that no longer extends the kept checkpoint is never
// re-signed, so the violation stays until someone looks.
type AuditLog struct {
	Records AuditRecords
	Signer  *audit.Signer
	Origin  string
	// CheckpointFile keeps the last checkpoint note (0600).
	CheckpointFile string

	mu sync.Mutex
}

// AuditEvidence implements AuditSource.
func (a *AuditLog) AuditEvidence(ctx context.Context) (AuditEvidence, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	chain, err := a.Records.VerifyAudit(ctx)
	if err != nil {
		return AuditEvidence{}, fmt.Errorf("verify audit chain: %w", err)
	}
	// The chain walk checked every stored tree node against the records:
	// roots are read from the tree, not from the records a second time.
	size, err := a.Records.AuditSize(ctx)
	if err != nil {
		return AuditEvidence{}, fmt.Errorf("read audit tree: %w", err)
	}
	rootAt := func(n int64) (audit.Hash, error) { return audit.TreeRoot(ctx, a.Records, n) }
	e := AuditEvidence{Chain: chain, Size: size, RootAt: rootAt, VerifierKey: a.Signer.Verifier, Origin: a.Origin}
	prev, err := os.ReadFile(a.CheckpointFile)
	switch {
	case errors.Is(err, os.ErrNotExist):
		// First report: nothing to compare with yet, so the log is
		// signed as it stands and that checkpoint is what is checked.
		signed, err := a.sign(size, rootAt)
		if err != nil {
			return AuditEvidence{}, err
		}
		e.Checkpoint = signed
		return e, nil
	case err != nil:
		return AuditEvidence{}, fmt.Errorf("read the last checkpoint: %w", err)
	}
	e.Checkpoint = prev
	if checkAuditCheckpoint(e).Satisfied {
		if _, err := a.sign(size, rootAt); err != nil {
			return AuditEvidence{}, err
		}
	}
	return e, nil
}

func (a *AuditLog) sign(size int64, rootAt func(int64) (audit.Hash, error)) ([]byte, error) {
	root, err := rootAt(size)
	if err != nil {
		return nil, fmt.Errorf("read audit tree: %w", err)
	}
	signed, err := a.Signer.Sign(audit.Checkpoint{Origin: a.Origin, Size: size, Root: root})
	if err != nil {
		return nil, fmt.Errorf("sign checkpoint: %w", err)
	}
	if err := atomicfile.Write(a.CheckpointFile, signed, 0o600); err != nil {
		return nil, fmt.Errorf("keep checkpoint: %w", err)
	}
	return signed, nil
}
