package consent_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/consent"
	"github.com/secureai-nexus/nexus/controlplane/internal/keys"
	"github.com/secureai-nexus/nexus/controlplane/internal/store"
)

var subjectKey = []byte("0123456789abcdef0123456789abcdef")

const alice = "auth0|alice-1234"

func newService(t *testing.T) (*consent.Service, *store.SQLite, *keys.Keyring) {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sealer, ring := newSealer(t, st)
	svc, err := consent.New(ctx, consent.Config{Tables: st, Sealer: sealer, SubjectKey: subjectKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	return svc, st, ring
}

func request(subject string, purposes ...string) consent.Request {
	return consent.Request{Subject: subject, Purposes: purposes, Categories: []string{"health"}, Duration: "720h", CollectionMethod: "web form, signed"}
}

// bundleData downloads the publisher's bundle and reads its data files.
func bundleData(t *testing.T, pub http.Handler) (cs map[string]map[string][]consent.ConsentGrant, bg map[string]map[string][]consent.BreakGlassData, etag string) {
	t.Helper()
	rec := httptest.NewRecorder()
	pub.ServeHTTP(rec, httptest.NewRequest("GET", "/b.tar.gz", nil))
	if rec.Code != 200 {
		t.Fatalf("bundle: %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != consent.BundleContentType {
		t.Errorf("content-type %q", ct)
	}
	gz, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name], _ = io.ReadAll(tr)
	}
	var m struct {
		Revision string   `json:"revision"`
		Roots    []string `json:"roots"`
	}
	if err := json.Unmarshal(files["/.manifest"], &m); err != nil || m.Revision == "" || len(m.Roots) != 2 {
		t.Fatalf("manifest %s: %v", files["/.manifest"], err)
	}
	if err := json.Unmarshal(files["/nexus/consent/data.json"], &cs); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(files["/nexus/breakglass/data.json"], &bg); err != nil {
		t.Fatal(err)
	}
	return cs, bg, rec.Header().Get("ETag")
}

func TestGrantRevokePublishes(t *testing.T) {
	ctx := context.Background()
	svc, st, _ := newService(t)
	sid := consent.SubjectID(subjectKey, alice)
	r, _, err := svc.Grant(ctx, "token:local-admin", request(alice, "research", "treatment"))
	if err != nil {
		t.Fatal(err)
	}
	if r.SubjectID != sid || !r.ExpiresAt.After(time.Now().Add(719*time.Hour)) {
		t.Fatalf("record %+v", r)
	}
	data, _, etag1 := bundleData(t, svc.Publisher())
	gs := data[sid]["research"]
	if len(gs) != 1 || gs[0].ID != r.ID || gs[0].Categories[0] != "health" || gs[0].ExpiresNS != r.ExpiresAt.UnixNano() {
		t.Fatalf("published consent = %+v", data)
	}
	if len(data[sid]["treatment"]) != 1 {
		t.Fatalf("treatment not published: %+v", data)
	}
	got, err := svc.Get(ctx, r.ID)
	if err != nil || got.Subject != alice || got.CollectionMethod != "web form, signed" {
		t.Fatalf("get = %+v, %v", got, err)
	}
	if _, _, err := svc.Revoke(ctx, "token:local-admin", r.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Revoke(ctx, "token:local-admin", r.ID); !errors.Is(err, consent.ErrEnded) {
		t.Fatalf("second revoke: %v, want ErrEnded", err)
	}
	data, _, etag2 := bundleData(t, svc.Publisher())
	if _, ok := data[sid]; ok || etag1 == etag2 {
		t.Fatalf("revoked consent still published (etag %s → %s): %+v", etag1, etag2, data)
	}
	list, err := svc.List(ctx, alice)
	if err != nil || len(list) != 1 || list[0].RevokedAt == nil {
		t.Fatalf("list = %+v, %v", list, err)
	}
	// Nothing outside the sealed record names the subject.
	recs, err := st.Audit(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(recs)
	if strings.Contains(string(raw), "alice") || !strings.Contains(string(raw), sid) {
		t.Fatalf("audit names the subject or lacks its hash: %s", raw)
	}
	rows, err := st.Query(ctx, `SELECT id, subject_id, purposes, categories, sealed FROM consent_records`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var a, b, c, d string
		var sealed []byte
		if err := rows.Scan(&a, &b, &c, &d, &sealed); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(a+b+c+d, "alice") || bytes.Contains(sealed, []byte("alice")) {
			t.Fatal("a consent row holds the raw subject")
		}
	}
	rows.Close()
}

func TestExpiryRepublishes(t *testing.T) {
	ctx := context.Background()
	svc, _, _ := newService(t)
	req := request(alice, "research")
	given := time.Now().Add(-720*time.Hour + 300*time.Millisecond)
	req.ConsentTime = &given
	if _, _, err := svc.Grant(ctx, "t", req); err != nil {
		t.Fatal(err)
	}
	data, _, etag := bundleData(t, svc.Publisher())
	if len(data) != 1 {
		t.Fatalf("consent not published: %+v", data)
	}
	// A long poll naming the current ETag is answered when the consent
	// expires, without any API call.
	srv := httptest.NewServer(svc.Publisher())
	defer srv.Close()
	req2, _ := http.NewRequest("GET", srv.URL, nil)
	req2.Header.Set("If-None-Match", etag)
	req2.Header.Set("Prefer", "modes=snapshot,delta;wait=5")
	start := time.Now()
	resp, err := http.DefaultClient.Do(req2)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("ETag") == etag || time.Since(start) > 3*time.Second {
		t.Fatalf("long poll: %d etag %s after %s", resp.StatusCode, resp.Header.Get("ETag"), time.Since(start))
	}
	data, _, _ = bundleData(t, svc.Publisher())
	if len(data) != 0 {
		t.Fatalf("expired consent still published: %+v", data)
	}
}

func TestLongPollAnswers304WhenNothingChanges(t *testing.T) {
	svc, _, _ := newService(t)
	_, _, etag := bundleData(t, svc.Publisher())
	srv := httptest.NewServer(svc.Publisher())
	defer srv.Close()
	for _, c := range []struct {
		prefer string
		min    time.Duration
	}{{"", 0}, {"wait=1", 900 * time.Millisecond}} {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		req.Header.Set("If-None-Match", etag)
		if c.prefer != "" {
			req.Header.Set("Prefer", c.prefer)
		}
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		// Go's server drops Content-Type from a 304; OPA's downloader
		// keeps long-polling on a 304 anyway.
		if resp.StatusCode != 304 || time.Since(start) < c.min || resp.Header.Get("ETag") != etag {
			t.Errorf("prefer %q: %d after %s (etag %s)", c.prefer, resp.StatusCode, time.Since(start), resp.Header.Get("ETag"))
		}
	}
}

func TestExportAndErase(t *testing.T) {
	ctx := context.Background()
	svc, st, ring := newService(t)
	sid := svc.SubjectID(alice)
	if _, _, err := svc.Grant(ctx, "t", request(alice, "research")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Grant(ctx, "t", request("bob", "research")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.RequestBreakGlass(ctx, "t", consent.BreakGlassRequest{Subject: alice, Model: "triage", Reason: "cardiac arrest in ER", Duration: "1h"}); err != nil {
		t.Fatal(err)
	}
	exp, err := svc.Export(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	if exp.Subject != alice || len(exp.Consents) != 1 || exp.Consents[0].Subject != alice || len(exp.BreakGlass) != 1 || len(exp.Audit) != 2 {
		t.Fatalf("export = %+v", exp)
	}
	er, err := svc.Erase(ctx, "t", alice)
	if err != nil {
		t.Fatal(err)
	}
	if er.ConsentsDeleted != 1 {
		t.Fatalf("erasure = %+v", er)
	}
	// The subject's data key is destroyed: what was sealed for them is
	// gone for good, and the audit log says so under the keyed hash.
	inv, err := ring.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	destroyed := 0
	for _, k := range inv.Keys {
		if k.Subject == sid && k.State == keys.StateDestroyed {
			destroyed++
		}
	}
	if destroyed == 0 {
		t.Fatalf("the subject's keys were not destroyed: %+v", inv.Keys)
	}
	exp, err = svc.Export(ctx, alice)
	if err != nil || len(exp.Consents) != 0 {
		t.Fatalf("after erasure: %+v, %v", exp, err)
	}
	if bob, err := svc.List(ctx, "bob"); err != nil || len(bob) != 1 {
		t.Fatalf("another subject's records were touched: %+v, %v", bob, err)
	}
	data, _, _ := bundleData(t, svc.Publisher())
	if _, ok := data[sid]; ok {
		t.Fatal("erased subject still published")
	}
	recs, _ := st.Audit(ctx, 0, 100)
	last := recs[len(recs)-1]
	if last.Action != "subject.erase" || last.Target != "subjects/"+sid || strings.Contains(string(last.After), "alice") {
		t.Fatalf("erasure record %+v", last)
	}
	if v, err := st.VerifyAudit(ctx); err != nil || !v.OK {
		t.Fatalf("audit chain after erasure: %+v %v", v, err)
	}
}

func TestBreakGlassLifecycle(t *testing.T) {
	ctx := context.Background()
	svc, _, _ := newService(t)
	g, _, err := svc.RequestBreakGlass(ctx, "oidc:dr-house", consent.BreakGlassRequest{SPIFFEID: "spiffe://nexus.local/ns/er/sa/frontend", Model: "triage", Reason: "mass casualty incident", Duration: "2h"})
	if err != nil {
		t.Fatal(err)
	}
	_, bg, _ := bundleData(t, svc.Publisher())
	if c := bg["callers"]["spiffe://nexus.local/ns/er/sa/frontend"]; len(c) != 1 || c[0].ID != g.ID || c[0].Model != "triage" {
		t.Fatalf("break-glass data %+v", bg)
	}
	if _, _, err := svc.RequestBreakGlass(ctx, "x", consent.BreakGlassRequest{SPIFFEID: "spiffe://nexus.local/a", Model: "triage", Reason: "long enough reason", Duration: "5h"}); err == nil {
		t.Fatal("a grant longer than the maximum was accepted")
	}
	if _, _, err := svc.EndBreakGlass(ctx, "oidc:lead", g.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.EndBreakGlass(ctx, "oidc:lead", g.ID); !errors.Is(err, consent.ErrEnded) {
		t.Fatalf("second end: %v", err)
	}
	_, bg, _ = bundleData(t, svc.Publisher())
	if len(bg["callers"]) != 0 {
		t.Fatalf("ended grant still published: %+v", bg)
	}
	r, _, err := svc.ReviewBreakGlass(ctx, "oidc:privacy-officer", g.ID, "justified: ER triage")
	if err != nil || r.ReviewedBy != "oidc:privacy-officer" {
		t.Fatalf("review %+v %v", r, err)
	}
	if _, _, err := svc.ReviewBreakGlass(ctx, "x", g.ID, "again"); !errors.Is(err, consent.ErrEnded) {
		t.Fatalf("second review: %v", err)
	}
	if _, err := svc.BreakGlassGrant(ctx, "00000000000000000000000000000000"); !errors.Is(err, consent.ErrNotFound) {
		t.Fatalf("unknown grant: %v", err)
	}
}

func TestParseRequestNamesTheField(t *testing.T) {
	now := time.Now()
	for _, c := range []struct{ body, field string }{
		{`{"purposes":["research"],"categories":["health"],"duration":"720h","collection_method":"form"}`, "subject"},
		{`{"subject":"a","purposes":[],"categories":["health"],"duration":"720h","collection_method":"form"}`, "purposes"},
		{`{"subject":"a","purposes":["Research!"],"categories":["health"],"duration":"720h","collection_method":"form"}`, "purposes[0]"},
		{`{"subject":"a","purposes":["research","research"],"categories":["health"],"duration":"720h","collection_method":"form"}`, "purposes[1]"},
		{`{"subject":"a","purposes":["research"],"categories":["he alth"],"duration":"720h","collection_method":"form"}`, "categories[0]"},
		{`{"subject":"a","purposes":["research"],"categories":["health"],"duration":"-1h","collection_method":"form"}`, "duration"},
		{`{"subject":"a","purposes":["research"],"categories":["health"],"duration":"forever","collection_method":"form"}`, "duration"},
		{`{"subject":"a","purposes":["research"],"categories":["health"],"duration":"720h"}`, "collection_method"},
		{`{"subject":"a","purposes":["research"],"categories":["health"],"duration":"720h","collection_method":"form","third_parties":["x"]}`, "third_parties"},
		{`{"subject":"a","purposes":["research"],"categories":["health"],"duration":"720h","collection_method":"form","policy_url":"javascript:alert(1)"}`, "policy_url"},
		{`{"subject":"a","purposes":["research"],"categories":["health"],"duration":"720h","collection_method":"form","colour":"red"}`, "colour"},
		{`{"subject":"a","purposes":"research","categories":["health"],"duration":"720h","collection_method":"form"}`, "purposes"},
		{`{"subject":"a","purposes":["research"],"categories":["health"],"duration":"720h","collection_method":"form","consent_time":"yesterday"}`, "consent_time"},
		{`{"subject":"a\u0000","purposes":["research"],"categories":["health"],"duration":"720h","collection_method":"form"}`, "subject"},
		{`{"subject":"a","purposes":["research"],"categories":["health"],"duration":"720h","collection_method":"form"} {}`, ""},
	} {
		_, err := consent.ParseRequest([]byte(c.body), now)
		var fe *consent.FieldError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%s: error %v, want one naming %q", c.body, err, c.field)
		}
	}
	ok := `{"subject":"a","purposes":["research"],"categories":["health","EMAIL"],"duration":"720h","sharing":true,"third_parties":["Lab Inc"],"collection_method":"form","jurisdiction":"EU","policy_url":"https://example.org/privacy"}`
	if _, err := consent.ParseRequest([]byte(ok), now); err != nil {
		t.Errorf("valid request refused: %v", err)
	}
}

func TestSubjectIDMatchesNexusAuthz(t *testing.T) {
	// The same vector is asserted in authz/internal/input: both sides must
	// hash a sub to the same id.
	if got := consent.SubjectID([]byte("test-subject-key"), "user-42"); got != subjectIDVector {
		t.Fatalf("SubjectID = %s, want %s", got, subjectIDVector)
	}
}

const subjectIDVector = "e276c0424e9d311032e6cec71a104033"

func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(`{"subject":"a","purposes":["research"],"categories":["health"],"duration":"720h","collection_method":"form"}`))
	f.Add([]byte(`{"subject":"a","purposes":["research"],"categories":["health"],"duration":"720h","collection_method":"form","sharing":true,"third_parties":["x"],"consent_time":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"subject":1}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"spiffe_id":"spiffe://nexus.local/a","model":"triage","reason":"0123456789","duration":"1h"}`))
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := consent.ParseRequest(body, now)
		if err != nil {
			var fe *consent.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error is not a FieldError: %v", err)
			}
		} else {
			// What parses re-encodes to something that parses the same.
			again, _ := json.Marshal(req)
			if _, err := consent.ParseRequest(again, now); err != nil {
				t.Fatalf("accepted %q, refused its re-encoding %s: %v", body, again, err)
			}
		}
		if _, err := consent.ParseBreakGlass(body, 4*time.Hour); err != nil {
			var fe *consent.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("break-glass error is not a FieldError: %v", err)
			}
		}
	})
}

// Changes made at once all end up published: the last state wins, never
// an older one.
func TestConcurrentChangesPublishTheLastState(t *testing.T) {
	ctx := context.Background()
	svc, _, _ := newService(t)
	var ids []string
	for i := range 8 {
		r, _, err := svc.Grant(ctx, "t", request(fmt.Sprintf("subject-%d", i), "research"))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() {
			if _, _, err := svc.Revoke(ctx, "t", id); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if data, _, _ := bundleData(t, svc.Publisher()); len(data) != 0 {
		t.Fatalf("after revoking everything, %d subjects are still published", len(data))
	}
}
