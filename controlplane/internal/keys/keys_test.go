package keys_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/keys"
	"github.com/secureai-nexus/nexus/controlplane/internal/store"
)

// clock is a settable time for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type env struct {
	st    *store.SQLite
	kek   *keys.LocalKEK
	ring  *keys.Keyring
	clock *clock
	dir   string
}

func newEnv(t testing.TB, opts ...func(*keys.Options)) *env {
	t.Helper()
	dir := t.TempDir()
	return openEnv(t, dir, &clock{t: time.Date(2026, 3, 1, 10, 30, 0, 0, time.UTC)}, opts...)
}

func openEnv(t testing.TB, dir string, c *clock, opts ...func(*keys.Options)) *env {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	kek := &keys.LocalKEK{Path: filepath.Join(dir, "keys", "kek.json"), Now: c.Now}
	o := keys.Options{Tables: st, KEK: kek, Now: c.Now}
	for _, f := range opts {
		f(&o)
	}
	ring, err := keys.New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	return &env{st: st, kek: kek, ring: ring, clock: c, dir: dir}
}

const subj = "hmac-sha256:3f9a1c0d5e7b2a4c"

var inference = keys.Context{Purpose: "audit-capture", Class: keys.ClassInference}

func TestSealOpenRoundTrip(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, pt := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte("patient note "), 1000)} {
		sealed, err := e.ring.Seal(ctx, inference, pt)
		if err != nil {
			t.Fatal(err)
		}
		if len(pt) > 4 && bytes.Contains(sealed, pt[:5]) {
			t.Fatal("sealed data holds the plaintext")
		}
		got, err := e.ring.Open(ctx, inference, sealed)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("open = %q, %v", got, err)
		}
	}
	// Two seals of the same plaintext differ (fresh nonces).
	a, _ := e.ring.Seal(ctx, inference, []byte("same"))
	b, _ := e.ring.Seal(ctx, inference, []byte("same"))
	if bytes.Equal(a, b) {
		t.Error("two seals are identical: nonce reused")
	}
	st, err := os.Stat(e.kek.Path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("keyring file mode = %v, %v; want 0600", st.Mode().Perm(), err)
	}
}

