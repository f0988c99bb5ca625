package opaconfig

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	goccy "github.com/goccy/go-yaml"
	goccyparser "github.com/goccy/go-yaml/parser"
	"go.yaml.in/yaml/v3"
)

type kind uint8

const (
	kindNull kind = iota
	kindScalar
	kindMap
	kindList
)

func (k kind) String() string {
	switch k {
	case kindScalar:
		return "a scalar"
	case kindMap:
		return "a mapping"
	case kindList:
		return "a list"
	default:
		return "null"
	}
}

// val is a parsed config value that remembers where it came from, so that
// problems found while decoding point at the right line.
type val struct {
	kind         kind
	line, column int
	origin       string // "--set", "--set-file", or "" for the file
	// scalar is a string, bool, int64, uint64 or float64.
	scalar any
	keys   []string
	vals   []*val
	items  []*val
}

// get returns the value at key, nil if v is no mapping or lacks it.
func (v *val) get(key string) *val {
	if v == nil {
		return nil
	}
	for i, k := range v.keys {
		if k == key {
			return v.vals[i]
		}
	}
	return nil
}

func (v *val) set(key string, x *val) {
	for i, k := range v.keys {
		if k == key {
			v.vals[i] = x
			return
		}
	}
	v.keys = append(v.keys, key)
	v.vals = append(v.vals, x)
}

// describe names v's type for error messages.
func (v *val) describe() string {
	if v.kind != kindScalar {
		return v.kind.String()
	}
	switch v.scalar.(type) {
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int64, uint64:
		return "an integer"
	case float64:
		return "a number"
	}
	return "a scalar"
}

// generic turns v into what encoding/json would decode the same document
// to, for handing sections to OPA's own parsers.
func (v *val) generic() any {
	switch v.kind {
	case kindScalar:
		return v.scalar
	case kindMap:
		m := make(map[string]any, len(v.keys))
		for i, k := range v.keys {
			m[k] = v.vals[i].generic()
		}
		return m
	case kindList:
		l := make([]any, len(v.items))
		for i, it := range v.items {
			l[i] = it.generic()
		}
		return l
	}
	return nil
}

// maxNodes bounds the values one document may expand to: YAML aliases let a
// few hundred bytes name billions of nodes.
const maxNodes = 100_000

// maxFileBytes bounds a config file; OPA configs are a few KiB.
const maxFileBytes = 4 << 20

type converter struct {
	nodes    int
	problems []Problem
	// active holds the aliased nodes being expanded, to refuse cycles.
	active map[*yaml.Node]bool
}

func (c *converter) fail(n *yaml.Node, msg string) {
	c.problems = append(c.problems, Problem{Line: n.Line, Column: n.Column, Msg: msg})
}

// parseYAML parses a YAML (or JSON: YAML's flow style is a superset of it)
// document with the same parser OPA uses, so that what OPA accepts is
// accepted here and reads the same.
func parseYAML(data []byte) (*val, []Problem) {
	if len(data) > maxFileBytes {
		return nil, []Problem{{Msg: fmt.Sprintf("file is larger than %d bytes", maxFileBytes)}}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, []Problem{syntaxProblem(data, err)}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return &val{kind: kindMap, line: 1, column: 1}, nil
	}
	c := &converter{active: map[*yaml.Node]bool{}}
	v := c.convert(doc.Content[0])
	if len(c.problems) > 0 {
		return nil, c.problems
	}
	return v, nil
}

// syntaxProblem locates a syntax error. go.yaml.in/yaml/v3 reports only a
// line, and not always that, so goccy/go-yaml's parser, which tracks
// columns, is asked where it stumbles; its answer is used only when it too
// refuses the document.
func syntaxProblem(data []byte, err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, after, ok := strings.Cut(rest, ": "); ok {
			if l, err := strconv.Atoi(n); err == nil {
				line, msg = l, after
			}
		}
	}
	p := Problem{Line: line, Msg: "YAML syntax error: " + msg}
	if _, gerr := goccyparser.ParseBytes(data, 0); gerr != nil {
		var se *goccy.SyntaxError
		if errors.As(gerr, &se) && se.Token != nil && se.Token.Position != nil {
			p.Line, p.Column = se.Token.Position.Line, se.Token.Position.Column
			p.Msg = "YAML syntax error: " + se.Message
		}
	}
	return p
}

