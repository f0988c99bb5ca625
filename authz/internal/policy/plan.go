package policy

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// What a policy set reads of its input, found once when the set is built
// by walking its compiled rules: it lets evaluation see only those parts
// (prune), lets the body decoder skip the rest (BodyMembers), and keys the
// decision cache.

// timeDependent lists builtins that read the clock without being marked
// non-deterministic in OPA (certificate validity is checked against now).
var timeDependent = map[string]bool{
	"crypto.x509.parse_and_verify_certificates":              true,
	"crypto.x509.parse_and_verify_certificates_with_options": true,
}

// inputPath is one step list below input: a string for an object key, an
// int for an array index.
type inputPath []any

// inputPlan is what the compiled modules read of the input.
type inputPlan struct {
	// paths are the input documents read (no path a prefix of another);
	// nil when wholeInput is set.
	paths []inputPath
	// wholeInput says why the policy may read any part of the input;
	// otherwise a decision depends on the input at paths only.
	wholeInput string
	// impure names a builtin whose result depends on more than its
	// arguments (the clock, randomness, the network).
	impure string
}

// cacheable says why decisions cannot be remembered, or "".
func (p inputPlan) cacheable() string {
	if p.wholeInput != "" {
		return p.wholeInput
	}
	return p.impure
}

// planInput finds what of the input the compiled modules read.
func planInput(modules map[string]*ast.Module) inputPlan {
	var (
		paths         []inputPath
		whole, impure string
	)
	fail := func(format string, args ...any) {
		if whole == "" {
			whole = fmt.Sprintf(format, args...)
		}
	}
	checkBuiltin := func(name string, loc *ast.Location) {
		if b, ok := ast.BuiltinMap[name]; (ok && b.IsNondeterministic()) || timeDependent[name] {
			if impure == "" {
				impure = fmt.Sprintf("%s calls %s, whose result depends on more than the input", where(loc), name)
			}
		}
	}
	names := make([]string, 0, len(modules))
	for name := range modules {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		var vis *ast.GenericVisitor
		vis = ast.NewGenericVisitor(func(x any) bool {
			switch x := x.(type) {
			case *ast.Expr:
				if x.IsCall() {
					checkBuiltin(x.Operator().String(), x.Location)
				}
				for _, w := range x.With {
					if r, ok := w.Target.Value.(ast.Ref); !ok || r.HasPrefix(ast.InputRootRef) {
						fail("%s replaces input with a with modifier", where(w.Location))
					}
				}
			case ast.Call:
				if len(x) > 0 {
					if r, ok := x[0].Value.(ast.Ref); ok {
						checkBuiltin(r.String(), x[0].Location)
					}
				}
			case ast.Ref:
				if x.HasPrefix(ast.InputRootRef) {
					p := groundPath(x)
					if len(p) == 0 {
						fail("%s reads the whole input document", where(x[0].Location))
					}
					paths = append(paths, p)
					// The head is input itself; only references inside
					// the steps (input.a[input.b]) remain to be seen.
					for _, t := range x[1:] {
						vis.Walk(t)
					}
					return true
				}
			case ast.Var:
				// A bare input (e.g. json.marshal(input)) is a Var, not a Ref.
				if x.Equal(ast.InputRootDocument.Value) {
					fail("the policy reads the whole input document")
				}
			}
			return false
		})
		// Rules only: an import's path is resolved into every reference
		// that uses it, so walking imports would only widen the key.
		for _, r := range modules[name].Rules {
			vis.Walk(r)
		}
	}
	if whole != "" {
		return inputPlan{wholeInput: whole, impure: impure}
	}
	return inputPlan{paths: minimalPaths(paths), impure: impure}
}

// prune returns the part of doc at paths, sharing its values: all the
// policy can read, so evaluating it gives the decision the whole document
// gives, while converting far less of it to Rego values (a request's
// headers and body are most of the input and few policies read them).
// A step into an array or a non-object takes that value whole.
func prune(doc map[string]any, paths []inputPath) map[string]any {
	out := make(map[string]any, len(paths))
	for _, p := range paths {
		src, dst := doc, out
		for i, step := range p {
			key, ok := step.(string)
			if !ok {
				break // an index at the top: input is an object, nothing to read
			}
			v, ok := src[key]
			if !ok {
				break // undefined stays undefined
			}
			next, isObj := v.(map[string]any)
			if _, nextIsKey := stepAt(p, i+1).(string); i == len(p)-1 || !isObj || !nextIsKey {
				dst[key] = v
				break
			}
			var sub map[string]any
			if have, ok := dst[key]; ok {
				m, isMap := have.(map[string]any)
				if !isMap || reflect.ValueOf(m).UnsafePointer() == reflect.ValueOf(next).UnsafePointer() {
					break // an earlier path took this value whole
				}
				sub = m
			} else {
				sub = map[string]any{}
				dst[key] = sub
			}
			src, dst = next, sub
		}
	}
	return out
}

func stepAt(p inputPath, i int) any {
	if i < len(p) {
		return p[i]
	}
	return nil
}

func where(loc *ast.Location) string {
	if loc == nil {
		return "a rule"
	}
	return fmt.Sprintf("%s:%d", loc.File, loc.Row)
}

// groundPath is the constant prefix of a reference under input: input.a[x].b
// is read as a whole below input.a.
func groundPath(r ast.Ref) inputPath {
	var p inputPath
	for _, t := range r[1:] {
		switch v := t.Value.(type) {
		case ast.String:
			p = append(p, string(v))
		case ast.Number:
			i, ok := v.Int()
			if !ok || i < 0 {
				return p
			}
			p = append(p, i)
		default:
			return p
		}
	}
	return p
}

// minimalPaths sorts and drops every path that another one contains.
func minimalPaths(paths []inputPath) []inputPath {
	slices.SortFunc(paths, comparePaths)
	var out []inputPath
	for _, p := range paths {
		if len(out) > 0 && hasPrefix(p, out[len(out)-1]) {
			continue
		}
		out = append(out, p)
	}
	return out
}

func hasPrefix(p, prefix inputPath) bool {
	if len(prefix) > len(p) {
		return false
	}
	for i := range prefix {
		if p[i] != prefix[i] {
			return false
		}
	}
	return true
}

// comparePaths orders paths step by step, so a path sorts right before
// the paths it contains.
func comparePaths(a, b inputPath) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := strings.Compare(fmt.Sprintf("%T%v", a[i], a[i]), fmt.Sprintf("%T%v", b[i], b[i])); c != 0 {
			return c
		}
	}
	return len(a) - len(b)
}

// pathString renders a path as a Rego reference.
func pathString(p inputPath) string {
	r := ast.Ref{ast.InputRootDocument}
	for _, s := range p {
		switch s := s.(type) {
		case string:
			r = append(r, ast.StringTerm(s))
		case int:
			r = append(r, ast.IntNumberTerm(s))
		}
	}
	return r.String()
}

// BodyMembers names the top-level members of input.parsed_body the set
// reads; ok is false when it may read more (the whole body, an array
// body's elements, or an unknown part of the input). Worked out when the
// set is built, so a decision only reads it.
func (s *Set) BodyMembers() (names []string, ok bool) {
	return s.bodyMembers, s.bodyMembersKnown
}

func bodyMembersOf(paths []inputPath, prune bool) ([]string, bool) {
	if !prune {
		return nil, false
	}
	names := []string{}
	for _, p := range paths {
		if p[0] != "parsed_body" {
			continue
		}
		if len(p) < 2 {
			return nil, false
		}
		name, isKey := p[1].(string)
		if !isKey {
			return nil, false
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names, true
}
