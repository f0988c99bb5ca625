package compliance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/audit"
	"github.com/secureai-nexus/nexus/controlplane/internal/mesh"
	"github.com/secureai-nexus/nexus/controlplane/internal/store"
)

var now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// expect checks a result against the violation it must name ("" for a
// satisfied result).
func expect(t *testing.T, res Result, want string) {
	t.Helper()
	if want == "" {
		if !res.Satisfied || len(res.Violations) > 0 {
			t.Fatalf("want satisfied, got %s: %q", res.Summary, res.Violations)
		}
		if len(res.Evidence) == 0 {
			t.Fatal("satisfied without evidence")
		}
		return
	}
	if res.Satisfied {
		t.Fatalf("want a violation %q, got satisfied: %s", want, res.Summary)
	}
	if !strings.Contains(strings.Join(res.Violations, "\n"), want) {
		t.Fatalf("violations %q lack %q", res.Violations, want)
	}
}

func TestHealthClassesAreKnown(t *testing.T) {
	for _, c := range HealthClasses() {
		if !slices.Contains(mesh.PIIClasses(), c) {
			t.Errorf("%s is not a piiguard class", c)
		}
	}
}

func TestCheckPIIHealth(t *testing.T) {
	all := func(mode mesh.PIIMode) map[string]mesh.PIIMode {
		m := map[string]mesh.PIIMode{}
		for _, c := range HealthClasses() {
			m[c] = mode
		}
		return m
	}
	with := func(m map[string]mesh.PIIMode, class string, mode mesh.PIIMode) map[string]mesh.PIIMode {
		m[class] = mode
		return m
	}
	without := func(m map[string]mesh.PIIMode, class string) map[string]mesh.PIIMode {
		delete(m, class)
		return m
	}
	cases := []struct {
		name string
		pii  map[string]mesh.PIIMode
		want string
	}{
		{"all tokenized", all(mesh.PIITokenize), ""},
		{"mixed protective", with(with(all(mesh.PIIRedact), "US_NPI", mesh.PIIBlock), "UK_NHS", mesh.PIIHash), ""},
		{"report only", with(all(mesh.PIITokenize), "HEALTH_PLAN_ID", mesh.PIIReport), "model m: HEALTH_PLAN_ID is report"},
		{"missing", without(all(mesh.PIITokenize), "AU_MEDICARE"), "model m: AU_MEDICARE has no mode"},
		{"nothing set", nil, "MEDICAL_RECORD_NUMBER has no mode"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			expect(t, checkPIIHealth(&mesh.Mesh{Models: []mesh.Model{{Name: "m", PII: c.pii}}}), c.want)
		})
	}
	t.Run("example mesh", func(t *testing.T) {
		m, err := mesh.LoadFile("../../../examples/mesh.yaml")
		if err != nil {
			t.Fatal(err)
		}
		expect(t, checkPIIHealth(m), "HEALTH_PLAN_ID has no mode")
	})
}

