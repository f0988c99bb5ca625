package piiscan_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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

// piiscan reads the files it is given, standard input for none or "-",
// as Unix filters do; with more than one input each finding names its
// file, and an input that cannot be read is named on stderr while the
// others are still scanned.
func TestFiles(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.txt")
	b := filepath.Join(dir, "b.json")
	if err := os.WriteFile(a, []byte("mail jane@example.com"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, []byte(`{"content":"ssn 123-45-6789"}`), 0o600); err != nil {
		t.Fatal(err)
	}

	// One file: the same lines as the same text on stdin.
	_, fromStdin, _ := run(t, "mail jane@example.com")
	if code, out, errs := run(t, "", a); code != 0 || out != fromStdin {
		t.Errorf("one file: exit %d, %q (stdin gave %q) %s", code, out, fromStdin, errs)
	}

	// Two files and stdin: each finding names where it was found.
	code, out, errs := run(t, "call 415-555-0132 now", a, "-", b)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var f struct {
			File  string `json:"file"`
			Class string `json:"class"`
			Start int    `json:"start"`
		}
		if err := json.Unmarshal([]byte(line), &f); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		got = append(got, fmt.Sprintf("%s %s %d", f.File, f.Class, f.Start))
	}
	want := []string{a + " EMAIL 5", "(standard input) PHONE 5", b + " US_SSN 16"}
	if !slices.Equal(got, want) {
		t.Errorf("findings %q, want %q", got, want)
	}

	// Counts over all inputs; transformed inputs one after the other.
	if _, out, _ := run(t, "", "--stats", a, b); strings.TrimSpace(out) != `{"EMAIL":1,"US_SSN":1}` {
		t.Errorf("stats: %s", out)
	}
	if _, out, _ := run(t, "", "--mode", "redact", a, b); out != `mail [REDACTED:EMAIL]{"content":"ssn [REDACTED:US_SSN]"}` {
		t.Errorf("redact: %s", out)
	}

	// A missing file is named, the rest still scanned, and the exit is 1.
	missing := filepath.Join(dir, "missing.txt")
	code, out, errs = run(t, "", missing, a)
	if code != 1 || !strings.Contains(errs, missing) || !strings.Contains(out, `"class":"EMAIL"`) {
		t.Errorf("missing file: exit %d, out %q, stderr %q", code, out, errs)
	}
}
