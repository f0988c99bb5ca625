package transform

import (
	"errors"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
)

var errNotJSON = errors.New("body is not valid JSON")

// rewriteJSON walks a JSON document and passes every string value (object
// keys excluded) to fn, decoded; the edits fn returns (ordered, on the
// decoded string) are applied and the string re-encoded in place. Strings
// without edits are copied byte for byte, so their original escaping
// survives. base, given to fn, maps an offset in the decoded string to its
// offset in body.
//
// It also returns the top-level "model" string of an object body (an
// OpenAI-style request's routing key), as it read it, so no second parse
// of the whole body is needed to find it.
func rewriteJSON(body []byte, fn func(s []byte, base offsets) []edit) (out []byte, model string, err error) {
	w := walker{body: body}
	w.skipSpace()
	if err := w.value(fn); err != nil {
		return nil, "", err
	}
	w.skipSpace()
	if w.i != len(body) {
		return nil, "", errNotJSON
	}
	if w.out == nil {
		return body, w.model, nil
	}
	return append(w.out, body[w.last:]...), w.model, nil
}

type walker struct {
	body  []byte
	i     int
	out   []byte
	last  int
	depth int
	model string
}

const maxDepth = 512

func (w *walker) skipSpace() {
	for w.i < len(w.body) {
		switch w.body[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
}

func (w *walker) value(fn func([]byte, offsets) []edit) error {
	if w.i >= len(w.body) {
		return errNotJSON
	}
	switch c := w.body[w.i]; {
	case c == '{':
		return w.object(fn)
	case c == '[':
		return w.array(fn)
	case c == '"':
		start := w.i
		s, pos, err := w.str()
		if err != nil {
			return err
		}
		es := fn(s, offsets{start: start + 1, pos: pos})
		if len(es) == 0 {
			return nil
		}
		if w.out == nil {
			// Room for the whole body and some growth: in the .wasm
			// every reallocation of a large buffer takes fresh spans.
			w.out = make([]byte, 0, len(w.body)+len(w.body)/8+64)
		}
		w.out = append(w.out, w.body[w.last:start]...)
		if pos == nil {
			// The string had no escapes, so its bytes are valid JSON as
			// they are: copy them around the encoded replacements, with
			// no decoded copy and no second pass over the text.
			w.out = append(w.out, '"')
			last := 0
			for _, e := range es {
				w.out = append(w.out, s[last:e.start]...)
				w.out = appendJSONText(w.out, e.repl)
				last = e.end
			}
			w.out = append(append(w.out, s[last:]...), '"')
		} else {
			w.out = appendJSONString(w.out, applyEdits(s, es))
		}
		w.last = w.i
		return nil
	case c == 't':
		return w.lit("true")
	case c == 'f':
		return w.lit("false")
	case c == 'n':
		return w.lit("null")
	case c == '-' || c >= '0' && c <= '9':
		return w.number()
	}
	return errNotJSON
}

func (w *walker) lit(s string) error {
	if len(w.body)-w.i < len(s) || string(w.body[w.i:w.i+len(s)]) != s {
		return errNotJSON
	}
	w.i += len(s)
	return nil
}

func (w *walker) number() error {
	s := w.i
	if w.body[w.i] == '-' {
		w.i++
	}
	digits := func() int {
		n := 0
		for w.i < len(w.body) && w.body[w.i] >= '0' && w.body[w.i] <= '9' {
			w.i++
			n++
		}
		return n
	}
	if w.i < len(w.body) && w.body[w.i] == '0' {
		w.i++
	} else if digits() == 0 {
		return errNotJSON
	}
	if w.i < len(w.body) && w.body[w.i] == '.' {
		w.i++
		if digits() == 0 {
			return errNotJSON
		}
	}
	if w.i < len(w.body) && (w.body[w.i] == 'e' || w.body[w.i] == 'E') {
		w.i++
		if w.i < len(w.body) && (w.body[w.i] == '+' || w.body[w.i] == '-') {
			w.i++
		}
		if digits() == 0 {
			return errNotJSON
		}
	}
	if w.i == s {
		return errNotJSON
	}
	return nil
}

func (w *walker) object(fn func([]byte, offsets) []edit) error {
	return w.seq('}', func() error {
		if w.i >= len(w.body) || w.body[w.i] != '"' {
			return errNotJSON
		}
		key, _, err := w.str() // keys are not scanned
		if err != nil {
			return err
		}
		w.skipSpace()
		if w.i >= len(w.body) || w.body[w.i] != ':' {
			return errNotJSON
		}
		w.i++
		w.skipSpace()
		if w.depth == 1 && string(key) == "model" && w.i < len(w.body) && w.body[w.i] == '"' {
			at := w.i
			m, _, err := w.str()
			if err != nil {
				return err
			}
			w.model, w.i = string(m), at // the value is then walked as any other
		}
		return w.value(fn)
	})
}

func (w *walker) array(fn func([]byte, offsets) []edit) error {
	return w.seq(']', func() error { return w.value(fn) })
}

// seq walks the comma-separated items of an object or array whose opening
// bracket is at w.i, up to and including its closing bracket.
func (w *walker) seq(closing byte, item func() error) error {
	if w.depth++; w.depth > maxDepth {
		return errNotJSON
	}
	defer func() { w.depth-- }()
	w.i++ // the opening bracket
	w.skipSpace()
	if w.i < len(w.body) && w.body[w.i] == closing {
		w.i++
		return nil
	}
	for {
		w.skipSpace()
		if err := item(); err != nil {
			return err
		}
		w.skipSpace()
		if w.i >= len(w.body) {
			return errNotJSON
		}
		switch w.body[w.i] {
		case ',':
			w.i++
		case closing:
			w.i++
			return nil
		default:
			return errNotJSON
		}
	}
}

// str reads the string at w.i. It returns the decoded bytes and, if the
// string had escapes, the body offset of each decoded byte (plus one for
// the end); nil means decoded offset k is at start+1+k.
func (w *walker) str() ([]byte, []int, error) {
	start := w.i
	w.i++
	// Fast path: the first byte that is a quote, a backslash or a control
	// character is the closing quote: the string has no escapes.
	if q := specialIndex(w.body[w.i:]); q >= 0 && w.body[w.i+q] == '"' {
		s := w.body[w.i : w.i+q]
		// Invalid UTF-8 passes through as encoding/json accepts it.
		w.i += q + 1
		return s, nil, nil
	}
	// Slow path: the string has escapes.
	var dec []byte
	var pos []int
	j := start + 1
	for j < len(w.body) {
		c := w.body[j]
		switch {
		case c == '"':
			pos = append(pos, j)
			w.i = j + 1
			return dec, pos, nil
		case c < 0x20:
			return nil, nil, errNotJSON
		case c != '\\':
			dec = append(dec, c)
			pos = append(pos, j)
			j++
			continue
		}
		if j+1 >= len(w.body) {
			return nil, nil, errNotJSON
		}
		esc := w.body[j+1]
		var r rune
		n := 2
		switch esc {
		case '"', '\\', '/':
			r = rune(esc)
		case 'b':
			r = '\b'
		case 'f':
			r = '\f'
		case 'n':
			r = '\n'
		case 'r':
			r = '\r'
		case 't':
			r = '\t'
		case 'u':
			v, ok := hex4(w.body, j+2)
			if !ok {
				return nil, nil, errNotJSON
			}
			r, n = rune(v), 6
			if utf16.IsSurrogate(r) {
				// A valid pair is one rune; a lone surrogate is U+FFFD and
				// whatever follows is decoded on its own, as encoding/json does.
				pair := utf8.RuneError
				if v2, ok := hex4(w.body, j+8); ok && w.body[j+6] == '\\' && w.body[j+7] == 'u' {
					pair = utf16.DecodeRune(r, rune(v2))
				}
				if pair != utf8.RuneError {
					r, n = pair, 12
				} else {
					r = utf8.RuneError
				}
			}
		default:
			return nil, nil, errNotJSON
		}
		var buf [4]byte
		m := utf8.EncodeRune(buf[:], r)
		for k := 0; k < m; k++ {
			dec = append(dec, buf[k])
			pos = append(pos, j)
		}
		j += n
	}
	return nil, nil, errNotJSON
}

// specialIndex returns the index of the first byte of s that a JSON string
// cannot hold as is — a quote, a backslash or a control character — or -1.
// Eight bytes at a time: in the .wasm a loop iteration costs far more than
// the word arithmetic.
func specialIndex[T string | []byte](s T) int {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if m := special8(load64(s[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' {
			return i
		}
	}
	return -1
}

// load64 reads eight bytes little endian.
func load64[T string | []byte](s T) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// special8 marks with its top bit each byte of x (little endian) that is a
// quote, a backslash or below 0x20. No test carries between bytes: each
// adds to a byte's low seven bits only.
func special8(x uint64) uint64 {
	const ones, lows, highs = 0x0101010101010101, 0x7f7f7f7f7f7f7f7f, 0x8080808080808080
	low := x & lows
	control := ^(low + (0x80-0x20)*ones) // top bit set where low < 0x20
	q := x ^ '"'*ones
	bs := x ^ '\\'*ones
	quote := ^((q&lows + lows) | q)
	backslash := ^((bs&lows + lows) | bs)
	return (control | quote | backslash) &^ x & highs
}

func hex4(b []byte, i int) (int, bool) {
	if len(b)-i < 4 {
		return 0, false
	}
	v := 0
	for _, c := range b[i : i+4] {
		v <<= 4
		switch {
		case c >= '0' && c <= '9':
			v |= int(c - '0')
		case c >= 'a' && c <= 'f':
			v |= int(c-'a') + 10
		case c >= 'A' && c <= 'F':
			v |= int(c-'A') + 10
		default:
			return 0, false
		}
	}
	return v, true
}

// appendJSONString encodes s as a JSON string.
func appendJSONString(out, s []byte) []byte {
	return append(appendJSONText(append(out, '"'), s), '"')
}

// appendJSONText encodes s as the inside of a JSON string, copying runs of
// bytes that need no escaping in one append.
func appendJSONText[T string | []byte](out []byte, s T) []byte {
	const hexd = "0123456789abcdef"
	last := 0
	for i := 0; ; i++ {
		k := specialIndex(s[i:])
		if k < 0 {
			break
		}
		i += k
		c := s[i]
		out = append(out, s[last:i]...)
		switch c {
		case '"', '\\':
			out = append(out, '\\', c)
		case '\n':
			out = append(out, '\\', 'n')
		case '\r':
			out = append(out, '\\', 'r')
		case '\t':
			out = append(out, '\\', 't')
		default:
			out = append(out, '\\', 'u', '0', '0', hexd[c>>4], hexd[c&0xf])
		}
		last = i + 1
	}
	return append(out, s[last:]...)
}

// AppendJSONString encodes s as the inside of a JSON string (no quotes),
// for restoring values into JSON text.
func AppendJSONString(out []byte, s string) []byte {
	return appendJSONText(out, s)
}
