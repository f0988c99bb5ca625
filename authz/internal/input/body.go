package input

import (
	"encoding/json"
	"errors"
	"math/bits"
	"strings"
)

// A prompt body is most of a model call's CheckRequest, and a policy reads
// a few of its top-level fields (model, max_tokens, stream). Decoding all
// of it into Go values costs several times what checking it is JSON and
// decoding those fields does, so when the policy set's reads are known the
// body is validated whole and only the members read are decoded.

// errDepth is a document nested deeper than encoding/json accepts.
var errDepth = errors.New("exceeded max depth")

// maxNesting is encoding/json's limit on nesting.
const maxNesting = 10000

// bodyMembers checks body is one JSON value, exactly as encoding/json
// accepts them, and decodes the named top-level members of an object (the
// last of duplicates, as encoding/json keeps). isObject is false for any
// other value, which callers decode whole.
func bodyMembers(body string, names []string) (members map[string]any, isObject bool, err error) {
	v := validator{s: body}
	v.ws()
	if v.i < len(v.s) && v.s[v.i] == '{' {
		isObject = true
		members = map[string]any{}
		if err := v.object(0, func(key string, raw string) error {
			for _, n := range names {
				if n == key {
					val, err := decodeValue(raw)
					if err != nil {
						return err
					}
					members[key] = val
				}
			}
			return nil
		}); err != nil {
			return nil, true, err
		}
	} else if err := v.value(0); err != nil {
		return nil, false, err
	}
	v.ws()
	if v.i != len(v.s) {
		return nil, isObject, errors.New("data after the JSON value")
	}
	return members, isObject, nil
}

func decodeValue(raw string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// validator walks JSON text by RFC 8259's grammar, as encoding/json's
// scanner does: strings may hold any bytes but control characters (UTF-8
// is not checked), escapes must be valid, numbers follow the JSON form.
type validator struct {
	s string
	i int
}

var errSyntax = errors.New("invalid JSON")

func (v *validator) ws() {
	for v.i < len(v.s) {
		switch v.s[v.i] {
		case ' ', '\t', '\n', '\r':
			v.i++
		default:
			return
		}
	}
}

func (v *validator) value(depth int) error {
	if v.i >= len(v.s) {
		return errSyntax
	}
	switch c := v.s[v.i]; {
	case c == '{':
		return v.object(depth, nil)
	case c == '[':
		return v.array(depth)
	case c == '"':
		return v.str()
	case c == 't':
		return v.lit("true")
	case c == 'f':
		return v.lit("false")
	case c == 'n':
		return v.lit("null")
	case c == '-' || c >= '0' && c <= '9':
		return v.number()
	}
	return errSyntax
}

func (v *validator) lit(l string) error {
	if !strings.HasPrefix(v.s[v.i:], l) {
		return errSyntax
	}
	v.i += len(l)
	return nil
}

// object walks an object at v.i; member, when set, gets each key
// (decoded) and the raw text of its value.
func (v *validator) object(depth int, member func(key, raw string) error) error {
	return v.seq(depth, '}', func() error {
		if v.i >= len(v.s) || v.s[v.i] != '"' {
			return errSyntax
		}
		ks := v.i
		if err := v.str(); err != nil {
			return err
		}
		keyRaw := v.s[ks:v.i]
		v.ws()
		if v.i >= len(v.s) || v.s[v.i] != ':' {
			return errSyntax
		}
		v.i++
		v.ws()
		vs := v.i
		if err := v.value(depth + 1); err != nil {
			return err
		}
		if member == nil {
			return nil
		}
		var key string
		if isPlainKey(keyRaw) {
			key = keyRaw[1 : len(keyRaw)-1]
		} else if err := json.Unmarshal([]byte(keyRaw), &key); err != nil {
			return err
		}
		return member(key, v.s[vs:v.i])
	})
}

func (v *validator) array(depth int) error {
	return v.seq(depth, ']', func() error { return v.value(depth + 1) })
}

// seq walks the comma-separated items of an object or array whose opening
// bracket is at v.i, up to and including its closing bracket.
func (v *validator) seq(depth int, closing byte, item func() error) error {
	if depth+1 > maxNesting {
		return errDepth
	}
	v.i++ // the opening bracket
	v.ws()
	if v.i < len(v.s) && v.s[v.i] == closing {
		v.i++
		return nil
	}
	for {
		if err := item(); err != nil {
			return err
		}
		v.ws()
		if v.i >= len(v.s) {
			return errSyntax
		}
		switch v.s[v.i] {
		case ',':
			v.i++
			v.ws()
		case closing:
			v.i++
			return nil
		default:
			return errSyntax
		}
	}
}

// str walks a string at v.i, eight bytes at a time between escapes.
func (v *validator) str() error {
	v.i++ // "
	for {
		for v.i+8 <= len(v.s) {
			if m := special8(load64(v.s[v.i:])); m != 0 {
				v.i += bits.TrailingZeros64(m) >> 3
				break
			}
			v.i += 8
		}
		for v.i < len(v.s) && v.s[v.i] >= 0x20 && v.s[v.i] != '"' && v.s[v.i] != '\\' {
			v.i++
		}
		if v.i >= len(v.s) {
			return errSyntax
		}
		switch v.s[v.i] {
		case '"':
			v.i++
			return nil
		case '\\':
			if v.i+1 >= len(v.s) {
				return errSyntax
			}
			switch v.s[v.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				v.i += 2
			case 'u':
				if v.i+6 > len(v.s) || !isHex4(v.s[v.i+2:v.i+6]) {
					return errSyntax
				}
				v.i += 6
			default:
				return errSyntax
			}
		default: // a control character
			return errSyntax
		}
	}
}

// isPlainKey says whether a raw key decodes to its own bytes: no escapes
// and only ASCII (encoding/json replaces invalid UTF-8).
func isPlainKey(raw string) bool {
	for i := 1; i < len(raw)-1; i++ {
		if raw[i] == '\\' || raw[i] >= 0x80 {
			return false
		}
	}
	return true
}

// load64 reads eight bytes of s little endian.
func load64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

func isHex4(s string) bool {
	for i := 0; i < 4; i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func (v *validator) number() error {
	s, i := v.s, v.i
	if s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return errSyntax
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return errSyntax
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return errSyntax
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	v.i = i
	return nil
}

// special8 marks with its top bit each byte of x that is a quote, a
// backslash or below 0x20; no test carries between bytes.
func special8(x uint64) uint64 {
	const ones, lows, highs = 0x0101010101010101, 0x7f7f7f7f7f7f7f7f, 0x8080808080808080
	low := x & lows
	control := ^(low + (0x80-0x20)*ones)
	q := x ^ '"'*ones
	bs := x ^ '\\'*ones
	return (control | ^((q&lows + lows) | q) | ^((bs&lows + lows) | bs)) &^ x & highs
}