// auditFixture is a real store with records and a real signer.
func auditFixture(t *testing.T, n int) (*store.SQLite, *AuditLog) {
	t.Helper()
	dir := t.TempDir()
	st, err := store.OpenSQLite(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	appendN(t, st, n)
	signer, err := audit.LoadOrCreateSigner(filepath.Join(dir, "cp.key"), "test.example/nexus/audit")
	if err != nil {
		t.Fatal(err)
	}
	return st, &AuditLog{Records: st, Signer: signer, Origin: "test.example/nexus/audit", CheckpointFile: filepath.Join(dir, "last-checkpoint")}
}

func appendN(t *testing.T, st *store.SQLite, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		after, _ := json.Marshal(map[string]int{"i": i})
		if _, err := st.Append(context.Background(), audit.Entry{Time: now, Actor: "test", Action: "test.event", Target: "x", After: after}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAuditCheckpointAgainstStore(t *testing.T) {
	ctx := context.Background()
	st, log := auditFixture(t, 5)
	e, err := log.AuditEvidence(ctx)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, checkAuditCheckpoint(e), "")
	// The next report checks against the checkpoint the first one kept.
	appendN(t, st, 3)
	e, err = log.AuditEvidence(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res := checkAuditCheckpoint(e)
	expect(t, res, "")
	if !strings.Contains(strings.Join(res.Evidence, "\n"), "the first 5 records hash to the checkpoint's root; 3 records since") {
		t.Fatalf("evidence: %q", res.Evidence)
	}

	good := e
	cases := []struct {
		name string
		edit func(e *AuditEvidence)
		want string
	}{
		{"records removed", func(e *AuditEvidence) { e.Size, e.Chain.Records = 3, 3 }, "records were removed"},
		{"record rewritten", func(e *AuditEvidence) {
			// A tree whose second leaf is no longer the record's.
			forged := audit.MemoryNodes{}
			for i := range e.Size {
				leaf, _ := good.RootAt(1)
				if i > 0 {
					leaf = audit.LeafHash([]byte(fmt.Sprint("forged ", i)))
				}
				_ = forged.Append(context.Background(), i, leaf)
			}
			e.RootAt = func(n int64) (audit.Hash, error) { return audit.TreeRoot(context.Background(), forged, n) }
		}, "the log was rewritten"},
		{"tree unreadable", func(e *AuditEvidence) {
			e.RootAt = func(int64) (audit.Hash, error) { return audit.Hash{}, errors.New("disk I/O error") }
		}, "cannot be read"},
		{"chain broken", func(e *AuditEvidence) { e.Chain.OK, e.Chain.BrokenAt, e.Chain.Reason = false, 4, "hash mismatch" }, "breaks at record 4"},
		{"wrong key", func(e *AuditEvidence) {
			other, err := audit.LoadOrCreateSigner(filepath.Join(t.TempDir(), "k"), "test.example/nexus/audit")
			if err != nil {
				t.Fatal(err)
			}
			e.VerifierKey = other.Verifier
		}, "does not verify"},
		{"other log", func(e *AuditEvidence) { e.Origin = "other/log" }, "not \"other/log\""},
		{"no checkpoint", func(e *AuditEvidence) { e.Checkpoint = nil }, "no signed checkpoint"},
		{"garbled checkpoint", func(e *AuditEvidence) { e.Checkpoint = []byte("not a note") }, "does not verify"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := good
			c.edit(&e)
			expect(t, checkAuditCheckpoint(e), c.want)
		})
	}
}

// A log cut back after a report stays in violation on every later
// report: the collector never re-signs a log that fails.
func TestAuditLogNeverResignsAFailingLog(t *testing.T) {
	ctx := context.Background()
	_, log := auditFixture(t, 4)
	if _, err := log.AuditEvidence(ctx); err != nil {
		t.Fatal(err)
	}
	// Another control plane's log (fewer records) behind the same file.
	st2, err := store.OpenSQLite(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	appendN(t, st2, 2)
	log.Records = st2
	for i := 0; i < 2; i++ {
		e, err := log.AuditEvidence(ctx)
		if err != nil {
			t.Fatal(err)
		}
		expect(t, checkAuditCheckpoint(e), "records were removed")
	}
}

func TestCheckAdminOIDC(t *testing.T) {
	cases := []struct {
		name string
		e    AdminAuthEvidence
		want string
	}{
		{"oidc", AdminAuthEvidence{OIDCIssuer: "https://login.example", Address: "0.0.0.0:18080", TLS: true}, ""},
		{"dev mode", AdminAuthEvidence{Address: "127.0.0.1:18080"}, "loopback dev mode"},
		{"plain http issuer", AdminAuthEvidence{OIDCIssuer: "http://login.example"}, "is not https"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { expect(t, checkAdminOIDC(c.e), c.want) })
	}
}

func TestCheckVersionsVerified(t *testing.T) {
	ok := VersionEvidence{Model: "m", Version: "v1", State: mesh.StateServing, Weight: 100, Verified: true, Validated: true, Digest: "sha256:ab"}
	cases := []struct {
		name string
		vs   []VersionEvidence
		want string
	}{
		{"serving and checked", []VersionEvidence{ok}, ""},
		{"unchecked at weight 0", []VersionEvidence{ok, {Model: "m", Version: "v2", State: mesh.StateRegistered}}, ""},
		{"from the file without records", []VersionEvidence{{Model: "m", Version: "v1", State: mesh.StateServing, Weight: 100}}, "m/v1 has weight 100: no passing verification on record; no passing validation on record"},
		{"verified only", []VersionEvidence{{Model: "m", Version: "v1", State: mesh.StateVerified, Weight: 10, Verified: true}}, "state verified"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { expect(t, checkVersionsVerified(c.vs), c.want) })
	}
}

func TestCheckRolloutsGated(t *testing.T) {
	cases := []struct {
		name string
		e    RolloutEvidence
		want string
	}{
		{"gated", RolloutEvidence{MetricSource: "http://prom:9090", Active: []ActiveRollout{{Model: "m", Canary: "v2", Phase: "progressing", Gates: 2}}}, ""},
		{"no source", RolloutEvidence{}, "no metric source"},
		{"gateless rollout", RolloutEvidence{MetricSource: "http://prom:9090", Active: []ActiveRollout{{Model: "m", Canary: "v2"}}}, "has no gate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { expect(t, checkRolloutsGated(c.e), c.want) })
	}
}

func keyEvidence() KeyEvidence {
	return KeyEvidence{
		Classes: map[string]KeyClass{
			"inference": {Retention: 24 * time.Hour, Rotation: 4 * time.Hour},
			"logs":      {Retention: 30 * 24 * time.Hour, Rotation: 24 * time.Hour},
			"subject":   {PerSubject: true},
		},
		KEKs: []KEK{{ID: "transit/nexus", Rotated: now.Add(-10 * 24 * time.Hour), MaxAge: 30 * 24 * time.Hour}},
		DataKeys: []DataKey{
			{ID: "inf-1", Class: "inference", Created: now.Add(-2 * time.Hour), BucketEnd: now.Add(-time.Hour), Active: true},
			{ID: "inf-old", Class: "inference", Created: now.Add(-50 * time.Hour), BucketEnd: now.Add(-49 * time.Hour), Destroyed: true},
			{ID: "log-1", Class: "logs", Created: now.Add(-3 * time.Hour), BucketEnd: now.Add(21 * time.Hour), Active: true},
			// A subject's key is kept until the subject is erased.
			{ID: "subj-1", Class: "subject", Created: now.Add(-400 * 24 * time.Hour), Active: true},
		},
	}
}

func TestCheckKeyRotation(t *testing.T) {
	cases := []struct {
		name string
		edit func(*KeyEvidence)
		want string
	}{
		{"fresh", func(*KeyEvidence) {}, ""},
		{"KEK overdue", func(e *KeyEvidence) { e.KEKs[0].Rotated = now.Add(-31 * 24 * time.Hour) }, "KEK transit/nexus was last rotated 744h0m0s ago, past its 720h0m0s period"},
		{"KEK without period", func(e *KeyEvidence) { e.KEKs[0].MaxAge = 0 }, "has no rotation period"},
		{"no KEK", func(e *KeyEvidence) { e.KEKs = nil }, "no key-encryption key"},
		{"class not rotating", func(e *KeyEvidence) { e.DataKeys[0].Created = now.Add(-5 * time.Hour) }, "class inference: the newest data key is 5h0m0s old, past its 4h0m0s rotation"},
		{"unknown class", func(e *KeyEvidence) {
			e.DataKeys = append(e.DataKeys, DataKey{ID: "x", Class: "capture", Created: now, Active: true})
		}, "class capture has no rotation period"},
		// An idle class's last key only opens what it sealed: no rotation
		// is due until it seals again.
		{"idle class", func(e *KeyEvidence) { e.DataKeys[0].Created, e.DataKeys[0].Active = now.Add(-5*time.Hour), false }, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := keyEvidence()
			c.edit(&e)
			expect(t, checkKeyRotation(e, now), c.want)
		})
	}
}

func TestCheckDEKRetention(t *testing.T) {
	cases := []struct {
		name string
		edit func(*KeyEvidence)
		want string
	}{
		{"within retention", func(*KeyEvidence) {}, ""},
		{"expired but destroyed", func(e *KeyEvidence) { e.DataKeys[1].BucketEnd = now.Add(-100 * time.Hour) }, ""},
		{"expired and live", func(e *KeyEvidence) { e.DataKeys[1].Destroyed = false }, "data key inf-old (inference) should have been destroyed at 2026-11-30T11:00:00Z"},
		{"expired under legal hold", func(e *KeyEvidence) { e.DataKeys[1].Destroyed, e.DataKeys[1].LegalHold = false, true }, ""},
		{"class without retention", func(e *KeyEvidence) { e.DataKeys[2].Class = "capture" }, "class \"capture\", which has no retention"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := keyEvidence()
			c.edit(&e)
			expect(t, checkDEKRetention(e, now), c.want)
		})
	}
}

func TestCheckConsent(t *testing.T) {
	base := func() ConsentEvidence {
		return ConsentEvidence{
			Purposes:     []Purpose{{Name: "triage", Health: true, ConsentChecked: true}, {Name: "marketing"}},
			Pushed:       now.Add(-300 * time.Millisecond),
			MaxStaleness: time.Second,
		}
	}
	cases := []struct {
		name string
		edit func(*ConsentEvidence)
		want string
	}{
		{"checked and fresh", func(*ConsentEvidence) {}, ""},
		{"health purpose unchecked", func(e *ConsentEvidence) { e.Purposes[0].ConsentChecked = false }, "purpose triage carries health data"},
		{"stale", func(e *ConsentEvidence) { e.Pushed = now.Add(-3 * time.Second) }, "3s old, past its 1s bound"},
		{"never pushed", func(e *ConsentEvidence) { e.Pushed = time.Time{} }, "never acknowledged"},
		{"no bound", func(e *ConsentEvidence) { e.MaxStaleness = 0 }, "no staleness bound"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := base()
			c.edit(&e)
			expect(t, checkConsent(e, now), c.want)
		})
	}
}

func TestCheckDecisionLogMasked(t *testing.T) {
	cases := []struct {
		name string
		e    DecisionLogEvidence
		want string
	}{
		{"defaults", DecisionLogEvidence{Masks: RequiredMasks()}, ""},
		{"whole input", DecisionLogEvidence{Masks: []string{"/input"}}, ""},
		{"ancestor", DecisionLogEvidence{Masks: []string{"/input/attributes/request/http/", "/input/parsed_body"}}, ""},
		{"body logged", DecisionLogEvidence{Masks: RequiredMasks()[:2]}, "/input/attributes/request/http/body is logged unmasked"},
		{"no masks", DecisionLogEvidence{}, "headers/authorization is logged unmasked"},
		{"prefix is not an ancestor", DecisionLogEvidence{Masks: append(RequiredMasks()[1:], "/input/attributes/request/http/headers/auth")}, "authorization is logged unmasked"},
		{"unmasked kept in the clear", DecisionLogEvidence{Masks: RequiredMasks(), UnmaskedKept: true}, "without encryption"},
		{"unmasked kept encrypted", DecisionLogEvidence{Masks: RequiredMasks(), UnmaskedKept: true, UnmaskedEncrypted: true}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { expect(t, checkDecisionLogMasked(c.e), c.want) })
	}
}

func TestCheckBreakGlass(t *testing.T) {
	grant := BreakGlassGrant{ID: "bg-1", Principal: "oidc:3f2a…", Reason: "ED patient unresponsive", Start: now.Add(-5 * time.Hour), End: now.Add(-4 * time.Hour), Uses: 3}
	cases := []struct {
		name string
		edit func(*BreakGlassGrant)
		want string
	}{
		{"reviewed", func(g *BreakGlassGrant) { g.Reviewed = true }, ""},
		{"awaiting review within the window", func(*BreakGlassGrant) {}, ""},
		{"active", func(g *BreakGlassGrant) { g.End = now.Add(time.Hour) }, ""},
		{"overdue", func(g *BreakGlassGrant) { g.End = now.Add(-48 * time.Hour) }, "grant bg-1 ended 2026-11-29T12:00:00Z and is not reviewed"},
		{"no reason", func(g *BreakGlassGrant) { g.Reason = " "; g.Reviewed = true }, "grant bg-1 has no reason"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := grant
			c.edit(&g)
			expect(t, checkBreakGlass(BreakGlassEvidence{Grants: []BreakGlassGrant{g}, ReviewWithin: 24 * time.Hour}, now), c.want)
		})
	}
}

