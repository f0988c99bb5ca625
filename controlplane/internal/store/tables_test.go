package store_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/audit"
	"github.com/secureai-nexus/nexus/controlplane/internal/store"
)

// A package's own table changes commit with their audit record or not at
// all.
func TestTablesChangeCommitsWithItsRecord(t *testing.T) {
	ctx := context.Background()
	s, err := store.OpenSQLite(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.EnsureSchema(ctx, `CREATE TABLE IF NOT EXISTS things (name TEXT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureSchema(ctx, `CREATE TABLE IF NOT EXISTS things (name TEXT PRIMARY KEY)`); err != nil {
		t.Fatalf("schema is not idempotent: %v", err)
	}
	e := audit.Entry{Time: time.Now(), Actor: "test", Action: "thing.add", Target: "things/a"}
	if _, err := s.Change(ctx, e, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO things (name) VALUES ('a')`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	refused := errors.New("refused")
	if _, err := s.Change(ctx, e, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO things (name) VALUES ('b')`); err != nil {
			return err
		}
		return refused
	}); !errors.Is(err, refused) {
		t.Fatalf("a failed change must return its error, got %v", err)
	}
	rows, err := s.Query(ctx, `SELECT name FROM things ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	rows.Close()
	if len(names) != 1 || names[0] != "a" {
		t.Fatalf("rows = %v, want only the committed change [a]", names)
	}
	recs, err := s.Audit(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Action != "thing.add" {
		t.Fatalf("audit = %+v, want one thing.add record", recs)
	}
}
