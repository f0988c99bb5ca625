package auditfeed

import (
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Callers remembers, for the access review, when each caller SPIFFE id
// was last allowed and last denied. It holds ids, never request data, and
// at most Max of them (further new callers are counted, not kept).
type Callers struct {
	Max int

	m        sync.Map // caller → *callerSeen
	n        atomic.Int64
	overflow atomic.Int64
}

type callerSeen struct {
	allowed, denied atomic.Int64 // unix nanoseconds
}

// Seen records one decision; it fits decision.Engine's Callers. The
// common case, a caller seen before, takes no lock.
func (c *Callers) Seen(caller string, allowed bool, at time.Time) {
	v, ok := c.m.Load(caller)
	if !ok {
		max := c.Max
		if max <= 0 {
			max = 10000
		}
		if c.n.Load() >= int64(max) {
			c.overflow.Add(1)
			return
		}
		var loaded bool
		if v, loaded = c.m.LoadOrStore(caller, &callerSeen{}); !loaded {
			c.n.Add(1)
		}
	}
	s := v.(*callerSeen)
	t := &s.denied
	if allowed {
		t = &s.allowed
	}
	ns := at.UnixNano()
	for {
		old := t.Load()
		if old >= ns || t.CompareAndSwap(old, ns) {
			return
		}
	}
}

// Caller is one caller's last decisions.
type Caller struct {
	SPIFFEID    string    `json:"spiffe_id"`
	LastAllowed time.Time `json:"last_allowed,omitzero"`
	LastDenied  time.Time `json:"last_denied,omitzero"`
}

// Snapshot lists callers by id.
func (c *Callers) Snapshot() (callers []Caller, untracked int64) {
	c.m.Range(func(k, v any) bool {
		s := v.(*callerSeen)
		cl := Caller{SPIFFEID: k.(string)}
		if ns := s.allowed.Load(); ns != 0 {
			cl.LastAllowed = time.Unix(0, ns).UTC()
		}
		if ns := s.denied.Load(); ns != 0 {
			cl.LastDenied = time.Unix(0, ns).UTC()
		}
		callers = append(callers, cl)
		return true
	})
	slices.SortFunc(callers, func(a, b Caller) int {
		if a.SPIFFEID < b.SPIFFEID {
			return -1
		}
		if a.SPIFFEID > b.SPIFFEID {
			return 1
		}
		return 0
	})
	return callers, c.overflow.Load()
}

// Handler serves GET /v1/nexus/access: callers since this process
// started, with since so a reader knows how far back "never" goes.
func (c *Callers) Handler(since time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		callers, untracked := c.Snapshot()
		if callers == nil {
			callers = []Caller{}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(map[string]any{"since": since.UTC(), "callers": callers, "untracked_decisions": untracked})
	})
}