func (c *converter) convert(n *yaml.Node) *val {
	c.nodes++
	if c.nodes > maxNodes {
		if c.nodes == maxNodes+1 {
			c.fail(n, fmt.Sprintf("document expands to more than %d values (YAML aliases?)", maxNodes))
		}
		return &val{}
	}
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil || c.active[n.Alias] {
			c.fail(n, "YAML alias refers to itself")
			return &val{}
		}
		c.active[n.Alias] = true
		v := c.convert(n.Alias)
		delete(c.active, n.Alias)
		return v
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return &val{line: n.Line, column: n.Column}
		}
		return c.convert(n.Content[0])
	case yaml.SequenceNode:
		v := &val{kind: kindList, line: n.Line, column: n.Column}
		for _, it := range n.Content {
			v.items = append(v.items, c.convert(it))
		}
		return v
	case yaml.MappingNode:
		return c.mapping(n)
	case yaml.ScalarNode:
		return c.scalar(n)
	}
	c.fail(n, "unsupported YAML node")
	return &val{}
}

func (c *converter) mapping(n *yaml.Node) *val {
	v := &val{kind: kindMap, line: n.Line, column: n.Column}
	seen := map[string]int{}
	var merges []*val
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		if kn.Kind == yaml.ScalarNode && kn.Tag == "!!merge" {
			merges = append(merges, c.convert(vn))
			continue
		}
		if kn.Kind != yaml.ScalarNode {
			c.fail(kn, "mapping keys must be scalars")
			continue
		}
		key := kn.Value
		if first, dup := seen[key]; dup {
			c.fail(kn, fmt.Sprintf("key %q already defined at line %d", key, first))
			continue
		}
		seen[key] = kn.Line
		x := c.convert(vn)
		// Decoding reports problems with a value at its key, where a
		// reader looks.
		x.line, x.column = kn.Line, kn.Column
		v.keys = append(v.keys, key)
		v.vals = append(v.vals, x)
	}
	// Merge keys (<<: *base) supply the keys the mapping does not set.
	for _, m := range merges {
		var sources []*val
		switch m.kind {
		case kindMap:
			sources = []*val{m}
		case kindList:
			sources = m.items
		}
		for _, src := range sources {
			if src.kind != kindMap {
				c.fail(n, "YAML merge key (<<) needs a mapping or a list of mappings")
				continue
			}
			for i, k := range src.keys {
				if v.get(k) == nil {
					v.keys = append(v.keys, k)
					v.vals = append(v.vals, src.vals[i])
				}
			}
		}
		if m.kind != kindMap && m.kind != kindList {
			c.fail(n, "YAML merge key (<<) needs a mapping or a list of mappings")
		}
	}
	return v
}

func (c *converter) scalar(n *yaml.Node) *val {
	v := &val{kind: kindScalar, line: n.Line, column: n.Column}
	var x any
	if err := n.Decode(&x); err != nil {
		c.fail(n, err.Error())
		return v
	}
	switch t := x.(type) {
	case nil:
		v.kind = kindNull
	case string:
		v.scalar = t
	case bool:
		v.scalar = t
	case int:
		v.scalar = int64(t)
	case int64:
		v.scalar = t
	case uint64:
		v.scalar = t
	case float64:
		if math.IsInf(t, 0) || math.IsNaN(t) {
			c.fail(n, fmt.Sprintf("%s is not a number JSON can carry", n.Value))
			return v
		}
		v.scalar = t
	case time.Time:
		// OPA's YAML-to-JSON step keeps timestamps as the text written.
		v.scalar = n.Value
	case []byte:
		v.scalar = base64.StdEncoding.EncodeToString(t)
	default:
		v.scalar = n.Value
	}
	return v
}
