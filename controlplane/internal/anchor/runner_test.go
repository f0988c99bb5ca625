package anchor_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/secureai-nexus/nexus/controlplane/internal/anchor"
	"github.com/secureai-nexus/nexus/controlplane/internal/store"
)

// feedServer serves pages as nexus-authz's feed does: events after the
// cursor the puller sends.
type feedServer struct {
	mu   sync.Mutex
	page anchor.Page
}

func (s *feedServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var after int64
	if n, err := json.Number(r.URL.Query().Get("after")).Int64(); err == nil {
		after = n
	}
	p := s.page
	p.Events = nil
	for _, e := range s.page.Events {
		if e.Seq > after {
			p.Events = append(p.Events, e)
		}
	}
	_ = json.NewEncoder(w).Encode(p)
}

func TestRunnerWritesEachEntryOnceAcrossRestarts(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.OpenSQLite(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fs := &feedServer{page: anchor.Page{Instance: "i1", Events: []anchor.Event{{Seq: 1, Action: "policy.activate", Revision: "r1"}},
		DecisionLog: &anchor.DecisionLogHead{Hash: hashA, Lines: 4}}}
	srv := httptest.NewServer(fs)
	defer srv.Close()
	feed, err := anchor.ParseFeed(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	newRunner := func() *anchor.Runner {
		r := &anchor.Runner{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Store: st, Feeds: []anchor.Feed{feed}}
		if err := r.Load(ctx); err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := newRunner()
	for range 2 {
		if err := r.Pull(ctx, feed); err != nil {
			t.Fatal(err)
		}
	}
	// A new control plane process reads the cursor: nothing is repeated.
	if err := newRunner().Pull(ctx, feed); err != nil {
		t.Fatal(err)
	}
	// nexus-authz restarts; its events begin at 1 again.
	fs.mu.Lock()
	fs.page = anchor.Page{Instance: "i2", Events: []anchor.Event{{Seq: 1, Action: "policy.activate", Revision: "r2"}},
		DecisionLog: &anchor.DecisionLogHead{Hash: hashB, Lines: 1}}
	fs.mu.Unlock()
	r = newRunner()
	if err := r.Pull(ctx, feed); err != nil {
		t.Fatal(err)
	}
	recs, err := st.Audit(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, rec := range recs {
		got = append(got, rec.Action)
	}
	want := []string{"policy.activate", "decisionlog.anchor", "authz.restart", "policy.activate", "decisionlog.anchor"}
	if len(got) != len(want) {
		t.Fatalf("audit actions = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("audit actions = %v, want %v", got, want)
		}
	}
	var after struct{ Head string }
	_ = json.Unmarshal(recs[4].After, &after)
	if after.Head != hashB || recs[4].Target != feed.Name+"/decision-log" {
		t.Fatalf("anchor record %+v", recs[4])
	}
	if v, err := st.VerifyAudit(ctx); err != nil || !v.OK {
		t.Fatalf("audit chain: %+v, %v", v, err)
	}
	if s := r.Statuses(); len(s) != 1 || s[0].Head != hashB || s[0].LastError != "" || s[0].LastAnchor.IsZero() {
		t.Fatalf("status %+v", s)
	}

	// A feed that answers garbage writes nothing and says why.
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"instance":"x y"}`)) }))
	defer bad.Close()
	badFeed, _ := anchor.ParseFeed(bad.URL)
	if err := r.Pull(ctx, badFeed); err == nil {
		t.Fatal("a malformed page was accepted")
	}
	if n, _ := st.Audit(ctx, 0, 100); len(n) != len(recs) {
		t.Fatalf("a refused page wrote %d records", len(n)-len(recs))
	}
}

func TestParseFeed(t *testing.T) {
	f, err := anchor.ParseFeed("http://127.0.0.1:9192")
	if err != nil || f.URL != "http://127.0.0.1:9192/v1/nexus/audit-feed" || f.Name != "authz/127.0.0.1:9192" {
		t.Fatalf("%+v, %v", f, err)
	}
	for _, bad := range []string{"", "127.0.0.1:9192", "ftp://x", "http://"} {
		if _, err := anchor.ParseFeed(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