func TestCheckAnchors(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	feed := func(pull, anchor time.Duration, errMsg string) AnchorFeed {
		f := AnchorFeed{Name: "authz/127.0.0.1:9192", LastError: errMsg}
		if pull >= 0 {
			f.LastPull = now.Add(-pull)
		}
		if anchor >= 0 {
			f.LastAnchor = now.Add(-anchor)
		}
		return f
	}
	tests := []struct {
		name string
		e    AnchorEvidence
		ok   bool
	}{
		{"anchored a minute ago", AnchorEvidence{Interval: time.Minute, Feeds: []AnchorFeed{feed(0, time.Minute, "")}}, true},
		{"no feed", AnchorEvidence{Interval: time.Minute}, false},
		{"pull failing", AnchorEvidence{Interval: time.Minute, Feeds: []AnchorFeed{feed(0, time.Minute, "connection refused")}}, false},
		{"never anchored", AnchorEvidence{Interval: time.Minute, Feeds: []AnchorFeed{feed(0, -1, "")}}, false},
		// An idle log is anchored once: later pulls that find the same head
		// write nothing, and that is no violation while pulls succeed.
		{"idle, still pulled", AnchorEvidence{Interval: time.Minute, Feeds: []AnchorFeed{feed(0, time.Hour, "")}}, true},
		{"not pulled for an hour", AnchorEvidence{Interval: time.Minute, Feeds: []AnchorFeed{feed(time.Hour, time.Hour, "")}}, false},
	}
	for _, tt := range tests {
		if r := checkAnchors(tt.e, now); r.Satisfied != tt.ok {
			t.Errorf("%s: satisfied %v, want %v: %+v", tt.name, r.Satisfied, tt.ok, r)
		}
	}
}

func TestCheckAccess(t *testing.T) {
	ok := checkAccess(AccessEvidence{Principals: []AccessPrincipal{{Kind: "admin-token", ID: "local-admin", LastUsed: time.Now()}}})
	stale := checkAccess(AccessEvidence{Principals: []AccessPrincipal{{Kind: "policy-grant", ID: "spiffe://nexus.local/ns/old/sa/*", Stale: true}}})
	incomplete := checkAccess(AccessEvidence{Incomplete: []string{"callers from http://127.0.0.1:9192: connection refused"}})
	if !ok.Satisfied || stale.Satisfied || incomplete.Satisfied || len(stale.Violations) != 1 || len(incomplete.Violations) != 1 {
		t.Fatalf("ok %+v\nstale %+v\nincomplete %+v", ok, stale, incomplete)
	}
}