func TestOpenRefusesAnotherContext(t *testing.T) {
	e := newEnv(t, func(o *keys.Options) {
		o.Classes = keys.DefaultClasses()
		o.Classes["logs2"] = keys.Class{Name: "logs2", Retention: 24 * time.Hour, Bucket: time.Hour}
	})
	ctx := context.Background()
	sealed, err := e.ring.Seal(ctx, inference, []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]keys.Context{
		"other purpose": {Purpose: "analytics", Class: keys.ClassInference},
		"other class":   {Purpose: "audit-capture", Class: "logs2"},
		"subject added": {Purpose: "audit-capture", Class: keys.ClassInference, Subject: subj},
	} {
		if _, err := e.ring.Open(ctx, c, sealed); !errors.Is(err, keys.ErrContext) {
			t.Errorf("%s: err = %v, want ErrContext", name, err)
		}
	}
	ss := e.ring.SubjectSealer("test")
	s1, err := ss.Seal(ctx, subj, "consent", []byte("record"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ss.Open(ctx, "hmac-sha256:0000000000000000", "consent", s1); !errors.Is(err, keys.ErrContext) {
		t.Errorf("another subject: err = %v, want ErrContext", err)
	}
	// A flipped bit anywhere fails.
	for i := range sealed {
		bad := bytes.Clone(sealed)
		bad[i] ^= 1
		if _, err := e.ring.Open(ctx, inference, bad); err == nil {
			t.Fatalf("a flipped bit at %d still opened", i)
		}
	}
}

func TestRawSubjectsRefused(t *testing.T) {
	e := newEnv(t)
	ss := e.ring.SubjectSealer("test")
	for _, s := range []string{"", "alice@example.org", "Jane Doe", "short"} {
		if _, err := ss.Seal(context.Background(), s, "consent", []byte("x")); err == nil {
			t.Errorf("subject %q accepted", s)
		}
	}
}

// Destroying a DEK makes what it sealed unreadable, even after a restart
// and with the KEK at hand.
func TestDestroyedKeyFails(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sealed, err := e.ring.Seal(ctx, inference, []byte("kept 24h"))
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Add(26 * time.Hour)
	res, err := e.ring.Sweep(ctx)
	if err != nil || len(res.Destroyed) != 1 {
		t.Fatalf("sweep = %+v, %v; want one destroyed", res, err)
	}
	if _, err := e.ring.Open(ctx, inference, sealed); !errors.Is(err, keys.ErrDestroyed) {
		t.Fatalf("open after destruction: %v, want ErrDestroyed", err)
	}
	// A fresh keyring over the same store and KEK cannot open it either.
	e2 := openEnv(t, e.dir, e.clock)
	if _, err := e2.ring.Open(ctx, inference, sealed); !errors.Is(err, keys.ErrDestroyed) {
		t.Fatalf("open after restart: %v, want ErrDestroyed", err)
	}
	// The wrapped key is gone from the table.
	rows, err := e.st.Query(ctx, `SELECT wrapped FROM data_keys`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var w []byte
		if err := rows.Scan(&w); err != nil {
			t.Fatal(err)
		}
		if len(bytes.Trim(w, "\x00")) != 0 {
			t.Errorf("wrapped key not overwritten: %q", w)
		}
	}
	recs, _ := e.st.Audit(ctx, 0, 100)
	if !hasAction(recs, "keys.dek.destroy") {
		t.Error("destruction not audited")
	}
}

// Rotation (of DEKs each hour and of the KEK) keeps old data readable
// until its retention ends, then it is destroyed.
func TestRotationKeepsOldDataUntilRetention(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	first, _ := e.ring.Seal(ctx, inference, []byte("hour 10"))
	e.clock.Add(time.Hour)
	second, _ := e.ring.Seal(ctx, inference, []byte("hour 11"))
	if keyOf(t, first) == keyOf(t, second) {
		t.Fatal("a new hour did not get a new DEK")
	}
	rot, err := e.ring.RotateKEK(ctx, "admin")
	if err != nil || rot.From != 1 || rot.To != 2 || rot.Rewrapped != 2 {
		t.Fatalf("rotate = %+v, %v", rot, err)
	}
	// A restart drops the cached DEKs: both are unwrapped again from v2.
	e2 := openEnv(t, e.dir, e.clock)
	for _, s := range [][]byte{first, second} {
		if _, err := e2.ring.Open(ctx, inference, s); err != nil {
			t.Fatalf("data unreadable after rotation: %v", err)
		}
	}
	inv, _ := e2.ring.Inventory(ctx)
	for _, k := range inv.Keys {
		if k.KEKVersion != 2 {
			t.Errorf("key %s still on KEK v%d after rewrap", k.ID, k.KEKVersion)
		}
	}
	// 24h after hour 10 ended (11:00) the first DEK goes; the second stays.
	e.clock.Set(time.Date(2026, 3, 2, 11, 0, 1, 0, time.UTC))
	res, err := e2.ring.Sweep(ctx)
	if err != nil || len(res.Destroyed) != 1 || res.Destroyed[0] != keyOf(t, first) {
		t.Fatalf("sweep = %+v, %v", res, err)
	}
	if _, err := e2.ring.Open(ctx, inference, second); err != nil {
		t.Fatalf("second hour unreadable before its retention ended: %v", err)
	}
}

func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func TestEncryptionCapRotatesDEK(t *testing.T) {
	e := newEnv(t, func(o *keys.Options) { o.MaxEncryptions = 3 })
	ctx := context.Background()
	ids := map[string]int{}
	var sealed [][]byte
	for range 7 {
		s, err := e.ring.Seal(ctx, inference, []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		ids[keyOf(t, s)]++
		sealed = append(sealed, s)
	}
	if len(ids) != 3 {
		t.Fatalf("7 seals with a cap of 3 used %d DEKs, want 3: %v", len(ids), ids)
	}
	for id, n := range ids {
		if n > 3 {
			t.Errorf("DEK %s sealed %d times, over the cap", id, n)
		}
	}
	for _, s := range sealed {
		if _, err := e.ring.Open(ctx, inference, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.ring.Close(ctx); err != nil {
		t.Fatal(err)
	}
	inv, _ := e.ring.Inventory(ctx)
	var total uint64
	for _, k := range inv.Keys {
		total += k.Encryptions
	}
	if total != 7 {
		t.Errorf("stored encryption counts sum to %d, want 7", total)
	}
}

func TestLegalHoldBlocksDestruction(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sealed, _ := e.ring.Seal(ctx, inference, []byte("evidence"))
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	to := from.Add(24 * time.Hour)
	h, err := e.ring.PlaceHold(ctx, "counsel", keys.HoldRequest{Class: keys.ClassInference, From: &from, To: &to, Reason: "case 2026-114"})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Add(48 * time.Hour)
	res, err := e.ring.Sweep(ctx)
	if err != nil || len(res.Destroyed) != 0 || len(res.Held) != 1 || res.Held[0].Hold != h.ID {
		t.Fatalf("sweep under hold = %+v, %v", res, err)
	}
	if got, err := e.ring.Open(ctx, inference, sealed); err != nil || string(got) != "evidence" {
		t.Fatalf("held data unreadable: %v", err)
	}
	inv, _ := e.ring.Inventory(ctx)
	if inv.Keys[0].State != keys.StateHeld {
		t.Errorf("state = %s, want held", inv.Keys[0].State)
	}
	if _, err := e.ring.LiftHold(ctx, "counsel", h.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ring.LiftHold(ctx, "counsel", h.ID); !errors.Is(err, keys.ErrHoldNotFound) {
		t.Errorf("lifting twice: %v, want ErrHoldNotFound", err)
	}
	res, err = e.ring.Sweep(ctx)
	if err != nil || len(res.Destroyed) != 1 {
		t.Fatalf("sweep after lift = %+v, %v", res, err)
	}
	recs, _ := e.st.Audit(ctx, 0, 100)
	for _, a := range []string{"keys.hold.place", "keys.hold.lift", "keys.dek.destroy"} {
		if !hasAction(recs, a) {
			t.Errorf("%s not audited", a)
		}
	}
}

// Past retention but not swept yet: not served (fail closed).
func TestOverdueDataNotServed(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sealed, _ := e.ring.Seal(ctx, inference, []byte("old"))
	e.clock.Add(26 * time.Hour)
	if _, err := e.ring.Open(ctx, inference, sealed); !errors.Is(err, keys.ErrExpired) {
		t.Fatalf("open past retention: %v, want ErrExpired", err)
	}
}

func TestForgetSubject(t *testing.T) {
	var hooked []keys.DestroyedKey
	e := newEnv(t, func(o *keys.Options) {
		o.Hooks = []keys.DestroyHook{func(_ context.Context, d keys.DestroyedKey) error { hooked = append(hooked, d); return nil }}
	})
	ctx := context.Background()
	ss := e.ring.SubjectSealer("dpo")
	other := "hmac-sha256:aaaaaaaaaaaaaaaa"
	mine, _ := ss.Seal(ctx, subj, "consent", []byte("consent record"))
	theirs, _ := ss.Seal(ctx, other, "consent", []byte("other record"))
	h, err := e.ring.PlaceHold(ctx, "counsel", keys.HoldRequest{Class: keys.ClassSubject, Subject: subj, Reason: "case 7"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ss.ForgetSubject(ctx, subj); !errors.Is(err, keys.ErrHeld) {
		t.Fatalf("erasure under hold: %v, want ErrHeld", err)
	}
	if _, err := ss.Open(ctx, subj, "consent", mine); err != nil {
		t.Fatalf("held subject unreadable: %v", err)
	}
	if _, err := e.ring.LiftHold(ctx, "counsel", h.ID); err != nil {
		t.Fatal(err)
	}
	if err := ss.ForgetSubject(ctx, subj); err != nil {
		t.Fatal(err)
	}
	if _, err := ss.Open(ctx, subj, "consent", mine); !errors.Is(err, keys.ErrDestroyed) {
		t.Fatalf("erased subject still readable: %v", err)
	}
	if _, err := ss.Open(ctx, other, "consent", theirs); err != nil {
		t.Fatalf("another subject's data lost: %v", err)
	}
	if len(hooked) != 1 || hooked[0].Subject != subj {
		t.Errorf("hook calls = %+v", hooked)
	}
	recs, _ := e.st.Audit(ctx, 0, 100)
	var erased bool
	for _, r := range recs {
		if strings.Contains(string(r.After), "consent record") {
			t.Errorf("audit record %d holds plaintext", r.Seq)
		}
		if r.Action == "keys.subject.erase" && r.Actor == "dpo" && r.Target == "subjects/"+subj {
			erased = true
		}
	}
	if !erased {
		t.Error("erasure not audited under the subject's hash")
	}
	// Sealing for the subject again starts a new key: erasure is not a ban.
	if _, err := ss.Seal(ctx, subj, "consent", []byte("new")); err != nil {
		t.Fatal(err)
	}
}

func TestHoldValidation(t *testing.T) {
	e := newEnv(t)
	t0 := time.Now()
	for _, tc := range []struct {
		req   keys.HoldRequest
		field string
	}{
		{keys.HoldRequest{Class: "nope", Reason: "x"}, "class"},
		{keys.HoldRequest{Class: keys.ClassInference}, "reason"},
		{keys.HoldRequest{Class: keys.ClassInference, Reason: "mail bob@example.org"}, "reason"},
		{keys.HoldRequest{Class: keys.ClassInference, Subject: subj, Reason: "x"}, "subject"},
		{keys.HoldRequest{Class: keys.ClassSubject, Subject: "Jane Doe", Reason: "x"}, "subject"},
		{keys.HoldRequest{Class: keys.ClassInference, From: &t0, To: &t0, Reason: "x"}, "to"},
	} {
		_, err := e.ring.PlaceHold(context.Background(), "a", tc.req)
		var fe *keys.FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%+v: err = %v, want a %s field error", tc.req, err, tc.field)
		}
	}
}

func TestHooksRunAgainAfterAFailure(t *testing.T) {
	fail := true
	var calls int
	e := newEnv(t, func(o *keys.Options) {
		o.Hooks = []keys.DestroyHook{func(context.Context, keys.DestroyedKey) error {
			calls++
			if fail {
				return errors.New("row store down")
			}
			return nil
		}}
	})
	ctx := context.Background()
	_, _ = e.ring.Seal(ctx, inference, []byte("x"))
	e.clock.Add(30 * time.Hour)
	if res, err := e.ring.Sweep(ctx); err == nil || len(res.Destroyed) != 1 {
		t.Fatalf("sweep = %+v, %v; want destroyed and the hook's error", res, err)
	}
	fail = false
	res, err := e.ring.Sweep(ctx)
	if err != nil || len(res.Purged) != 1 || calls != 2 {
		t.Fatalf("second sweep = %+v, %v, calls %d", res, err, calls)
	}
	if res, _ := e.ring.Sweep(ctx); len(res.Purged) != 0 || calls != 2 {
		t.Fatalf("hook ran again after success: %+v", res)
	}
}

func TestAuditHoldsNoPlaintextOrKeys(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, _ = e.ring.Seal(ctx, inference, []byte("PLAINTEXT-MARKER"))
	_, _ = e.ring.RotateKEK(ctx, "admin")
	raw, _ := os.ReadFile(e.kek.Path)
	var ring struct {
		Versions []struct{ Key []byte } `json:"versions"`
	}
	if err := json.Unmarshal(raw, &ring); err != nil {
		t.Fatal(err)
	}
	recs, _ := e.st.Audit(ctx, 0, 100)
	blob, _ := json.Marshal(recs)
	if bytes.Contains(blob, []byte("PLAINTEXT-MARKER")) {
		t.Error("plaintext in the audit log")
	}
	for _, v := range ring.Versions {
		k, _ := json.Marshal(v.Key)
		if bytes.Contains(blob, bytes.Trim(k, `"`)) {
			t.Error("KEK material in the audit log")
		}
	}
	inv, _ := json.Marshal(must(e.ring.Inventory(ctx)))
	if bytes.Contains(inv, []byte("wrapped")) || bytes.Contains(inv, []byte("nexus-local:")) {
		t.Errorf("inventory shows key material: %s", inv)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestApplyRetention(t *testing.T) {
	got, err := keys.ApplyRetention(keys.DefaultClasses(), []string{"inference=12h", "logs=90d/1d", "capture=7h/1h"})
	if err != nil {
		t.Fatal(err)
	}
	if got["inference"].Retention != 12*time.Hour || got["inference"].Bucket != time.Hour ||
		got["logs"].Retention != 2160*time.Hour || got["logs"].Bucket != 24*time.Hour || got["capture"].Bucket != time.Hour {
		t.Errorf("classes = %+v", got)
	}
	for _, bad := range []string{"inference", "subject=1h", "x=1h/1s", "x=-1h", "X Y=1h", "x=1.5d", "x=0d"} {
		if _, err := keys.ApplyRetention(keys.DefaultClasses(), []string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func hasAction(recs []auditRecord, action string) bool {
	for _, r := range recs {
		if r.Action == action {
			return true
		}
	}
	return false
}

// keyOf reads the DEK id an envelope names (format v1: "NXK", 1, len, id).
func keyOf(t testing.TB, sealed []byte) string {
	t.Helper()
	if len(sealed) < 5 || string(sealed[:3]) != "NXK" {
		t.Fatalf("not an envelope: %x", sealed)
	}
	return string(sealed[5 : 5+int(sealed[4])])
}
