package transform

import (
	"bytes"
	"encoding/json"
	"hash/fnv"

	"github.com/secureai-nexus/nexus/filters/scan"
)

// MaxAnswerText bounds the answer text kept for scanning: a longer answer
// is scanned up to here and counted as truncated.
const MaxAnswerText = 256 << 10

// AnswerScanner finds personal data in a model's answer that the caller
// did not send: the answer passes through untouched while its text (the
// string values of a JSON body, the content deltas of an event stream,
// the body itself otherwise) is kept, up to MaxAnswerText, and scanned
// once at the end, so a value the model emits piece by piece across
// events is still found. Values the caller sent itself (in any class,
// whatever their mode) are the caller's own and not counted; tokens are
// restored only after this scan, so they are not counted either.
type AnswerScanner struct {
	scanner   *scan.Scanner
	own       map[uint64]bool
	sse, json bool
	text      []byte
	pending   []byte // an event stream's incomplete event
	body      []byte // a JSON body, whole, to walk at the end
	truncated bool
}

// OwnValues are the fingerprints of the values found in a request body:
// an answer that repeats them gives the caller back its own data.
func OwnValues(body []byte, fs []scan.Finding) map[uint64]bool {
	own := make(map[uint64]bool, len(fs))
	for _, f := range fs {
		if f.Start >= 0 && f.End <= len(body) && f.Start < f.End {
			own[fingerprint(body[f.Start:f.End])] = true
		}
	}
	return own
}

func fingerprint(b []byte) uint64 {
	h := fnv.New64a()
	h.Write(bytes.TrimSpace(b))
	return h.Sum64()
}

// NewAnswerScanner returns a scanner for one answer of the given content
// type.
func NewAnswerScanner(s *scan.Scanner, own map[uint64]bool, contentType string) *AnswerScanner {
	return &AnswerScanner{scanner: s, own: own,
		sse:  bytes.Contains([]byte(contentType), []byte("event-stream")),
		json: bytes.Contains([]byte(contentType), []byte("json"))}
}

// Write takes the next chunk of the answer as the model sent it.
func (a *AnswerScanner) Write(chunk []byte) {
	switch {
	case a.sse:
		a.pending = append(a.pending, chunk...)
		for {
			i, n := eventEnd(a.pending)
			if i < 0 {
				break
			}
			a.event(a.pending[:i])
			a.pending = a.pending[i+n:]
		}
		if len(a.pending) > MaxAnswerText {
			a.keep(a.pending)
			a.pending = nil
		}
	case a.json:
		if len(a.body)+len(chunk) > MaxAnswerText {
			a.truncated = true
			chunk = chunk[:max(0, MaxAnswerText-len(a.body))]
		}
		a.body = append(a.body, chunk...)
	default:
		a.keep(chunk)
	}
}

func (a *AnswerScanner) keep(b []byte) {
	room := MaxAnswerText - len(a.text)
	if len(b) > room {
		b, a.truncated = b[:max(0, room)], true
	}
	a.text = append(a.text, b...)
}

// event keeps the content of one event: each choice's delta or message
// content of a chat completion chunk, or the data itself.
func (a *AnswerScanner) event(ev []byte) {
	for _, line := range bytes.Split(ev, []byte("\n")) {
		data, ok := bytes.CutPrefix(bytes.TrimRight(line, "\r"), []byte("data:"))
		if !ok {
			continue
		}
		data = bytes.TrimSpace(data)
		if bytes.Equal(data, []byte("[DONE]")) {
			continue
		}
		var chunk struct {
			Choices []struct {
				Delta   struct{ Content string } `json:"delta"`
				Message struct{ Content string } `json:"message"`
				Text    string                   `json:"text"`
			} `json:"choices"`
		}
		if json.Unmarshal(data, &chunk) != nil || len(chunk.Choices) == 0 {
			a.keep(data)
			a.keep([]byte("\n"))
			continue
		}
		for _, c := range chunk.Choices {
			a.keep([]byte(c.Delta.Content + c.Message.Content + c.Text))
		}
	}
}

// Answer is what an answer held.
type Answer struct {
	// Leaks counts, by class, personal data the caller did not send.
	Leaks map[scan.Class]int
	// Truncated says only the first MaxAnswerText bytes were scanned.
	Truncated bool
}

// Finish scans what was kept. Call it once, at the end of the answer.
func (a *AnswerScanner) Finish() Answer {
	if a.sse && len(a.pending) > 0 {
		a.event(a.pending)
		a.pending = nil
	}
	if a.json {
		// The string values, as the request side scans them; an answer
		// that is not JSON after all is scanned whole.
		_, _, err := rewriteJSON(a.body, func(s []byte, _ offsets) []edit {
			a.keep(s)
			a.keep([]byte("\n"))
			return nil
		})
		if err != nil {
			a.text = a.text[:0]
			a.keep(a.body)
		}
		a.body = nil
	}
	out := Answer{Leaks: map[scan.Class]int{}, Truncated: a.truncated}
	for _, f := range a.scanner.Scan(a.text) {
		if a.own[fingerprint(a.text[f.Start:f.End])] {
			continue
		}
		out.Leaks[f.Class]++
	}
	a.text = nil
	return out
}
