package transform_test

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"

	"github.com/secureai-nexus/nexus/filters/scan"
	"github.com/secureai-nexus/nexus/filters/transform"
)

func sseEvent(content string) string {
	b, _ := json.Marshal(map[string]any{"object": "chat.completion.chunk", "choices": []any{map[string]any{"index": 0, "delta": map[string]any{"content": content}}}})
	return "data: " + string(b) + "\n\n"
}

// contentOf joins the delta contents of a stream, as a client renders it.
func contentOf(t *testing.T, stream string) string {
	t.Helper()
	var sb strings.Builder
	sc := bufio.NewScanner(strings.NewReader(stream))
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		var ev struct {
			Choices []struct {
				Delta struct{ Content string } `json:"delta"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			t.Fatalf("event is not JSON: %v: %s", err, data)
		}
		for _, c := range ev.Choices {
			sb.WriteString(c.Delta.Content)
		}
	}
	return sb.String()
}

// TestSSETokenSplitAcrossEvents: the model streams "[EMA" and "IL_1]" in
// separate events, and the chunks the proxy sees cut events anywhere.
func TestSSETokenSplitAcrossEvents(t *testing.T) {
	v := transform.NewVault()
	v.Token(scan.Email, `jane"q@example.com`)
	stream := sseEvent("Dear ") + sseEvent("[EMA") + sseEvent("IL_1], ") + sseEvent("see [EMAIL_2] [x]") + "data: [DONE]\n\n"
	want := `Dear jane"q@example.com, see [EMAIL_2] [x]`
	for cut := 1; cut < len(stream); cut += 7 {
		r := transform.NewSSERestorer(v)
		var out strings.Builder
		for i := 0; i < len(stream); i += cut {
			out.Write(r.Write([]byte(stream[i:min(i+cut, len(stream))])))
		}
		out.Write(r.Flush())
		if got := contentOf(t, out.String()); got != want {
			t.Fatalf("chunk size %d: content %q, want %q\n%s", cut, got, want, out.String())
		}
		if !strings.HasSuffix(out.String(), "data: [DONE]\n\n") {
			t.Fatalf("chunk size %d: [DONE] lost", cut)
		}
	}
}

func TestSSEUnfinishedTokenIsFlushed(t *testing.T) {
	r := transform.NewSSERestorer(transform.NewVault())
	out := string(r.Write([]byte(sseEvent("ends with [EMAI")))) + string(r.Flush())
	if got := contentOf(t, out); got != "ends with [EMAI" {
		t.Errorf("content = %q", got)
	}
}

// FuzzSSERestorer: arbitrary streams in arbitrary chunks never panic, and
// with no tokens issued the stream passes through byte for byte.
func FuzzSSERestorer(f *testing.F) {
	f.Add(sseEvent("hello [EMAIL_1]")+"data: [DONE]\n\n", 5)
	f.Add("data: {\"choices\":[{\"delta\":{\"content\":1}}]}\r\n\r\n: comment\n\n", 3)
	f.Fuzz(func(t *testing.T, stream string, cut int) {
		if cut < 1 {
			cut = 1
		}
		r := transform.NewSSERestorer(transform.NewVault())
		// With tokens issued, the rendered content must survive any
		// chunking; checked separately below.
		issued := transform.NewVault()
		issued.Token(scan.Email, "a@b.co")
		rt := transform.NewSSERestorer(issued)
		var full []byte
		for i := 0; i < len(stream); i += cut {
			full = append(full, rt.Write([]byte(stream[i:min(i+cut, len(stream))]))...)
		}
		_ = append(full, rt.Flush()...)
		var out []byte
		for i := 0; i < len(stream); i += cut {
			out = append(out, r.Write([]byte(stream[i:min(i+cut, len(stream))]))...)
		}
		out = append(out, r.Flush()...)
		if string(out) != stream {
			t.Fatalf("stream changed without tokens:\n%q\n%q", stream, out)
		}
	})
}
