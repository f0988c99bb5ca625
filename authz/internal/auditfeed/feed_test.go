package auditfeed_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/secureai-nexus/nexus/authz/internal/auditfeed"
	"github.com/secureai-nexus/nexus/authz/internal/decisionlog"
)

func TestFeedPagesPolicyEventsAndTheDecisionLogHead(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	head := decisionlog.Head{Hash: strings.Repeat("ab", 32), Lines: 7}
	f := auditfeed.New(func() decisionlog.Head { return head }, 3, func() time.Time { return now })
	load := f.PolicyLoaded("policies")
	load(true, "rev-1", nil)
	load(false, "", errors.New("authz.rego:3: rego_parse_error: unexpected eof"))

	p := f.Since(0)
	if p.Instance != f.Instance() || p.Next != 3 || len(p.Events) != 2 || p.Missed {
		t.Fatalf("page = %+v", p)
	}
	if e := p.Events[0]; e.Action != auditfeed.ActionActivate || e.Revision != "rev-1" || e.Source != "policies" || e.Seq != 1 || !e.Time.Equal(now) {
		t.Fatalf("activation = %+v", e)
	}
	if e := p.Events[1]; e.Action != auditfeed.ActionRefuse || !strings.Contains(e.Reason, "rego_parse_error") {
		t.Fatalf("refusal = %+v", e)
	}
	if p.DecisionLog == nil || p.DecisionLog.Hash != head.Hash || p.DecisionLog.Lines != 7 {
		t.Fatalf("decision log head = %+v", p.DecisionLog)
	}
	if got := f.Since(2).Events; len(got) != 0 {
		t.Fatalf("after the last event: %+v", got)
	}

	// The ring holds three: a puller that read nothing since seq 1 missed
	// events that were pushed out, and is told so.
	for range 3 {
		load(true, "rev-2", nil)
	}
	p = f.Since(1)
	if !p.Missed || len(p.Events) != 3 || p.Events[0].Seq != 3 {
		t.Fatalf("after overflow: %+v", p)
	}
	if p := f.Since(2); p.Missed {
		t.Fatalf("seq 3 is still held: reading after 2 misses nothing, got %+v", p)
	}
}

func TestFeedBoundsReasonsAndRefusesABadCursor(t *testing.T) {
	f := auditfeed.New(nil, 0, nil)
	f.PolicyLoaded("x")(false, "", errors.New(strings.Repeat("e", 10000)))
	p := f.Since(0)
	if len(p.Events[0].Reason) > 2100 || p.DecisionLog != nil {
		t.Fatalf("reason of %d bytes, head %+v", len(p.Events[0].Reason), p.DecisionLog)
	}

	srv := httptest.NewServer(f.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "?after=-3")
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		Error struct{ Code, Field string } `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	if resp.StatusCode != 400 || e.Error.Field != "after" {
		t.Fatalf("status %d, error %+v", resp.StatusCode, e)
	}
	resp, err = http.Get(srv.URL + "?after=0")
	if err != nil {
		t.Fatal(err)
	}
	var page auditfeed.Page
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || len(page.Events) != 1 || page.Instance != f.Instance() {
		t.Fatalf("status %d, page %+v", resp.StatusCode, page)
	}
}
