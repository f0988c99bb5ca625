package keys

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/audit"
	"github.com/secureai-nexus/nexus/controlplane/internal/store"
)

const schema = `
CREATE TABLE IF NOT EXISTS data_keys (
	id           TEXT PRIMARY KEY,
	class        TEXT NOT NULL,
	bucket_start TEXT,
	bucket_end   TEXT,
	subject      TEXT,
	kek_name     TEXT NOT NULL,
	kek_version  INTEGER NOT NULL,
	wrapped      BLOB NOT NULL,
	created_at   TEXT NOT NULL,
	destroyed_at TEXT,
	purged_at    TEXT,
	encryptions  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS data_keys_subject ON data_keys (subject) WHERE subject IS NOT NULL;
CREATE TABLE IF NOT EXISTS legal_holds (
	id         TEXT PRIMARY KEY,
	class      TEXT NOT NULL,
	subject    TEXT,
	from_time  TEXT,
	to_time    TEXT,
	reason     TEXT NOT NULL,
	actor      TEXT NOT NULL,
	created_at TEXT NOT NULL,
	lifted_at  TEXT,
	lifted_by  TEXT
);
`

// DefaultMaxEncryptions is how many messages one DEK seals before a new
// one replaces it: far below the 2^32 random-nonce bound of NIST SP
// 800-38D, so the chance of a nonce collision stays negligible.
const DefaultMaxEncryptions = 1 << 24

// Options configure a Keyring.
type Options struct {
	Tables store.Tables
	KEK    KEK
	// Classes default to DefaultClasses.
	Classes map[string]Class
	// MaxEncryptions per DEK; default DefaultMaxEncryptions.
	MaxEncryptions uint64
	Now            func() time.Time
	Log            *slog.Logger
	// KEKRotation, when set, rotates the KEK (and rewraps) once its
	// current version is older; the seed asks 30 days for keys at rest.
	KEKRotation time.Duration
	// Hooks run after a DEK is destroyed so the rows sealed under it can
	// be deleted by whoever keeps them.
	Hooks []DestroyHook
}

// DestroyHook deletes what was sealed under a destroyed DEK. It must be
// idempotent: after a crash it runs again for the same key.
type DestroyHook func(ctx context.Context, k DestroyedKey) error

// DestroyedKey is a destroyed DEK as hooks see it.
type DestroyedKey struct {
	ID, Class, Subject     string
	BucketStart, BucketEnd time.Time
}

// Keyring seals and opens data under DEKs it keeps in the store, wrapped
// by the KEK.
type Keyring struct {
	tables  store.Tables
	kek     KEK
	classes map[string]Class
	max     uint64
	now     func() time.Time
	log     *slog.Logger
	hooks   []DestroyHook
	kekRot  time.Duration

	mu sync.Mutex
	// loaded holds unwrapped DEKs by id; writers the DEK each slot
	// (class and bucket, or subject) seals under now. A DEK seals only in
	// the process that made it, so its count is exact; after a restart
	// each slot starts a new DEK.
	loaded  map[string]*liveKey
	writers map[string]*liveKey
}

type liveKey struct {
	row
	aead  cipher.AEAD
	raw   []byte
	count uint64
}

// row is a data_keys row without its wrapped key.
type row struct {
	ID          string
	Class       string
	BucketStart time.Time
	BucketEnd   time.Time
	Subject     string
	KEKName     string
	KEKVersion  int
	CreatedAt   time.Time
	DestroyedAt time.Time
	PurgedAt    time.Time
	Encryptions uint64
}

// maxLoaded bounds the unwrapped DEKs kept in memory.
const maxLoaded = 4096

// New opens the keyring, creating its tables.
func New(ctx context.Context, o Options) (*Keyring, error) {
	if o.Tables == nil || o.KEK == nil {
		return nil, errors.New("keys: a store and a KEK are required")
	}
	if o.Classes == nil {
		o.Classes = DefaultClasses()
	}
	for _, c := range o.Classes {
		if err := c.Validate(); err != nil {
			return nil, err
		}
	}
	if o.MaxEncryptions == 0 {
		o.MaxEncryptions = DefaultMaxEncryptions
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if err := o.Tables.EnsureSchema(ctx, schema); err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	// The KEK is read now so a missing or unreachable one fails the start,
	// not the first request.
	if _, err := o.KEK.Current(ctx); err != nil {
		return nil, fmt.Errorf("keys: KEK: %w", err)
	}
	return &Keyring{tables: o.Tables, kek: o.KEK, classes: o.Classes, max: o.MaxEncryptions, now: o.Now, log: o.Log,
		hooks: o.Hooks, kekRot: o.KEKRotation, loaded: map[string]*liveKey{}, writers: map[string]*liveKey{}}, nil
}

// AddDestroyHook registers another hook (a package that keeps sealed rows).
func (k *Keyring) AddDestroyHook(h DestroyHook) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.hooks = append(k.hooks, h)
}

