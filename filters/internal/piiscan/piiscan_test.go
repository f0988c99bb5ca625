package piiscan_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/secureai-nexus/nexus/filters/internal/piiscan"
)

func run(t *testing.T, in string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := piiscan.Run(args, strings.NewReader(in), &out, &errb)
	return code, out.String(), errb.String()
}

func TestFindings(t *testing.T) {
	code, out, _ := run(t, "reach me at jane@example.com or 415-555-0132 (phone)")
	if code != 0 {
		t.Fatal(code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("findings = %q", out)
	}
	var f struct {
		Class      string  `json:"class"`
		Start      int     `json:"start"`
		End        int     `json:"end"`
		Confidence float64 `json:"confidence"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &f); err != nil || f.Class != "EMAIL" || f.Start != 12 {
		t.Errorf("first finding = %s (%v)", lines[0], err)
	}
}

func TestModes(t *testing.T) {
	in := `{"messages":[{"role":"user","content":"I am jane@example.com"}]}`
	if _, out, _ := run(t, in, "--mode", "tokenize"); out != `{"messages":[{"role":"user","content":"I am [EMAIL_1]"}]}` {
		t.Errorf("tokenize: %s", out)
	}
	if _, out, _ := run(t, "ssn 123-45-6789", "--mode", "redact"); out != "ssn [REDACTED:US_SSN]" {
		t.Errorf("redact: %s", out)
	}
	if _, out, _ := run(t, "jane@example.com", "--mode", "hash", "--hash-key", "k"); !strings.HasPrefix(out, "[EMAIL:cli:") {
		t.Errorf("hash: %s", out)
	}
	if _, out, _ := run(t, "a@example.com b@example.com 123-45-6789", "--stats"); strings.TrimSpace(out) != `{"EMAIL":2,"US_SSN":1}` {
		t.Errorf("stats: %s", out)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--mode", "block"}, {"--mode", "hash"}, {"--format", "xml"}} {
		if code, _, errs := run(t, "x", args...); code != 2 || errs == "" {
			t.Errorf("%v: exit %d %q", args, code, errs)
		}
	}
}
