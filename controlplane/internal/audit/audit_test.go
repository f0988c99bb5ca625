package audit_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/audit"
)

func chain(t *testing.T, n int) []audit.Record {
	t.Helper()
	var out []audit.Record
	var prev *audit.Record
	for i := 0; i < n; i++ {
		r, err := audit.Seal(prev, audit.Entry{
			Time: time.Date(2026, 11, 22, 10, 0, i, 0, time.UTC), Actor: "alice", Action: "traffic.set", Target: "models/triage",
			Before: json.RawMessage(`{"v1": 100}`), After: json.RawMessage(`{"v1":90,"v2":10}`),
		})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
		prev = &out[len(out)-1]
	}
	return out
}

func verify(rs []audit.Record) audit.Verification {
	var v audit.Verifier
	for _, r := range rs {
		if !v.Add(r) {
			break
		}
	}
	return v.Result()
}

func TestVerify(t *testing.T) {
	tests := []struct {
		name     string
		tamper   func([]audit.Record) []audit.Record
		brokenAt int64
		reason   string
	}{
		{"intact", func(r []audit.Record) []audit.Record { return r }, 0, ""},
		{"empty", func(r []audit.Record) []audit.Record { return nil }, 0, ""},
		{"edited actor", func(r []audit.Record) []audit.Record { r[2].Actor = "mallory"; return r }, 3, "edited"},
		{"edited after", func(r []audit.Record) []audit.Record { r[1].After = json.RawMessage(`{"v1":0,"v2":100}`); return r }, 2, "edited"},
		{"removed middle", func(r []audit.Record) []audit.Record { return append(r[:2], r[3:]...) }, 3, "missing"},
		{"removed first", func(r []audit.Record) []audit.Record { return r[1:] }, 1, "missing"},
		{"rehashed edit", func(r []audit.Record) []audit.Record {
			// An attacker who recomputes the edited record's hash still
			// breaks the link to the next one.
			r[1].Actor = "mallory"
			re, _ := audit.Seal(&r[0], r[1].Entry)
			r[1] = re
			return r
		}, 3, "previous-hash"},
		{"reordered", func(r []audit.Record) []audit.Record { r[1], r[2] = r[2], r[1]; return r }, 2, "missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := verify(tt.tamper(chain(t, 5)))
			if v.OK != (tt.brokenAt == 0) || v.BrokenAt != tt.brokenAt {
				t.Fatalf("verification = %+v, want broken at %d", v, tt.brokenAt)
			}
			if tt.reason != "" && !contains(v.Reason, tt.reason) {
				t.Errorf("reason %q does not mention %q", v.Reason, tt.reason)
			}
		})
	}
}

func TestWhitespaceInStoredJSONDoesNotMatter(t *testing.T) {
	rs := chain(t, 2)
	rs[0].Before = json.RawMessage("{\n  \"v1\": 100\n}")
	if v := verify(rs); !v.OK {
		t.Fatalf("reformatted JSON broke the chain: %+v", v)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