// Classes returns the retention classes.
func (k *Keyring) Classes() []Class { return sortedClasses(k.classes) }

// KEK returns the key-encryption key.
func (k *Keyring) KEK() KEK { return k.kek }

// FieldError is a request refused for one field.
type FieldError struct {
	Field, Msg string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// ValidSubject says whether s looks like a keyed hash: the keyring never
// takes a raw identifier (an e-mail address, a name), since subjects end
// up in the audit log.
func ValidSubject(s string) error {
	if len(s) < 16 || len(s) > 128 {
		return &FieldError{"subject", "must be the subject's keyed hash (16-128 characters of A-Z a-z 0-9 : _ - .), never a raw identifier"}
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ':' || c == '_' || c == '-' || c == '.') {
			return &FieldError{"subject", "must be the subject's keyed hash (16-128 characters of A-Z a-z 0-9 : _ - .), never a raw identifier"}
		}
	}
	return nil
}

func (k *Keyring) check(c Context) (Class, error) {
	cl, ok := k.classes[c.Class]
	if !ok {
		return Class{}, &FieldError{"class", fmt.Sprintf("no retention class %q", c.Class)}
	}
	if c.Purpose == "" || len(c.Purpose) > 128 {
		return Class{}, &FieldError{"purpose", "must be 1-128 bytes"}
	}
	if cl.PerSubject || c.Subject != "" {
		if err := ValidSubject(c.Subject); err != nil {
			return Class{}, err
		}
	}
	return cl, nil
}

// Seal encrypts plaintext under the current DEK of c's class (its bucket
// now, or c's subject), binding c as associated data.
func (k *Keyring) Seal(ctx context.Context, c Context, plaintext []byte) ([]byte, error) {
	cl, err := k.check(c)
	if err != nil {
		return nil, err
	}
	lk, err := k.writer(ctx, cl, c.Subject)
	if err != nil {
		return nil, err
	}
	return sealWith(lk.aead, lk.ID, c, plaintext)
}

func slotOf(cl Class, subject string, now time.Time) string {
	if cl.PerSubject {
		return cl.Name + "|" + subject
	}
	start, _ := cl.bucketOf(now)
	return cl.Name + "|" + start.Format(time.RFC3339)
}

// writer returns the DEK to seal with, counting the encryption, and makes
// a new DEK when there is none for the slot or the current one has
// reached its age or count.
func (k *Keyring) writer(ctx context.Context, cl Class, subject string) (*liveKey, error) {
	now := k.now()
	slot := slotOf(cl, subject, now)
	k.mu.Lock()
	defer k.mu.Unlock()
	cur := k.writers[slot]
	if cur != nil && cur.count < k.max && (cl.rotation() == 0 || now.Sub(cur.CreatedAt) < cl.rotation()) && cur.DestroyedAt.IsZero() {
		cur.count++
		return cur, nil
	}
	lk, err := k.create(ctx, cl, subject, now, cur)
	if err != nil {
		return nil, err
	}
	// Writers of buckets that have ended are never used again.
	for s, w := range k.writers {
		if !w.BucketEnd.IsZero() && !now.Before(w.BucketEnd) {
			delete(k.writers, s)
		}
	}
	k.writers[slot] = lk
	k.remember(lk)
	lk.count++
	return lk, nil
}

func newID() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "dek_" + hex.EncodeToString(b), nil
}

// wrapAAD binds a wrapped DEK to its row: swapping wrapped keys between
// rows makes both fail to unwrap.
func wrapAAD(r row) []byte {
	out := []byte("nexus/data-key/v1")
	for _, f := range []string{r.ID, r.Class, ts(r.BucketStart), ts(r.BucketEnd), r.Subject} {
		out = binary.AppendUvarint(out, uint64(len(f)))
		out = append(out, f...)
	}
	return out
}

