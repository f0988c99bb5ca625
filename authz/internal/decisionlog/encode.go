package decisionlog

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"
)

// appendEntry appends e as JSON: byte for byte what encoding/json writes
// for it (FuzzAppendEntry holds it to that), without reflection. Every
// decision writes one line, and encoding the input map was the largest
// single cost of a cached decision.
func appendEntry(b []byte, e *Entry) ([]byte, error) {
	b = append(b, `{"type":`...)
	b = appendString(b, e.Type)
	if e.DecisionID != "" {
		b = appendString(append(b, `,"decision_id":`...), e.DecisionID)
	}
	if e.TraceID != "" {
		b = appendString(append(b, `,"trace_id":`...), e.TraceID)
	}
	if e.SpanID != "" {
		b = appendString(append(b, `,"span_id":`...), e.SpanID)
	}
	b = append(b, `,"time":`...)
	tb, err := e.Time.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("decision time: %w", err)
	}
	b = append(b, tb...)
	for _, f := range [...]struct{ key, v string }{
		{`,"caller":`, e.Caller}, {`,"model":`, e.Model}, {`,"version":`, e.Version}, {`,"result":`, e.Result},
	} {
		if f.v != "" {
			b = appendString(append(b, f.key...), f.v)
		}
	}
	if e.DryRun {
		b = append(b, `,"dry_run":true`...)
	}
	if e.HTTPStatus != 0 {
		b = strconv.AppendInt(append(b, `,"http_status":`...), int64(e.HTTPStatus), 10)
	}
	for _, f := range [...]struct{ key, v string }{
		{`,"reason":`, e.Reason}, {`,"policy_revision":`, e.PolicyRevision}, {`,"query":`, e.Query},
	} {
		if f.v != "" {
			b = appendString(append(b, f.key...), f.v)
		}
	}
	b = strconv.AppendInt(append(b, `,"eval_us":`...), e.EvalMicros, 10)
	if e.Cached {
		b = append(b, `,"cached":true`...)
	}
	if len(e.BreakGlass) > 0 {
		b = appendStrings(append(b, `,"break_glass":`...), e.BreakGlass)
	}
	if e.Dropped != 0 {
		b = strconv.AppendInt(append(b, `,"dropped":`...), e.Dropped, 10)
	}
	if e.Input != nil {
		if b, err = appendValue(append(b, `,"input":`...), e.Input); err != nil {
			return nil, err
		}
	}
	if s := e.Sealed; s != nil {
		b = appendString(append(b, `,"sealed_input":{"key":`...), s.Key)
		b = append(b, `,"data":"`...)
		b = base64.StdEncoding.AppendEncode(b, s.Data)
		b = append(b, `"}`...)
	}
	b = appendString(append(b, `,"prev_hash":`...), e.PrevHash)
	return append(b, '}'), nil
}

// appendValue encodes the values an input document holds; anything else
// goes through encoding/json.
func appendValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendString(b, v), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case map[string]any:
		if v == nil {
			return append(b, "null"...), nil
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(appendString(b, k), ':')
			var err error
			if b, err = appendValue(b, v[k]); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case []any:
		if v == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, x := range v {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendValue(b, x); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	}
	// Numbers (json.Number is validated, floats have encoding/json's own
	// formatting) and any other type.
	enc, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, enc...), nil
}

// appendString quotes s as encoding/json does by default: HTML-sensitive
// characters, U+2028 and U+2029 escaped, invalid UTF-8 replaced.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(append(b, s[start:i]...), `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(append(b, s[start:i]...), '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(append(b, s[start:]...), '"')
}

func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}
