package opaconfig

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// expandEnv replaces ${NAME} with the environment variable NAME, as OPA's
// runtime does to the config file's text before parsing it: the shortest
// ${...} on one line; an undefined variable is left as written; ${} becomes
// empty. Being textual, a value can change the document's structure, as in
// OPA.
func expandEnv(s string, lookup func(string) (string, bool)) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.IndexAny(s[i+2:], "}\n")
		if j < 0 || s[i+2+j] == '\n' {
			b.WriteString(s[:i+2])
			s = s[i+2:]
			continue
		}
		name := s[i+2 : i+2+j]
		b.WriteString(s[:i])
		if name != "" {
			if v, ok := lookup(name); ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+j])
			}
		}
		s = s[i+3+j:]
	}
}

// maxSetIndex bounds a list index in --set, so a typo cannot allocate
// gigabytes.
const maxSetIndex = 1000

// segment is one step of a --set key: a mapping key or a list index.
type segment struct {
	key     string
	index   int
	isIndex bool
}

// setParser reads OPA's (Helm's) --set syntax: comma-separated
// key=value pairs, dotted keys, [n] list indexes, {a,b} list values and
// backslash escapes.
type setParser struct {
	s      []rune
	i      int
	origin string
	// value turns a pair's value text into a val: typed for --set, the
	// named file's content for --set-file.
	value func(raw string) (*val, error)
}

func (p *setParser) more() bool { return p.i < len(p.s) }

// until reads up to (not including) the first unescaped rune in stop.
func (p *setParser) until(stop string) (string, rune) {
	var b strings.Builder
	for p.more() {
		r := p.s[p.i]
		if r == '\\' && p.i+1 < len(p.s) {
			b.WriteRune(p.s[p.i+1])
			p.i += 2
			continue
		}
		if strings.ContainsRune(stop, r) {
			p.i++
			return b.String(), r
		}
		b.WriteRune(r)
		p.i++
	}
	return b.String(), 0
}

func (p *setParser) parse(root *val) error {
	for p.more() {
		segs, err := p.key()
		if err != nil {
			return err
		}
		v, err := p.val()
		if err != nil {
			return err
		}
		assign(root, segs, v, p.origin)
	}
	return nil
}

func (p *setParser) key() ([]segment, error) {
	var segs []segment
	for {
		k, stop := p.until("=.[,")
		if k == "" {
			return nil, fmt.Errorf("empty key in %q", string(p.s))
		}
		segs = append(segs, segment{key: k})
		switch stop {
		case '=':
			return segs, nil
		case '.':
			continue
		case '[':
		default:
			return nil, fmt.Errorf("key %q has no value", keyText(segs))
		}
		// One or more [n], then '.', '=' or another '['.
		for {
			n, end := p.until("]")
			if end != ']' {
				return nil, fmt.Errorf("key %q: unterminated [", keyText(segs))
			}
			i, err := strconv.Atoi(n)
			if err != nil || i < 0 || i > maxSetIndex {
				return nil, fmt.Errorf("key %q: list index %q is not a number from 0 to %d", keyText(segs), n, maxSetIndex)
			}
			segs = append(segs, segment{index: i, isIndex: true})
			if !p.more() {
				return nil, fmt.Errorf("key %q has no value", keyText(segs))
			}
			next := p.s[p.i]
			p.i++
			switch next {
			case '[':
				continue
			case '=':
				return segs, nil
			case '.':
			default:
				return nil, fmt.Errorf("key %q: unexpected %q after ]", keyText(segs), next)
			}
			break
		}
	}
}

func keyText(segs []segment) string {
	path := ""
	for _, s := range segs {
		if s.isIndex {
			path = indexPath(path, s.index)
		} else {
			path = joinPath(path, s.key)
		}
	}
	return path
}

// val reads a value, through the comma that ends the pair.
func (p *setParser) val() (*val, error) {
	if p.more() && p.s[p.i] == '{' {
		p.i++
		l := &val{kind: kindList, origin: p.origin}
		for {
			item, stop := p.until(",}")
			if stop == 0 {
				return nil, errors.New("list value must end with '}'")
			}
			v, err := p.value(item)
			if err != nil {
				return nil, err
			}
			l.items = append(l.items, v)
			if stop == '}' {
				if p.more() {
					if p.s[p.i] != ',' {
						return nil, fmt.Errorf("unexpected %q after '}'", p.s[p.i])
					}
					p.i++
				}
				return l, nil
			}
		}
	}
	raw, _ := p.until(",")
	return p.value(raw)
}

// typedValue reads a --set value the way OPA does: true, false and null in
// any case, and decimal integers without a leading zero, are typed; the
// rest are strings. (OPA turns null into an empty object; here it is null.)
func typedValue(raw, origin string) *val {
	switch {
	case strings.EqualFold(raw, "true"):
		return &val{kind: kindScalar, scalar: true, origin: origin}
	case strings.EqualFold(raw, "false"):
		return &val{kind: kindScalar, scalar: false, origin: origin}
	case strings.EqualFold(raw, "null"):
		return &val{kind: kindNull, origin: origin}
	case raw == "0":
		return &val{kind: kindScalar, scalar: int64(0), origin: origin}
	}
	if raw != "" && raw[0] != '0' {
		if n, err := strconv.ParseInt(raw, 10, 64); err == nil {
			return &val{kind: kindScalar, scalar: n, origin: origin}
		}
	}
	return &val{kind: kindScalar, scalar: raw, origin: origin}
}

// assign sets the value at segs under node, creating mappings and lists on
// the way (replacing whatever of another kind was there), and returns the
// possibly new node.
func assign(node *val, segs []segment, v *val, origin string) *val {
	if len(segs) == 0 {
		return v
	}
	s := segs[0]
	if s.isIndex {
		if node == nil || node.kind != kindList {
			node = &val{kind: kindList, origin: origin}
		}
		for len(node.items) <= s.index {
			node.items = append(node.items, &val{origin: origin})
		}
		node.items[s.index] = assign(node.items[s.index], segs[1:], v, origin)
		return node
	}
	if node == nil || node.kind != kindMap {
		node = &val{kind: kindMap, origin: origin}
	}
	node.set(s.key, assign(node.get(s.key), segs[1:], v, origin))
	return node
}

// merge lays src over dst as OPA does with --set: mappings merge key by
// key, anything else (lists included) replaces.
func merge(dst, src *val) *val {
	if dst == nil || dst.kind != kindMap || src.kind != kindMap {
		return src
	}
	for i, k := range src.keys {
		dst.set(k, merge(dst.get(k), src.vals[i]))
	}
	return dst
}