func ts(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func nullTS(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return ts(t)
}

func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// create makes, wraps and stores a new DEK; prev, the DEK it replaces,
// has its final count written in the same transaction. Callers hold mu.
func (k *Keyring) create(ctx context.Context, cl Class, subject string, now time.Time, prev *liveKey) (*liveKey, error) {
	id, err := newID()
	if err != nil {
		return nil, err
	}
	r := row{ID: id, Class: cl.Name, Subject: subject, KEKName: k.kek.Name(), CreatedAt: now.UTC()}
	if !cl.PerSubject {
		r.BucketStart, r.BucketEnd = cl.bucketOf(now)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	aead, err := newGCM(raw)
	if err != nil {
		return nil, err
	}
	wrapped, err := k.kek.Wrap(ctx, raw, wrapAAD(r))
	if err != nil {
		return nil, fmt.Errorf("wrap data key: %w", err)
	}
	if r.KEKVersion, err = k.kek.WrappedVersion(wrapped); err != nil {
		return nil, err
	}
	after := map[string]any{"class": r.Class, "kek": r.KEKName, "kek_version": r.KEKVersion}
	if subject != "" {
		after["subject"] = subject
	} else {
		after["bucket_start"], after["bucket_end"] = ts(r.BucketStart), ts(r.BucketEnd)
	}
	if prev != nil {
		after["replaces"] = prev.ID
		after["replaced_encryptions"] = prev.count
	}
	_, err = k.tables.Change(ctx, entry(now, "nexus-keys", "keys.dek.create", "data-keys/"+id, after), func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO data_keys (id, class, bucket_start, bucket_end, subject, kek_name, kek_version, wrapped, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.ID, r.Class, nullTS(r.BucketStart), nullTS(r.BucketEnd), nullStr(r.Subject),
			r.KEKName, r.KEKVersion, wrapped, ts(r.CreatedAt)); err != nil {
			return err
		}
		if prev != nil {
			_, err := tx.ExecContext(ctx, `UPDATE data_keys SET encryptions = ? WHERE id = ?`, prev.count, prev.ID)
			return err
		}
		return nil
	})
	if err != nil {
		clear(raw)
		return nil, fmt.Errorf("store data key: %w", err)
	}
	return &liveKey{row: r, aead: aead, raw: raw}, nil
}

func entry(now time.Time, actor, action, target string, after any) audit.Entry {
	raw, _ := json.Marshal(after)
	return audit.Entry{Time: now, Actor: actor, Action: action, Target: target, After: raw}
}

// remember caches an unwrapped DEK, dropping others (never a writer) past
// the bound. Callers hold mu.
func (k *Keyring) remember(lk *liveKey) {
	if len(k.loaded) >= maxLoaded {
		writers := map[string]bool{}
		for _, w := range k.writers {
			writers[w.ID] = true
		}
		for id := range k.loaded {
			if len(k.loaded) < maxLoaded/2 {
				break
			}
			if !writers[id] {
				delete(k.loaded, id)
			}
		}
	}
	k.loaded[lk.ID] = lk
}

// forget drops destroyed DEKs from memory, zeroing them. Callers hold mu.
func (k *Keyring) forget(ids ...string) {
	for _, id := range ids {
		if lk := k.loaded[id]; lk != nil {
			lk.DestroyedAt = k.now()
			clear(lk.raw)
			delete(k.loaded, id)
		}
		for s, w := range k.writers {
			if w.ID == id {
				delete(k.writers, s)
			}
		}
	}
}

// ErrExpired is Open's answer for data past its retention that the
// sweeper has not destroyed yet: it is not served.
var ErrExpired = errors.New("the data is past its retention")

// Open decrypts sealed under the context it was sealed with.
func (k *Keyring) Open(ctx context.Context, c Context, sealed []byte) ([]byte, error) {
	env, err := parseEnvelope(sealed)
	if err != nil {
		return nil, err
	}
	if _, err := k.check(c); err != nil {
		return nil, err
	}
	lk, err := k.reader(ctx, env.keyID)
	if err != nil {
		return nil, err
	}
	if lk.Class != c.Class || lk.Subject != c.Subject && k.classes[c.Class].PerSubject {
		return nil, ErrContext
	}
	if err := k.checkRetention(ctx, lk.row); err != nil {
		return nil, err
	}
	return openWith(lk.aead, env, c)
}

// checkRetention fails closed on a DEK past its retention unless a legal
// hold keeps it.
func (k *Keyring) checkRetention(ctx context.Context, r row) error {
	cl, ok := k.classes[r.Class]
	if !ok || cl.PerSubject || k.now().Sub(r.BucketEnd) <= cl.Retention {
		return nil
	}
	holds, err := k.Holds(ctx)
	if err != nil {
		return err
	}
	if _, held := heldBy(state(r), holds); held {
		return nil
	}
	return ErrExpired
}

func (k *Keyring) reader(ctx context.Context, id string) (*liveKey, error) {
	k.mu.Lock()
	lk := k.loaded[id]
	k.mu.Unlock()
	if lk != nil {
		return lk, nil
	}
	r, wrapped, err := k.loadRow(ctx, id)
	if err != nil {
		return nil, err
	}
	if !r.DestroyedAt.IsZero() {
		return nil, ErrDestroyed
	}
	raw, err := k.kek.Unwrap(ctx, wrapped, wrapAAD(r))
	if err != nil {
		return nil, fmt.Errorf("unwrap data key %s: %w", id, err)
	}
	aead, err := newGCM(raw)
	if err != nil {
		return nil, err
	}
	lk = &liveKey{row: r, aead: aead, raw: raw}
	k.mu.Lock()
	defer k.mu.Unlock()
	// A destruction may have committed while the key was unwrapped.
	if cur, _, err := k.loadRow(ctx, id); err != nil || !cur.DestroyedAt.IsZero() {
		clear(raw)
		return nil, ErrDestroyed
	}
	k.remember(lk)
	return lk, nil
}

const rowCols = `id, class, bucket_start, bucket_end, subject, kek_name, kek_version, created_at, destroyed_at, purged_at, encryptions`

func scanRow(s interface{ Scan(...any) error }, extra ...any) (row, error) {
	var r row
	var start, end, subject, destroyed, purged sql.NullString
	var created string
	dst := append([]any{&r.ID, &r.Class, &start, &end, &subject, &r.KEKName, &r.KEKVersion, &created, &destroyed, &purged, &r.Encryptions}, extra...)
	if err := s.Scan(dst...); err != nil {
		return r, err
	}
	parse := func(ns sql.NullString) time.Time {
		if !ns.Valid {
			return time.Time{}
		}
		t, _ := time.Parse(time.RFC3339Nano, ns.String)
		return t
	}
	r.BucketStart, r.BucketEnd, r.Subject = parse(start), parse(end), subject.String
	r.CreatedAt = parse(sql.NullString{String: created, Valid: true})
	r.DestroyedAt, r.PurgedAt = parse(destroyed), parse(purged)
	return r, nil
}

func (k *Keyring) loadRow(ctx context.Context, id string) (row, []byte, error) {
	rows, err := k.tables.Query(ctx, `SELECT `+rowCols+`, wrapped FROM data_keys WHERE id = ?`, id)
	if err != nil {
		return row{}, nil, fmt.Errorf("read data key: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return row{}, nil, fmt.Errorf("read data key: %w", err)
		}
		return row{}, nil, ErrUnknownKey
	}
	var wrapped []byte
	r, err := scanRow(rows, &wrapped)
	if err != nil {
		return row{}, nil, fmt.Errorf("read data key: %w", err)
	}
	return r, wrapped, nil
}

// rowsWhere reads data key rows matching cond (a fixed SQL condition).
func (k *Keyring) rowsWhere(ctx context.Context, cond string, args ...any) ([]row, error) {
	q := `SELECT ` + rowCols + ` FROM data_keys`
	if cond != "" {
		q += ` WHERE ` + cond
	}
	rows, err := k.tables.Query(ctx, q+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("read data keys: %w", err)
	}
	defer rows.Close()
	var out []row
	for rows.Next() {
		r, err := scanRow(rows)
		if err != nil {
			return nil, fmt.Errorf("read data keys: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Close writes each live DEK's count and drops every DEK from memory.
func (k *Keyring) Close(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	counts := map[string]uint64{}
	for _, w := range k.writers {
		if w.count > 0 {
			counts[w.ID] = w.count
		}
	}
	var err error
	if len(counts) > 0 {
		_, err = k.tables.Change(ctx, entry(k.now(), "nexus-keys", "keys.dek.retire", "data-keys", map[string]any{"encryptions": counts}), func(tx *sql.Tx) error {
			for id, n := range counts {
				if _, err := tx.ExecContext(ctx, `UPDATE data_keys SET encryptions = ? WHERE id = ?`, n, id); err != nil {
					return err
				}
			}
			return nil
		})
	}
	for id, lk := range k.loaded {
		clear(lk.raw)
		delete(k.loaded, id)
	}
	clear(k.writers)
	return err
}
