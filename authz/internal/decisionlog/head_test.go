package decisionlog_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secureai-nexus/nexus/authz/internal/decisionlog"
)

// The head a logger reports is the hash of the last line the sink holds,
// so an anchor of it is found by VerifyAnchored; a head anchored and then
// cut away is reported missing.
func TestHeadIsTheLastWrittenLineAndVerifiesAnchored(t *testing.T) {
	path := filepath.Join(t.TempDir(), "decisions.log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	l := decisionlog.New(f, "", 100, &counters{})
	if h := l.Head(); h.Hash != decisionlog.Genesis || h.Lines != 0 {
		t.Fatalf("fresh head = %+v, want genesis and no lines", h)
	}
	var mid decisionlog.Head
	for i := range 10 {
		l.Log(decisionlog.Entry{DecisionID: "d", Time: time.Unix(int64(i), 0).UTC(), Result: "allow"})
		if i == 4 {
			waitLines(t, l, 5)
			mid = l.Head()
		}
	}
	l.Close()
	f.Close()
	head := l.Head()
	if head.Lines != 10 || head.Hash == mid.Hash {
		t.Fatalf("head after 10 lines = %+v (mid %+v)", head, mid)
	}
	v, err := decisionlog.VerifyAnchored([]string{path}, open, mid.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if v.Head != head.Hash || v.AnchorLine != 5 || v.AnchorFile != path {
		t.Fatalf("verification %+v: want head %s and the anchor at line 5", v, head.Hash)
	}

	// Cut the log to its first four lines: the anchored fifth is gone.
	raw, _ := os.ReadFile(path)
	lines := bytes.SplitAfter(raw, []byte("\n"))
	if err := os.WriteFile(path, bytes.Join(lines[:4], nil), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := decisionlog.VerifyAnchored([]string{path}, open, mid.Hash); !errors.Is(err, decisionlog.ErrAnchorNotFound) {
		t.Fatalf("truncated log: err = %v, want ErrAnchorNotFound", err)
	}
}

func TestHeadCountsWriteErrorsAndKeepsTheLastGoodHash(t *testing.T) {
	l := decisionlog.New(failingWriter{}, "", 10, &counters{})
	l.Log(decisionlog.Entry{DecisionID: "d", Time: time.Unix(1, 0).UTC()})
	l.Close()
	h := l.Head()
	if h.WriteErrors != 1 || h.Lines != 0 || h.Hash != decisionlog.Genesis {
		t.Fatalf("head = %+v: a failed write must not move the head", h)
	}
}

func waitLines(t *testing.T, l *decisionlog.Logger, n int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for l.Head().Lines < n {
		if time.Now().After(deadline) {
			t.Fatalf("logger wrote %d lines, want %d", l.Head().Lines, n)
		}
		time.Sleep(time.Millisecond)
	}
}

type fixedSealer struct{ fail bool }

func (f fixedSealer) Seal(id string, pt []byte) (decisionlog.SealedInput, bool) {
	if f.fail {
		return decisionlog.SealedInput{}, false
	}
	// Not encryption: the test reads back what the logger handed over.
	return decisionlog.SealedInput{Key: "k1", Data: append([]byte(id+":"), pt...)}, true
}

// The values the masks hid reach the line only through the sealer, and
// the sealed field is inside the chain's hash; without a key they are
// dropped.
func TestMaskedValuesAreSealedOrDropped(t *testing.T) {
	mk, err := decisionlog.NewMasker(decisionlog.DefaultMasks())
	if err != nil {
		t.Fatal(err)
	}
	for _, fail := range []bool{false, true} {
		var buf bytes.Buffer
		l := decisionlog.New(&buf, "", 10, &counters{}, decisionlog.WithSealer(fixedSealer{fail: fail}))
		in := map[string]any{"parsed_body": map[string]any{"note": "Jane Roe 483920"}, "attributes": map[string]any{}}
		masked, hidden := mk.MaskKeeping(in)
		if len(masked) != 1 || hidden["/input/parsed_body"] == nil {
			t.Fatalf("masked %v, hidden %v", masked, hidden)
		}
		l.Log(decisionlog.Entry{DecisionID: "d1", Time: time.Unix(1, 0).UTC(), Input: in, Masked: masked, Hidden: hidden})
		l.Close()
		line := buf.String()
		if strings.Contains(line, "Jane") && fail {
			t.Fatalf("without a key the value was written: %s", line)
		}
		if !fail && !strings.Contains(line, `"sealed_input":{"key":"k1","data":"`) {
			t.Fatalf("no sealed_input: %s", line)
		}
		if fail && strings.Contains(line, "sealed_input") {
			t.Fatalf("sealed without a key: %s", line)
		}
		path := filepath.Join(t.TempDir(), "d.log")
		_ = os.WriteFile(path, buf.Bytes(), 0o600)
		if _, err := decisionlog.Verify([]string{path}, open); err != nil {
			t.Fatalf("chain: %v", err)
		}
	}
}
