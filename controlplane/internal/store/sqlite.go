package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	_ "modernc.org/sqlite" // pure-Go SQLite driver, no cgo

	"github.com/secureai-nexus/nexus/controlplane/internal/audit"
)

// SQLite is the embedded store: one file under the data dir, in WAL mode
// with full fsync, so a kill -9 mid-write leaves either the whole change
// and its audit record, or neither.
type SQLite struct {
	db *sql.DB
	// mu serializes writers: the chain needs the head read and the new
	// record written atomically.
	mu sync.Mutex
}

var _ Store = (*SQLite)(nil)

const schema = `
CREATE TABLE IF NOT EXISTS traffic (
	model      TEXT PRIMARY KEY,
	weights    TEXT NOT NULL,
	updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
	seq       INTEGER PRIMARY KEY,
	time      TEXT NOT NULL,
	actor     TEXT NOT NULL,
	action    TEXT NOT NULL,
	target    TEXT NOT NULL,
	before    TEXT,
	after     TEXT,
	prev_hash TEXT NOT NULL,
	hash      TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS audit_tree (
	level INTEGER NOT NULL,
	idx   INTEGER NOT NULL,
	hash  BLOB NOT NULL,
	PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollouts (
	model      TEXT PRIMARY KEY,
	state      TEXT NOT NULL,
	updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS version_states (
	model      TEXT NOT NULL,
	version    TEXT NOT NULL,
	record     TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	PRIMARY KEY (model, version)
);
CREATE TABLE IF NOT EXISTS join_tokens (
	hash       TEXT PRIMARY KEY,
	spiffe_id  TEXT NOT NULL,
	created_at TEXT NOT NULL,
	expires_at TEXT NOT NULL,
	used_at    TEXT,
	revoked_at TEXT
);
`

// OpenSQLite opens (creating if needed) the store in dir.
func OpenSQLite(ctx context.Context, dir string) (*SQLite, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	path := filepath.Join(dir, "nexus.db")
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("create schema in %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		db.Close()
		return nil, fmt.Errorf("restrict %s: %w", path, err)
	}
	s := &SQLite{db: db}
	if err := s.backfillTree(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// backfillTree adds the Merkle tree nodes of records written before the
// store kept them, so every database serves proofs from stored nodes.
func (s *SQLite) backfillTree(ctx context.Context) error {
	var records, leaves int64
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM audit`).Scan(&records); err != nil {
		return fmt.Errorf("read audit size: %w", err)
	}
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_tree WHERE level = 0`).Scan(&leaves); err != nil {
		return fmt.Errorf("read audit tree size: %w", err)
	}
	if leaves >= records {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	rows, err := tx.QueryContext(ctx, `SELECT seq, hash FROM audit WHERE seq > ? ORDER BY seq`, leaves)
	if err != nil {
		return fmt.Errorf("read audit log: %w", err)
	}
	type leaf struct {
		seq  int64
		hash string
	}
	var todo []leaf
	for rows.Next() {
		var l leaf
		if err := rows.Scan(&l.seq, &l.hash); err != nil {
			rows.Close()
			return err
		}
		todo = append(todo, l)
	}
	rows.Close()
	for _, l := range todo {
		if err := appendTree(ctx, tx, l.seq-1, audit.LeafHash([]byte(l.hash))); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// txNodes reads tree nodes inside a transaction.
type txNodes struct{ tx *sql.Tx }

func (t txNodes) Node(ctx context.Context, level int, index int64) (audit.Hash, error) {
	return readNode(t.tx.QueryRowContext(ctx, `SELECT hash FROM audit_tree WHERE level = ? AND idx = ?`, level, index))
}

func readNode(row *sql.Row) (audit.Hash, error) {
	var raw []byte
	if err := row.Scan(&raw); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			// Within the tree's size every node is stored: a missing one
			// is damage, not a request out of range.
			return audit.Hash{}, errors.New("audit tree node is not stored")
		}
		return audit.Hash{}, err
	}
	var h audit.Hash
	if len(raw) != len(h) {
		return h, fmt.Errorf("audit tree node has %d bytes", len(raw))
	}
	copy(h[:], raw)
	return h, nil
}

func appendTree(ctx context.Context, tx *sql.Tx, index int64, leaf audit.Hash) error {
	nodes, err := audit.TreeAppend(ctx, index, leaf, txNodes{tx})
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_tree (level, idx, hash) VALUES (?, ?, ?)`, n.Level, n.Index, n.Hash[:]); err != nil {
			return fmt.Errorf("append audit tree node %d/%d: %w", n.Level, n.Index, err)
		}
	}
	return nil
}

// AuditSize is the number of audit records: the tree's size.
func (s *SQLite) AuditSize(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_tree WHERE level = 0`).Scan(&n); err != nil {
		return 0, fmt.Errorf("read audit size: %w", err)
	}
	return n, nil
}

// Node implements audit.Nodes over the stored tree.
func (s *SQLite) Node(ctx context.Context, level int, index int64) (audit.Hash, error) {
	return readNode(s.db.QueryRowContext(ctx, `SELECT hash FROM audit_tree WHERE level = ? AND idx = ?`, level, index))
}

// Close closes the database.
func (s *SQLite) Close() error { return s.db.Close() }

// Traffic implements Store.
func (s *SQLite) Traffic(ctx context.Context) (map[string]map[string]uint32, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT model, weights FROM traffic ORDER BY model`)
	if err != nil {
		return nil, fmt.Errorf("read traffic: %w", err)
	}
	defer rows.Close()
	out := map[string]map[string]uint32{}
	for rows.Next() {
		var model, raw string
		if err := rows.Scan(&model, &raw); err != nil {
			return nil, fmt.Errorf("read traffic: %w", err)
		}
		w := map[string]uint32{}
		if err := json.Unmarshal([]byte(raw), &w); err != nil {
			return nil, fmt.Errorf("traffic of %s is corrupt: %w", model, err)
		}
		out[model] = w
	}
	return out, rows.Err()
}

// SetTraffic implements Store.
func (s *SQLite) SetTraffic(ctx context.Context, model string, weights map[string]uint32, e audit.Entry) (audit.Record, error) {
	raw, err := json.Marshal(weights) // sorted keys
	if err != nil {
		return audit.Record{}, err
	}
	return s.write(ctx, e, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO traffic (model, weights, updated_at) VALUES (?, ?, ?)
			ON CONFLICT(model) DO UPDATE SET weights = excluded.weights, updated_at = excluded.updated_at`,
			model, string(raw), e.Time.UTC().Format(time.RFC3339Nano))
		return err
	})
}

