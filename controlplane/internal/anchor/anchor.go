// Package anchor brings nexus-authz's security events into the control
// plane's audit log: at a fixed interval it pulls each nexus-authz's audit
// feed, appends its policy set activations and refusals as audit entries,
// and anchors its decision log's chain head, so one signed checkpoint of
// the audit log covers the high-volume decision log as well. Plan is the
// pure decision; Runner does the I/O.
package anchor

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/audit"
)

// Page is nexus-authz's GET /v1/nexus/audit-feed answer.
type Page struct {
	Instance    string           `json:"instance"`
	DecisionLog *DecisionLogHead `json:"decision_log,omitempty"`
	// DecisionLogConfig is how that nexus-authz keeps its decision log.
	DecisionLogConfig *LogConfig `json:"decision_log_config,omitempty"`
	Events            []Event    `json:"events"`
	Next              int64      `json:"next"`
	Missed            bool       `json:"missed,omitempty"`
	Time              time.Time  `json:"time"`
}

// DecisionLogHead is the decision log chain's head as nexus-authz last
// wrote it.
type DecisionLogHead struct {
	Hash        string    `json:"hash"`
	Lines       int64     `json:"lines"`
	Dropped     int64     `json:"dropped"`
	WriteErrors int64     `json:"write_errors"`
	Time        time.Time `json:"time,omitzero"`
}

// LogConfig is how a nexus-authz keeps its decision log.
type LogConfig struct {
	Destination string   `json:"destination"`
	Format      string   `json:"format"`
	Masks       []string `json:"masks"`
	Upload      bool     `json:"upload,omitempty"`
	// SealedMasked says the masked values are kept, encrypted under data
	// keys leased from the control plane.
	SealedMasked bool `json:"sealed_masked,omitempty"`
}

// Event is one nexus-authz event.
type Event struct {
	Seq      int64     `json:"seq"`
	Time     time.Time `json:"time"`
	Action   string    `json:"action"`
	Revision string    `json:"revision,omitempty"`
	Source   string    `json:"source,omitempty"`
	Reason   string    `json:"reason,omitempty"`
}

// Cursor is how far a feed has been read: its instance, the last event
// read and the last head anchored. It is stored with each entry it
// produces, so a restart neither repeats nor skips.
type Cursor struct {
	Instance string `json:"instance"`
	Seq      int64  `json:"seq"`
	Head     string `json:"head"`
}

// Step is one audit entry and the cursor once it is written.
type Step struct {
	Entry  audit.Entry
	Cursor Cursor
}

// Audit actions written here.
const (
	ActionAnchor  = "decisionlog.anchor"
	ActionGap     = "authz.feed.gap"
	ActionRestart = "authz.restart"
)

// eventActions are the nexus-authz actions copied into the audit log;
// anything else in a feed is ignored, so a feed cannot write arbitrary
// actions into the log.
var eventActions = map[string]bool{"policy.activate": true, "policy.refuse": true}

// Plan turns a page of feed (named feed, e.g. "authz/127.0.0.1:9192")
// into the audit entries still to write after cur, in order. A page from a
// new instance (a restart) starts its events again from the first.
func Plan(feed string, cur Cursor, p Page, now time.Time) []Step {
	var steps []Step
	add := func(action, target string, after any, c Cursor) {
		raw, _ := json.Marshal(after)
		steps = append(steps, Step{
			Entry:  audit.Entry{Time: now, Actor: feed, Action: action, Target: target, After: raw},
			Cursor: c,
		})
	}
	next := cur
	if p.Instance != cur.Instance {
		if cur.Instance != "" {
			add(ActionRestart, feed, map[string]any{"previous_instance": cur.Instance, "instance": p.Instance}, Cursor{Instance: p.Instance, Head: cur.Head})
		}
		next = Cursor{Instance: p.Instance, Head: cur.Head}
	}
	if p.Missed {
		add(ActionGap, feed, map[string]any{"instance": p.Instance, "after_seq": next.Seq,
			"reason": "events were pushed out of nexus-authz's feed before they were read"}, next)
	}
	for _, e := range p.Events {
		if e.Seq <= next.Seq || !eventActions[e.Action] {
			continue
		}
		next.Seq = e.Seq
		add(e.Action, feed+"/policies", map[string]any{"instance": p.Instance, "seq": e.Seq, "time": e.Time,
			"revision": e.Revision, "source": e.Source, "reason": e.Reason}, next)
	}
	if h := p.DecisionLog; h != nil && h.Lines > 0 && h.Hash != next.Head {
		next.Head = h.Hash
		add(ActionAnchor, feed+"/decision-log", map[string]any{"instance": p.Instance, "head": h.Hash, "lines": h.Lines,
			"dropped": h.Dropped, "write_errors": h.WriteErrors, "written_at": h.Time}, next)
	}
	return steps
}

// maxReason bounds a refusal's reason copied into the audit log.
const maxReason = 2048

// Parse reads a feed page, refusing one that could put something other
// than a hash, counts, revisions and bounded reasons into the audit log.
func Parse(raw []byte) (Page, error) {
	var p Page
	if err := json.Unmarshal(raw, &p); err != nil {
		return Page{}, fmt.Errorf("audit feed page is not JSON: %w", err)
	}
	if !token(p.Instance, 64) {
		return Page{}, fmt.Errorf("audit feed page: instance %q is not a short token", p.Instance)
	}
	if h := p.DecisionLog; h != nil {
		if len(h.Hash) != 64 || strings.Trim(h.Hash, "0123456789abcdef") != "" {
			return Page{}, fmt.Errorf("audit feed page: decision_log.hash %q is not a SHA-256 hex digest", h.Hash)
		}
		if h.Lines < 0 || h.Dropped < 0 || h.WriteErrors < 0 {
			return Page{}, errors.New("audit feed page: decision_log counts must not be negative")
		}
	}
	for i := range p.Events {
		e := &p.Events[i]
		if e.Seq <= 0 || (i > 0 && e.Seq <= p.Events[i-1].Seq) {
			return Page{}, fmt.Errorf("audit feed page: events[%d].seq %d is not increasing", i, e.Seq)
		}
		if len(e.Revision) > 256 || len(e.Source) > 1024 {
			return Page{}, fmt.Errorf("audit feed page: events[%d] revision or source is too long", i)
		}
		if len(e.Reason) > maxReason {
			e.Reason = e.Reason[:maxReason] + "…"
		}
	}
	return p, nil
}

func token(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}
