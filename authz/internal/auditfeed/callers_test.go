package auditfeed_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/secureai-nexus/nexus/authz/internal/auditfeed"
)

func TestCallersKeepTheLatestDecisionsAndABound(t *testing.T) {
	c := &auditfeed.Callers{Max: 3}
	base := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				c.Seen("spiffe://nexus.local/a", i%2 == 0, base.Add(time.Duration(g*100+i)*time.Second))
			}
		}()
	}
	wg.Wait()
	c.Seen("spiffe://nexus.local/b", false, base)
	c.Seen("spiffe://nexus.local/c", true, base)
	c.Seen("spiffe://nexus.local/d", true, base) // past Max: counted only
	got, untracked := c.Snapshot()
	if len(got) != 3 || untracked != 1 {
		t.Fatalf("callers %+v, untracked %d", got, untracked)
	}
	a := got[0]
	if a.SPIFFEID != "spiffe://nexus.local/a" || !a.LastAllowed.Equal(base.Add(398*time.Second)) || !a.LastDenied.Equal(base.Add(399*time.Second)) {
		t.Fatalf("a = %+v: want the latest allow (398s) and deny (399s) whatever the order they arrived in", a)
	}
	if b := got[1]; !b.LastAllowed.IsZero() || !b.LastDenied.Equal(base) {
		t.Fatalf("b = %+v", b)
	}

	rec := httptest.NewRecorder()
	c.Handler(base).ServeHTTP(rec, httptest.NewRequest("GET", "/v1/nexus/access", nil))
	var page struct {
		Since   time.Time          `json:"since"`
		Callers []auditfeed.Caller `json:"callers"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || len(page.Callers) != 3 || !page.Since.Equal(base) {
		t.Fatalf("page %s: %v", rec.Body, err)
	}
}

func BenchmarkCallersSeen(b *testing.B) {
	c := &auditfeed.Callers{}
	ids := make([]string, 64)
	for i := range ids {
		ids[i] = fmt.Sprintf("spiffe://nexus.local/ns/clinic/sa/app-%d", i)
	}
	now := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			c.Seen(ids[i%len(ids)], true, now)
			i++
		}
	})
}