// Rollouts implements Store.
func (s *SQLite) Rollouts(ctx context.Context) (map[string][]byte, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT model, state FROM rollouts ORDER BY model`)
	if err != nil {
		return nil, fmt.Errorf("read rollouts: %w", err)
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var model, raw string
		if err := rows.Scan(&model, &raw); err != nil {
			return nil, fmt.Errorf("read rollouts: %w", err)
		}
		out[model] = []byte(raw)
	}
	return out, rows.Err()
}

// VersionStates implements Store.
func (s *SQLite) VersionStates(ctx context.Context) (map[string]map[string][]byte, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT model, version, record FROM version_states ORDER BY model, version`)
	if err != nil {
		return nil, fmt.Errorf("read version states: %w", err)
	}
	defer rows.Close()
	out := map[string]map[string][]byte{}
	for rows.Next() {
		var model, version, raw string
		if err := rows.Scan(&model, &version, &raw); err != nil {
			return nil, fmt.Errorf("read version states: %w", err)
		}
		if out[model] == nil {
			out[model] = map[string][]byte{}
		}
		out[model][version] = []byte(raw)
	}
	return out, rows.Err()
}

// SaveVersionState implements Store.
func (s *SQLite) SaveVersionState(ctx context.Context, model, version string, record []byte, e audit.Entry) (audit.Record, error) {
	return s.write(ctx, e, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO version_states (model, version, record, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT(model, version) DO UPDATE SET record = excluded.record, updated_at = excluded.updated_at`,
			model, version, string(record), e.Time.UTC().Format(time.RFC3339Nano))
		return err
	})
}

// SaveRollout implements Store.
func (s *SQLite) SaveRollout(ctx context.Context, model string, state []byte, at time.Time, e *audit.Entry) error {
	save := func(tx interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
	}) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO rollouts (model, state, updated_at) VALUES (?, ?, ?)
			ON CONFLICT(model) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`,
			model, string(state), at.UTC().Format(time.RFC3339Nano))
		return err
	}
	if e != nil {
		_, err := s.write(ctx, *e, func(tx *sql.Tx) error { return save(tx) })
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := save(s.db); err != nil {
		return fmt.Errorf("save rollout: %w", err)
	}
	return nil
}

// Append implements Store.
func (s *SQLite) Append(ctx context.Context, e audit.Entry) (audit.Record, error) {
	return s.write(ctx, e, nil)
}

func (s *SQLite) write(ctx context.Context, e audit.Entry, change func(*sql.Tx) error, entry ...func() audit.Entry) (audit.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return audit.Record{}, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	if change != nil {
		if err := change(tx); err != nil {
			return audit.Record{}, fmt.Errorf("write change: %w", err)
		}
	}
	// Some records depend on what the change found (a join token's fate).
	for _, f := range entry {
		e = f()
	}
	head, err := scanRecord(tx.QueryRowContext(ctx, `SELECT `+recordCols+` FROM audit ORDER BY seq DESC LIMIT 1`))
	var prev *audit.Record
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return audit.Record{}, fmt.Errorf("read audit head: %w", err)
	default:
		prev = &head
	}
	rec, err := audit.Seal(prev, e)
	if err != nil {
		return audit.Record{}, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit (seq, time, actor, action, target, before, after, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		rec.Seq, rec.Time.Format(time.RFC3339Nano), rec.Actor, rec.Action, rec.Target,
		nullJSON(rec.Before), nullJSON(rec.After), rec.PrevHash, rec.Hash); err != nil {
		return audit.Record{}, fmt.Errorf("append audit record: %w", err)
	}
	if err := appendTree(ctx, tx, rec.Seq-1, audit.RecordLeaf(rec)); err != nil {
		return audit.Record{}, err
	}
	if err := tx.Commit(); err != nil {
		return audit.Record{}, fmt.Errorf("commit: %w", err)
	}
	return rec, nil
}

const recordCols = `seq, time, actor, action, target, before, after, prev_hash, hash`

type scanner interface{ Scan(...any) error }

func scanRecord(row scanner) (audit.Record, error) {
	var r audit.Record
	var t string
	var before, after sql.NullString
	if err := row.Scan(&r.Seq, &t, &r.Actor, &r.Action, &r.Target, &before, &after, &r.PrevHash, &r.Hash); err != nil {
		return r, err
	}
	ts, err := time.Parse(time.RFC3339Nano, t)
	if err != nil {
		return r, fmt.Errorf("audit record %d has a bad time %q: %w", r.Seq, t, err)
	}
	r.Time = ts
	if before.Valid {
		r.Before = json.RawMessage(before.String)
	}
	if after.Valid {
		r.After = json.RawMessage(after.String)
	}
	return r, nil
}

func nullJSON(raw json.RawMessage) any {
	if len(raw) == 0 {
		return nil
	}
	return string(raw)
}

// Audit implements Store.
func (s *SQLite) Audit(ctx context.Context, after int64, limit int) ([]audit.Record, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+recordCols+` FROM audit WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read audit: %w", err)
	}
	defer rows.Close()
	out := []audit.Record{}
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// VerifyAudit implements Store. It streams the chain rather than loading it.
func (s *SQLite) VerifyAudit(ctx context.Context) (audit.Verification, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+recordCols+` FROM audit ORDER BY seq`)
	if err != nil {
		return audit.Verification{}, fmt.Errorf("read audit: %w", err)
	}
	defer rows.Close()
	var v audit.Verifier
	var leaves []audit.Hash
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return audit.Verification{}, err
		}
		if !v.Add(r) {
			break
		}
		leaves = append(leaves, audit.RecordLeaf(r))
	}
	if err := rows.Err(); err != nil {
		return audit.Verification{}, err
	}
	rows.Close()
	res := v.Result()
	if !res.OK {
		return res, nil
	}
	// Checkpoints and proofs are served from the stored tree: every node
	// of it must be the tree of these records.
	if err := s.verifyTree(ctx, leaves); err != nil {
		res.OK, res.BrokenAt = false, res.Records
		res.Reason = "the stored Merkle tree does not match the records: " + err.Error()
	}
	return res, nil
}

// verifyTree compares the stored nodes over the first len(leaves) leaves
// with the nodes recomputed from them, level by level (nodes appended
// since the records were read are past that range and ignored).
func (s *SQLite) verifyTree(ctx context.Context, leaves []audit.Hash) error {
	rows, err := s.db.QueryContext(ctx, `SELECT level, idx, hash FROM audit_tree ORDER BY level, idx`)
	if err != nil {
		return err
	}
	defer rows.Close()
	level, want := 0, leaves
	next := 0 // index in want of the next expected node
	for rows.Next() {
		var l int
		var idx int64
		var raw []byte
		if err := rows.Scan(&l, &idx, &raw); err != nil {
			return err
		}
		for l > level {
			if next < len(want) {
				return fmt.Errorf("node %d/%d is missing", level, next)
			}
			parents := make([]audit.Hash, len(want)/2)
			for i := range parents {
				parents[i] = audit.NodeHash(want[2*i], want[2*i+1])
			}
			level, want, next = level+1, parents, 0
		}
		if idx >= int64(len(want)) {
			continue // appended after the records were read
		}
		if idx != int64(next) {
			return fmt.Errorf("node %d/%d is missing", level, next)
		}
		if string(raw) != string(want[idx][:]) {
			return fmt.Errorf("node %d/%d was edited", level, idx)
		}
		next++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if next < len(want) || len(want) > 1 {
		return fmt.Errorf("node %d/%d is missing", level, next)
	}
	return nil
}

// CreateJoinToken implements Store.
func (s *SQLite) CreateJoinToken(ctx context.Context, t JoinToken, e audit.Entry) (audit.Record, error) {
	return s.write(ctx, e, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO join_tokens (hash, spiffe_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
			t.Hash, t.SPIFFEID, t.CreatedAt.UTC().Format(time.RFC3339Nano), t.ExpiresAt.UTC().Format(time.RFC3339Nano))
		return err
	})
}

// ConsumeJoinToken implements Store.
func (s *SQLite) ConsumeJoinToken(ctx context.Context, hash string, now time.Time, e func(JoinToken, error) audit.Entry) (JoinToken, error) {
	var (
		tok    JoinToken
		tokErr error
	)
	_, err := s.write(ctx, audit.Entry{}, func(tx *sql.Tx) error {
		tok, tokErr = consume(ctx, tx, hash, now)
		return nil
	}, func() audit.Entry { return e(tok, tokErr) })
	if err != nil {
		return JoinToken{}, err
	}
	return tok, tokErr
}

func consume(ctx context.Context, tx *sql.Tx, hash string, now time.Time) (JoinToken, error) {
	var (
		t                JoinToken
		created, expires string
		used, revoked    sql.NullString
	)
	err := tx.QueryRowContext(ctx, `SELECT hash, spiffe_id, created_at, expires_at, used_at, revoked_at FROM join_tokens WHERE hash = ?`, hash).
		Scan(&t.Hash, &t.SPIFFEID, &created, &expires, &used, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return JoinToken{}, ErrTokenUnknown
	}
	if err != nil {
		return JoinToken{}, err
	}
	t.CreatedAt, _ = time.Parse(time.RFC3339Nano, created)
	t.ExpiresAt, _ = time.Parse(time.RFC3339Nano, expires)
	switch {
	case revoked.Valid:
		return t, ErrTokenRevoked
	case used.Valid:
		return t, ErrTokenUsed
	case !now.Before(t.ExpiresAt):
		return t, ErrTokenExpired
	}
	_, err = tx.ExecContext(ctx, `UPDATE join_tokens SET used_at = ? WHERE hash = ?`, now.UTC().Format(time.RFC3339Nano), hash)
	return t, err
}

// RevokeJoinToken implements Store.
func (s *SQLite) RevokeJoinToken(ctx context.Context, hash string, now time.Time, e audit.Entry) (audit.Record, error) {
	return s.write(ctx, e, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE join_tokens SET revoked_at = ? WHERE hash = ? AND revoked_at IS NULL AND used_at IS NULL`,
			now.UTC().Format(time.RFC3339Nano), hash)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrTokenUnknown
		}
		return nil
	})
}

