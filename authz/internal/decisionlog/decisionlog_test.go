package decisionlog_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secureai-nexus/nexus/authz/internal/decisionlog"
)

type counters struct{ dropped, errors atomic.Int64 }

func (c *counters) LogDropped()    { c.dropped.Add(1) }
func (c *counters) LogWriteError() { c.errors.Add(1) }

func open(name string) (io.ReadCloser, error) { return os.Open(name) }

func writeLog(t *testing.T, path string, n int, format decisionlog.Format) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	l := decisionlog.New(f, "", 100, &counters{}, decisionlog.WithFormat(format))
	for i := 0; i < n; i++ {
		l.Log(decisionlog.Entry{DecisionID: strings.Repeat("a", i+1), Time: time.Unix(int64(i), 0).UTC(), Result: "allow"})
	}
	l.Close()
	f.Close()
}

func TestVerifyDetectsTampering(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name   string
		tamper func([]string) []string
		want   string
	}{
		{"intact", func(l []string) []string { return l }, ""},
		{"edited", func(l []string) []string { l[2] = strings.Replace(l[2], `"allow"`, `"deny"`, 1); return l }, ":3: content does not match its hash"},
		{"removed", func(l []string) []string { return append(l[:1], l[2:]...) }, ":2: previous-hash does not match"},
		{"reordered", func(l []string) []string { l[1], l[2] = l[2], l[1]; return l }, ":2: previous-hash does not match"},
		{"truncated line", func(l []string) []string { l[3] = l[3][:40]; return l }, ":4: line does not end with its hash"},
	}
	for _, format := range []decisionlog.Format{decisionlog.FormatNexus, decisionlog.FormatOPA} {
		for _, tt := range tests {
			t.Run(format.String()+"/"+tt.name, func(t *testing.T) {
				p := filepath.Join(dir, format.String()+"-"+tt.name+".log")
				writeLog(t, p, 5, format)
				b, _ := os.ReadFile(p)
				lines := tt.tamper(strings.Split(strings.TrimSuffix(string(b), "\n"), "\n"))
				if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				v, err := decisionlog.Verify([]string{p}, open)
				if tt.want == "" {
					if err != nil || v.Lines != 5 || v.Continues {
						t.Fatalf("intact log: %+v %v", v, err)
					}
					return
				}
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("err = %v, want %q", err, tt.want)
				}
			})
		}
	}
}

// TestRotationKeepsTheChain: lines spread over rotated files verify as one
// chain when given oldest first, and a restarted logger continues it.
func TestRotationKeepsTheChain(t *testing.T) {
	p := filepath.Join(t.TempDir(), "decisions.log")
	rf, err := decisionlog.OpenRotating(p, 600, 3)
	if err != nil {
		t.Fatal(err)
	}
	l := decisionlog.New(rf, "", 100, &counters{})
	for i := 0; i < 8; i++ {
		l.Log(decisionlog.Entry{DecisionID: "first-run", Time: time.Unix(int64(i), 0).UTC(), Result: "deny", Reason: "denied by policy"})
		// Let each line be flushed on its own, so the file rotates between them.
		time.Sleep(2 * time.Millisecond)
	}
	l.Close()
	rf.Close()

	f, _ := os.Open(p)
	head, err := decisionlog.LastHash(f)
	f.Close()
	if err != nil || len(head) != 64 {
		t.Fatalf("last hash = %q, %v", head, err)
	}
	rf, err = decisionlog.OpenRotating(p, 600, 3)
	if err != nil {
		t.Fatal(err)
	}
	l = decisionlog.New(rf, head, 100, &counters{})
	l.Log(decisionlog.Entry{DecisionID: "second-run", Time: time.Unix(100, 0).UTC(), Result: "allow"})
	l.Close()
	rf.Close()

	files := []string{p + ".3", p + ".2", p + ".1", p}
	var present []string
	for _, f := range files {
		if _, err := os.Stat(f); err == nil {
			present = append(present, f)
		}
	}
	if len(present) < 3 {
		t.Fatalf("expected rotation, got %v", present)
	}
	v, err := decisionlog.Verify(present, open)
	if err != nil {
		t.Fatal(err)
	}
	// The oldest file may have rotated away: the chain then continues one.
	if v.Lines < 5 {
		t.Errorf("verified %d lines", v.Lines)
	}
}

// blockingWriter stalls until released, like a full disk or a stuck pipe.
type blockingWriter struct {
	release chan struct{}
	// stuck is closed once the first write is waiting on release.
	stuck     chan struct{}
	stuckOnce sync.Once
	mu        sync.Mutex
	buf       bytes.Buffer
}

