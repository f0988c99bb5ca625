package transform_test

import (
	"strings"
	"testing"

	"github.com/secureai-nexus/nexus/filters/scan"
	"github.com/secureai-nexus/nexus/filters/transform"
)

func TestAnswerScannerFindsWhatTheCallerDidNotSend(t *testing.T) {
	sc := &scan.Scanner{}
	request := []byte(`{"model":"triage","messages":[{"role":"user","content":"My email is jane.doe@example.org, summarise my note"}]}`)
	own := transform.OwnValues(request, sc.Scan(request))
	sse := func(deltas ...string) string {
		var b strings.Builder
		for _, d := range deltas {
			b.WriteString(`data: {"id":"chatcmpl-1","choices":[{"index":0,"delta":{"content":"` + d + `"}}]}` + "\n\n")
		}
		return b.String() + "data: [DONE]\n\n"
	}
	tests := []struct {
		name   string
		ct     string
		chunks []string
		leaks  map[scan.Class]int
	}{
		{"a JSON answer with someone else's email", "application/json",
			[]string{`{"id":"chatcmpl-1","created":1764608400,"choices":[{"message":{"role":"assistant","content":"Contact john.smith@hospital.org for the results."}}]}`},
			map[scan.Class]int{scan.Email: 1}},
		{"the caller's own email echoed", "application/json",
			[]string{`{"choices":[{"message":{"content":"I will write to jane.doe@example.org."}}]}`}, map[scan.Class]int{}},
		{"tokens are not leaks", "application/json",
			[]string{`{"choices":[{"message":{"content":"I will write to [EMAIL_1]."}}]}`}, map[scan.Class]int{}},
		{"an email split across stream events and chunks", "text/event-stream",
			splitEvery(sse("Write to ", "john.sm", "ith@hosp", "ital.org", " today"), 7), map[scan.Class]int{scan.Email: 1}},
		{"a JSON answer split across chunks", "application/json",
			splitEvery(`{"choices":[{"message":{"content":"Reach me at john.smith@hospital.org"}}]}`, 5), map[scan.Class]int{scan.Email: 1}},
		{"plain text", "text/plain", []string{"call john.smith@hospital.org"}, map[scan.Class]int{scan.Email: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := transform.NewAnswerScanner(sc, own, tt.ct)
			for _, c := range tt.chunks {
				a.Write([]byte(c))
			}
			got := a.Finish()
			if len(got.Leaks) != len(tt.leaks) || got.Truncated {
				t.Fatalf("leaks %v (truncated %v), want %v", got.Leaks, got.Truncated, tt.leaks)
			}
			for c, n := range tt.leaks {
				if got.Leaks[c] != n {
					t.Fatalf("leaks %v, want %v", got.Leaks, tt.leaks)
				}
			}
		})
	}
}

func TestAnswerScannerBoundsWhatItKeeps(t *testing.T) {
	a := transform.NewAnswerScanner(&scan.Scanner{}, nil, "text/plain")
	big := strings.Repeat("x", 64<<10)
	for range 5 {
		a.Write([]byte(big))
	}
	a.Write([]byte(" john.smith@hospital.org"))
	if got := a.Finish(); !got.Truncated || len(got.Leaks) != 0 {
		t.Fatalf("%+v: a value past the bound is not scanned, and the answer says it was truncated", got)
	}
}

func FuzzAnswerScanner(f *testing.F) {
	f.Add([]byte(`data: {"choices":[{"delta":{"content":"hi john@x.org"}}]}`+"\n\n"), "text/event-stream", 3)
	f.Add([]byte(`{"choices":[{"message":{"content":"a"}}]}`), "application/json", 1)
	f.Fuzz(func(t *testing.T, body []byte, ct string, cut int) {
		a := transform.NewAnswerScanner(&scan.Scanner{}, nil, ct)
		if cut <= 0 || cut > len(body) {
			cut = len(body)
		}
		a.Write(body[:cut])
		a.Write(body[cut:])
		for c, n := range a.Finish().Leaks {
			if n <= 0 || c == "" {
				t.Fatalf("leak %q × %d", c, n)
			}
		}
	})
}

func splitEvery(s string, n int) []string {
	var out []string
	for len(s) > n {
		out = append(out, s[:n])
		s = s[n:]
	}
	return append(out, s)
}