// EnsureSchema creates a package's own tables (ddl is idempotent: CREATE
// TABLE IF NOT EXISTS …). Packages such as keys and consent keep their
// rows in the store's database so a change and its audit record still
// commit in one transaction.
func (s *SQLite) EnsureSchema(ctx context.Context, ddl string) error {
	if _, err := s.db.ExecContext(ctx, ddl); err != nil {
		return fmt.Errorf("create schema: %w", err)
	}
	return nil
}

// Change runs change and appends e to the audit log in one transaction:
// either both are written or neither. entry, when given, builds the
// record from what the change found.
func (s *SQLite) Change(ctx context.Context, e audit.Entry, change func(*sql.Tx) error, entry ...func() audit.Entry) (audit.Record, error) {
	return s.write(ctx, e, change, entry...)
}

// Query runs a read-only query against the store's database.
func (s *SQLite) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return s.db.QueryContext(ctx, query, args...)
}

// OpenJoinTokens lists the join tokens that can still be exchanged at now:
// unused, unrevoked, unexpired.
func (s *SQLite) OpenJoinTokens(ctx context.Context, now time.Time) ([]JoinToken, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT hash, spiffe_id, created_at, expires_at FROM join_tokens
		WHERE used_at IS NULL AND revoked_at IS NULL AND expires_at > ? ORDER BY created_at`, now.UTC().Format(time.RFC3339Nano))
	if err != nil {
		return nil, fmt.Errorf("read join tokens: %w", err)
	}
	defer rows.Close()
	var out []JoinToken
	for rows.Next() {
		var t JoinToken
		var created, expires string
		if err := rows.Scan(&t.Hash, &t.SPIFFEID, &created, &expires); err != nil {
			return nil, fmt.Errorf("read join tokens: %w", err)
		}
		if t.CreatedAt, err = time.Parse(time.RFC3339Nano, created); err != nil {
			return nil, fmt.Errorf("join token %.16s: created_at: %w", t.Hash, err)
		}
		if t.ExpiresAt, err = time.Parse(time.RFC3339Nano, expires); err != nil {
			return nil, fmt.Errorf("join token %.16s: expires_at: %w", t.Hash, err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}