func (b *blockingWriter) Write(p []byte) (int, error) {
	if b.stuck != nil {
		b.stuckOnce.Do(func() { close(b.stuck) })
	}
	<-b.release
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// TestNeverBlocks: with the sink stuck, Log returns at once; lines beyond
// the queue are dropped, counted, and recorded as a gap in the chain.
func TestNeverBlocks(t *testing.T) {
	w := &blockingWriter{release: make(chan struct{}), stuck: make(chan struct{})}
	c := &counters{}
	l := decisionlog.New(w, "", 4, c)
	// One line first, so the writer is stuck in the sink before the rest:
	// then only the queue's four lines can wait, whatever the speed of
	// encoding.
	l.Log(decisionlog.Entry{DecisionID: "first", Result: "allow"})
	<-w.stuck
	start := time.Now()
	for i := 0; i < 1000; i++ {
		l.Log(decisionlog.Entry{DecisionID: "x", Result: "allow"})
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Log blocked for %v", d)
	}
	if got := c.dropped.Load(); got != 996 {
		t.Errorf("dropped = %d, want 996 (1,000 lines, 4 queued)", got)
	}
	close(w.release)
	l.Log(decisionlog.Entry{DecisionID: "after", Result: "allow"})
	l.Close()
	out := w.buf.String()
	if !strings.Contains(out, `"type":"gap"`) || !strings.Contains(out, `"dropped":`) {
		t.Errorf("no gap record:\n%s", out)
	}
	p := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(p, w.buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := decisionlog.Verify([]string{p}, open); err != nil {
		t.Errorf("chain with a gap does not verify: %v", err)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, os.ErrPermission }

func TestSinkFailureIsCounted(t *testing.T) {
	c := &counters{}
	l := decisionlog.New(failingWriter{}, "", 10, c)
	l.Log(decisionlog.Entry{DecisionID: "x"})
	l.Close()
	if c.errors.Load() != 1 {
		t.Errorf("write errors = %d", c.errors.Load())
	}
}

func TestMasker(t *testing.T) {
	m, err := decisionlog.NewMasker(append(decisionlog.DefaultMasks(), "/input/nexus/claims/email", "/input/a~1b"))
	if err != nil {
		t.Fatal(err)
	}
	in := map[string]any{
		"attributes": map[string]any{"request": map[string]any{"http": map[string]any{
			"headers": map[string]any{"authorization": "Bearer x", "accept": "*/*"},
			"body":    "secret body",
		}}},
		"parsed_body": map[string]any{"ssn": "123-45-6789"},
		"nexus":       map[string]any{"claims": map[string]any{"email": "a@b.c", "sub": "u1"}},
		"a/b":         "slash",
	}
	if !m.Masks("/input/parsed_body") || m.Masks("/input/nexus") || m.Masks("/input/parsed_body/x") {
		t.Error("Masks does not answer for whole masked values only")
	}
	m.Mask(in)
	h := in["attributes"].(map[string]any)["request"].(map[string]any)["http"].(map[string]any)
	if h["headers"].(map[string]any)["authorization"] != decisionlog.MaskMarker || h["headers"].(map[string]any)["accept"] != "*/*" || h["body"] != decisionlog.MaskMarker {
		t.Errorf("http = %v", h)
	}
	if in["parsed_body"] != decisionlog.MaskMarker || in["a/b"] != decisionlog.MaskMarker {
		t.Errorf("input = %v", in)
	}
	if c := in["nexus"].(map[string]any)["claims"].(map[string]any); c["email"] != decisionlog.MaskMarker || c["sub"] != "u1" {
		t.Errorf("claims = %v", c)
	}
	if _, err := decisionlog.NewMasker([]string{"/attributes/x"}); err == nil {
		t.Error("a mask outside /input was accepted")
	}
}

// FuzzVerify: verify-log reads files an attacker may have edited; any
// content gives a verdict, never a panic.
func FuzzVerify(f *testing.F) {
	line, _, _ := decisionlog.Seal(decisionlog.Entry{DecisionID: "x"}, decisionlog.Genesis)
	f.Add(line)
	f.Add([]byte("{\"prev_hash\":\"\",\"hash\":\"zz\"}\n"))
	f.Fuzz(func(t *testing.T, content []byte) {
		p := filepath.Join(t.TempDir(), "log")
		if err := os.WriteFile(p, content, 0o600); err != nil {
			t.Fatal(err)
		}
		_, _ = decisionlog.Verify([]string{p}, open)
		_, _ = decisionlog.LastHash(bytes.NewReader(content))
	})
}

// TestLogAfterClose: a check that finishes after shutdown began is counted
// as dropped, not a panic.
func TestLogAfterClose(t *testing.T) {
	var m counters
	l := decisionlog.New(io.Discard, "", 4, &m)
	l.Close()
	l.Log(decisionlog.Entry{DecisionID: "late"})
	if m.dropped.Load() != 1 {
		t.Errorf("dropped = %d", m.dropped.Load())
	}
}
