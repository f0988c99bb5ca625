package store

import (
	"context"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/audit"
)

// Exec lets tests tamper with the database behind the store's back.
func (s *SQLite) Exec(ctx context.Context, q string) error {
	_, err := s.db.ExecContext(ctx, q)
	return err
}

// AppendBulk appends n records in one transaction, through the same
// sealing and tree code as write: benchmarks build a million-record log
// without a million fsyncs.
func (s *SQLite) AppendBulk(ctx context.Context, n int, entry func(i int) audit.Entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	var prev *audit.Record
	head, err := scanRecord(tx.QueryRowContext(ctx, `SELECT `+recordCols+` FROM audit ORDER BY seq DESC LIMIT 1`))
	if err == nil {
		prev = &head
	}
	ins, err := tx.PrepareContext(ctx, `INSERT INTO audit (seq, time, actor, action, target, before, after, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer ins.Close()
	for i := range n {
		rec, err := audit.Seal(prev, entry(i))
		if err != nil {
			return err
		}
		if _, err := ins.ExecContext(ctx, rec.Seq, rec.Time.Format(time.RFC3339Nano), rec.Actor, rec.Action, rec.Target,
			nullJSON(rec.Before), nullJSON(rec.After), rec.PrevHash, rec.Hash); err != nil {
			return err
		}
		if err := appendTree(ctx, tx, rec.Seq-1, audit.RecordLeaf(rec)); err != nil {
			return err
		}
		prev = &rec
	}
	return tx.Commit()
}
