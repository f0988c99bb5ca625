package anchor_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/anchor"
)

var (
	now   = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	hashA = strings.Repeat("a", 64)
	hashB = strings.Repeat("b", 64)
)

func TestPlan(t *testing.T) {
	head := func(h string, n int64) *anchor.DecisionLogHead { return &anchor.DecisionLogHead{Hash: h, Lines: n} }
	ev := func(seq int64, action string) anchor.Event {
		return anchor.Event{Seq: seq, Action: action, Revision: "r", Source: "policies"}
	}
	tests := []struct {
		name    string
		cur     anchor.Cursor
		page    anchor.Page
		actions []string
		last    anchor.Cursor
	}{
		{
			name:    "first pull: events, then the head",
			page:    anchor.Page{Instance: "i1", Events: []anchor.Event{ev(1, "policy.activate"), ev(2, "policy.refuse")}, DecisionLog: head(hashA, 10)},
			actions: []string{"policy.activate", "policy.refuse", "decisionlog.anchor"},
			last:    anchor.Cursor{Instance: "i1", Seq: 2, Head: hashA},
		},
		{
			name: "nothing new: nothing written",
			cur:  anchor.Cursor{Instance: "i1", Seq: 2, Head: hashA},
			page: anchor.Page{Instance: "i1", Events: []anchor.Event{ev(2, "policy.refuse")}, DecisionLog: head(hashA, 10)},
		},
		{
			name:    "the head moved",
			cur:     anchor.Cursor{Instance: "i1", Seq: 2, Head: hashA},
			page:    anchor.Page{Instance: "i1", DecisionLog: head(hashB, 12)},
			actions: []string{"decisionlog.anchor"},
			last:    anchor.Cursor{Instance: "i1", Seq: 2, Head: hashB},
		},
		{
			name:    "restart: recorded, events counted from 1 again",
			cur:     anchor.Cursor{Instance: "i1", Seq: 9, Head: hashA},
			page:    anchor.Page{Instance: "i2", Events: []anchor.Event{ev(1, "policy.activate")}, DecisionLog: head(hashA, 3)},
			actions: []string{"authz.restart", "policy.activate"},
			last:    anchor.Cursor{Instance: "i2", Seq: 1, Head: hashA},
		},
		{
			name:    "events lost to the ring: a gap entry",
			cur:     anchor.Cursor{Instance: "i1", Seq: 1, Head: hashA},
			page:    anchor.Page{Instance: "i1", Missed: true, Events: []anchor.Event{ev(5, "policy.activate")}},
			actions: []string{"authz.feed.gap", "policy.activate"},
			last:    anchor.Cursor{Instance: "i1", Seq: 5, Head: hashA},
		},
		{
			name: "a feed cannot write actions of its own choosing",
			cur:  anchor.Cursor{Instance: "i1", Seq: 1, Head: hashA},
			page: anchor.Page{Instance: "i1", Events: []anchor.Event{ev(2, "traffic.set")}},
		},
		{
			name: "an empty decision log is not anchored",
			page: anchor.Page{Instance: "i1", DecisionLog: head(hashA, 0)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			steps := anchor.Plan("authz/127.0.0.1:9192", tt.cur, tt.page, now)
			var got []string
			for _, s := range steps {
				got = append(got, s.Entry.Action)
				if s.Entry.Actor != "authz/127.0.0.1:9192" || !s.Entry.Time.Equal(now) || !json.Valid(s.Entry.After) {
					t.Errorf("entry %+v", s.Entry)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.actions, ",") {
				t.Fatalf("actions = %v, want %v", got, tt.actions)
			}
			if len(steps) > 0 && steps[len(steps)-1].Cursor != tt.last {
				t.Fatalf("cursor = %+v, want %+v", steps[len(steps)-1].Cursor, tt.last)
			}
		})
	}
}

func TestParseRefusesWhatIsNotAFeedPage(t *testing.T) {
	for name, raw := range map[string]string{
		"not JSON":          `{`,
		"no instance":       `{"events":[]}`,
		"instance with /":   `{"instance":"a/b","events":[]}`,
		"short hash":        `{"instance":"i","decision_log":{"hash":"abc","lines":1},"events":[]}`,
		"negative count":    `{"instance":"i","decision_log":{"hash":"` + hashA + `","lines":-1},"events":[]}`,
		"seq not ascending": `{"instance":"i","events":[{"seq":2,"action":"policy.activate"},{"seq":2,"action":"policy.activate"}]}`,
		"seq zero":          `{"instance":"i","events":[{"seq":0,"action":"policy.activate"}]}`,
	} {
		if _, err := anchor.Parse([]byte(raw)); err == nil {
			t.Errorf("%s: accepted %s", name, raw)
		}
	}
	p, err := anchor.Parse([]byte(`{"instance":"i","events":[{"seq":1,"action":"policy.refuse","reason":"` + strings.Repeat("x", 5000) + `"}]}`))
	if err != nil || len(p.Events[0].Reason) > 2100 {
		t.Fatalf("long reason: %v, %d bytes", err, len(p.Events[0].Reason))
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"instance":"i","decision_log":{"hash":"` + hashA + `","lines":3},"events":[{"seq":1,"action":"policy.activate"}]}`))
	f.Add([]byte(`{"instance":"","events":null}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := anchor.Parse(raw)
		if err != nil {
			return
		}
		for _, s := range anchor.Plan("authz/x", anchor.Cursor{}, p, now) {
			if !json.Valid(s.Entry.After) {
				t.Fatalf("entry after is not JSON: %s", s.Entry.After)
			}
		}
	})
}
