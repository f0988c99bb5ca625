// Package auditfeed is nexus-authz's side of the one audit log: the
// control plane pulls, at a fixed interval, the decision log's chain head
// (which it anchors into its Merkle-tree audit log, so one signed
// checkpoint covers both) and the policy set activations and refusals
// since its last pull. Nothing here holds personal data: a hash, counts,
// revisions and refusal reasons.
package auditfeed

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/secureai-nexus/nexus/authz/internal/decisionlog"
)

// Event is one security-relevant event in nexus-authz.
type Event struct {
	Seq    int64     `json:"seq"`
	Time   time.Time `json:"time"`
	Action string    `json:"action"` // policy.activate | policy.refuse
	// Revision is the activated set's revision; Source where it came from.
	Revision string `json:"revision,omitempty"`
	Source   string `json:"source,omitempty"`
	// Reason is why a set was refused (a compile or test error: policy
	// text, never request data).
	Reason string `json:"reason,omitempty"`
}

// Actions.
const (
	ActionActivate = "policy.activate"
	ActionRefuse   = "policy.refuse"
)

// maxReason bounds a refusal's reason: a compile error quoting a huge
// policy must not become a huge audit entry.
const maxReason = 2048

// LogConfig is how nexus-authz keeps its decision log, for the
// compliance report's decision-log check: where lines go and which input
// fields are masked (a policy set's system.log.mask may mask more).
type LogConfig struct {
	Destination string   `json:"destination"` // off | stdout | file
	Format      string   `json:"format"`
	Masks       []string `json:"masks"`
	// Upload says lines are also sent to a decision log service.
	Upload bool `json:"upload,omitempty"`
	// SealedMasked says the masked values are kept, encrypted under data
	// keys leased from the control plane (sealed_input).
	SealedMasked bool `json:"sealed_masked,omitempty"`
}

// Feed keeps the last events in a bounded ring. Instance changes every
// start, so a puller knows sequence numbers began again.
type Feed struct {
	instance string
	head     func() decisionlog.Head
	now      func() time.Time
	config   *LogConfig

	mu     sync.Mutex
	next   int64
	events []Event // oldest first, at most cap
	cap    int
	// lost counts events pushed out of the ring before a pull read them.
	lost int64
}

// New returns a feed over a decision log's head (nil: no decision log).
func New(head func() decisionlog.Head, capacity int, now func() time.Time) *Feed {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	if capacity <= 0 {
		capacity = 1024
	}
	if now == nil {
		now = time.Now
	}
	return &Feed{instance: hex.EncodeToString(b), head: head, now: now, next: 1, cap: capacity}
}

// SetLogConfig says how the decision log is kept; call it before serving.
func (f *Feed) SetLogConfig(c LogConfig) { f.config = &c }

// Instance names this process's sequence.
func (f *Feed) Instance() string { return f.instance }

// Record adds an event and returns its sequence number.
func (f *Feed) Record(e Event) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(e.Reason) > maxReason {
		e.Reason = e.Reason[:maxReason] + "…"
	}
	e.Seq, e.Time = f.next, f.now().UTC()
	f.next++
	if len(f.events) == f.cap {
		copy(f.events, f.events[1:])
		f.events = f.events[:len(f.events)-1]
		f.lost++
	}
	f.events = append(f.events, e)
	return e.Seq
}

// PolicyLoaded records a policy manager's load outcome; it fits
// policy.Manager's OnLoad.
func (f *Feed) PolicyLoaded(source string) func(ok bool, revision string, err error) {
	return func(ok bool, revision string, err error) {
		e := Event{Action: ActionActivate, Revision: revision, Source: source}
		if !ok {
			e.Action = ActionRefuse
			if err != nil {
				e.Reason = err.Error()
			}
		}
		f.Record(e)
	}
}

// Page is what a pull returns.
type Page struct {
	Instance string `json:"instance"`
	// DecisionLog is the decision log chain's head as last written; nil
	// when decisions are not logged to a chain.
	DecisionLog *decisionlog.Head `json:"decision_log,omitempty"`
	// DecisionLogConfig is how the decision log is kept.
	DecisionLogConfig *LogConfig `json:"decision_log_config,omitempty"`
	// Events are those with seq > after, oldest first.
	Events []Event `json:"events"`
	// Next is the seq the next event will get; pass Next-1 as after.
	Next int64 `json:"next"`
	// Missed is set when events the caller had not read were pushed out
	// of the ring: the audit log then records the gap.
	Missed bool      `json:"missed,omitempty"`
	Time   time.Time `json:"time"`
}

// Since returns the page after seq after.
func (f *Feed) Since(after int64) Page {
	f.mu.Lock()
	p := Page{Instance: f.instance, Next: f.next, Events: []Event{}, Time: f.now().UTC(), DecisionLogConfig: f.config}
	for _, e := range f.events {
		if e.Seq > after {
			p.Events = append(p.Events, e)
		}
	}
	first := f.next
	if len(f.events) > 0 {
		first = f.events[0].Seq
	}
	p.Missed = after+1 < first && f.lost > 0
	f.mu.Unlock()
	if f.head != nil {
		h := f.head()
		p.DecisionLog = &h
	}
	return p
}

// Handler serves GET ?after=N.
func (f *Feed) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var after int64
		if s := r.URL.Query().Get("after"); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 0 {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{
					"code": "invalid_parameter", "field": "after", "message": "after must be a non-negative integer (the last event seq read)"}})
				return
			}
			after = n
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(f.Since(after))
	})
}
