package transform

import (
	"bytes"
	"encoding/json"
)

// SSERestorer restores tokens in an OpenAI-style server-sent-event
// stream, where the model emits a token piece by piece: "[EMA" in one
// event's delta.content and "IL_1]" in the next. It reassembles events
// across chunks, runs each choice's content through its own Restorer (so
// a held-back partial token moves to the next event of that choice), and
// re-encodes the event. Events it does not understand pass unchanged.
type SSERestorer struct {
	vault   *Vault
	pending []byte
	choices map[int]*Restorer
}

// NewSSERestorer returns a restorer for one event stream.
func NewSSERestorer(v *Vault) *SSERestorer {
	return &SSERestorer{vault: v, choices: map[int]*Restorer{}}
}

// Write takes the next chunk of the stream and returns the complete events
// that can be sent now.
func (s *SSERestorer) Write(chunk []byte) []byte {
	if s.vault.Len() == 0 && len(s.pending) == 0 {
		return chunk // nothing was tokenized: pass the stream through
	}
	s.pending = append(s.pending, chunk...)
	var out []byte
	for {
		i, n := eventEnd(s.pending)
		if i < 0 {
			return out
		}
		out = append(out, s.event(s.pending[:i])...)
		out = append(out, s.pending[i:i+n]...)
		s.pending = s.pending[i+n:]
	}
}

// Flush returns what is left at the end of the stream: an unterminated
// event, and any content still held back (a token that never completed).
func (s *SSERestorer) Flush() []byte {
	out := s.event(s.pending)
	s.pending = nil
	for idx, r := range s.choices {
		if rest := r.Flush(); len(rest) > 0 {
			ev, _ := json.Marshal(map[string]any{"choices": []any{map[string]any{"index": idx, "delta": map[string]any{"content": string(rest)}}}})
			out = append(out, "data: "...)
			out = append(out, ev...)
			out = append(out, "\n\n"...)
		}
	}
	return out
}

func eventEnd(b []byte) (int, int) {
	i := bytes.Index(b, []byte("\n\n"))
	j := bytes.Index(b, []byte("\r\n\r\n"))
	switch {
	case i < 0 && j < 0:
		return -1, 0
	case j >= 0 && (i < 0 || j < i):
		return j, 4
	}
	return i, 2
}

// event rewrites one event's "data:" JSON, if it is a chat completion
// chunk.
func (s *SSERestorer) event(ev []byte) []byte {
	if len(ev) == 0 {
		return ev
	}
	lines := bytes.Split(ev, []byte("\n"))
	for li, line := range lines {
		data, ok := bytes.CutPrefix(bytes.TrimRight(line, "\r"), []byte("data:"))
		if !ok {
			continue
		}
		data = bytes.TrimLeft(data, " ")
		if len(data) == 0 || data[0] != '{' {
			continue // [DONE] and the like
		}
		var doc map[string]any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if dec.Decode(&doc) != nil {
			continue
		}
		changed := false
		choices, _ := doc["choices"].([]any)
		for ci, c := range choices {
			cm, ok := c.(map[string]any)
			if !ok {
				continue
			}
			idx := ci
			if n, ok := cm["index"].(json.Number); ok {
				if v, err := n.Int64(); err == nil {
					idx = int(v)
				}
			}
			for _, field := range []string{"delta", "message"} {
				part, ok := cm[field].(map[string]any)
				if !ok {
					continue
				}
				text, ok := part["content"].(string)
				if !ok {
					continue
				}
				r := s.choices[idx]
				if r == nil {
					r = NewRestorer(s.vault, false)
					s.choices[idx] = r
				}
				restored := string(r.Write([]byte(text)))
				if restored != text {
					part["content"] = restored
					changed = true
				}
			}
		}
		if changed {
			b, err := json.Marshal(doc)
			if err == nil {
				lines[li] = append([]byte("data: "), b...)
			}
		}
	}
	return bytes.Join(lines, []byte("\n"))
}
