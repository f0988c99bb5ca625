package policy

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
)

// A decision is a pure function of the parts of the input the policy reads,
// as long as the policy calls nothing that depends on the clock, randomness
// or the network. So a set can remember decisions keyed by those parts
// alone — Istio's Mixer did the same with its "referenced attributes". A
// request id header changes on every call, but a policy that never reads it
// gets the same decision for the same caller, model, findings and body
// fields, and that is most of the traffic a sidecar sees.
//
// The analysis is conservative: when it cannot prove a decision depends on
// named input paths only, the set is not cached at all, and CacheInfo says
// why.

// CacheInfo says whether a set caches decisions and on what.
type CacheInfo struct {
	Enabled bool `json:"enabled"`
	// InputPaths are the input documents a decision is keyed by, as Rego
	// references.
	InputPaths []string `json:"input_paths,omitempty"`
	// DisabledReason says why a set does not cache decisions.
	DisabledReason string `json:"disabled_reason,omitempty"`
	Size           int    `json:"size,omitempty"`
}

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
					p, ok := groundPath(x)
					if !ok || len(p) == 0 {
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
func groundPath(r ast.Ref) (inputPath, bool) {
	var p inputPath
	for _, t := range r[1:] {
		switch v := t.Value.(type) {
		case ast.String:
			p = append(p, string(v))
		case ast.Number:
			i, ok := v.Int()
			if !ok || i < 0 {
				return p, true
			}
			p = append(p, i)
		default:
			return p, true
		}
	}
	return p, true
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

// cacheKey appends the values at paths in doc to buf in an encoding where
// different values never share a key. Where a step does not apply (a key
// on an array, a missing field) the value above it is encoded whole, which
// is always enough to decide.
func cacheKey(buf []byte, paths []inputPath, doc map[string]any) []byte {
	for _, p := range paths {
		var cur any = doc
		for _, step := range p {
			next, ok := child(cur, step)
			if !ok {
				break
			}
			cur = next
		}
		buf = append(buf, 'P')
		buf = encodeValue(buf, cur)
	}
	return buf
}

func child(v any, step any) (any, bool) {
	switch v := v.(type) {
	case map[string]any:
		if k, ok := step.(string); ok {
			c, ok := v[k]
			return c, ok
		}
	case []any:
		if i, ok := step.(int); ok && i < len(v) {
			return v[i], true
		}
	}
	return nil, false
}

// encodeValue is a tagged, length-prefixed encoding of an input value.
func encodeValue(buf []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(buf, 'n')
	case bool:
		if v {
			return append(buf, 't')
		}
		return append(buf, 'f')
	case string:
		return appendString(append(buf, 's'), v)
	case json.Number:
		return appendString(append(buf, 'd'), string(v))
	case float64:
		return strconv.AppendUint(append(buf, 'F'), math.Float64bits(v), 16)
	case int:
		return strconv.AppendInt(append(buf, 'i'), int64(v), 10)
	case int64:
		return strconv.AppendInt(append(buf, 'i'), v, 10)
	case []any:
		buf = strconv.AppendInt(append(buf, 'a'), int64(len(v)), 10)
		buf = append(buf, ':')
		for _, e := range v {
			buf = encodeValue(buf, e)
		}
		return buf
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		buf = strconv.AppendInt(append(buf, 'o'), int64(len(v)), 10)
		buf = append(buf, ':')
		for _, k := range keys {
			buf = appendString(buf, k)
			buf = encodeValue(buf, v[k])
		}
		return buf
	}
	// Anything else is rendered with its type, so it can only collide with
	// an equal value of the same type.
	b, _ := json.Marshal(v)
	return appendString(appendString(append(buf, 'x'), fmt.Sprintf("%T", v)), string(b))
}

func appendString(buf []byte, s string) []byte {
	buf = strconv.AppendInt(buf, int64(len(s)), 10)
	buf = append(buf, ':')
	return append(buf, s...)
}

// decisionCache holds up to max decisions in two generations: when the
// young one fills, the old one is dropped. Recently used decisions are
// promoted, so the hot set survives without per-entry bookkeeping.
type decisionCache struct {
	mu         sync.Mutex
	max        int
	young, old map[string]cachedDecision
}

type cachedDecision struct {
	out     any
	defined bool
}

func newDecisionCache(max int) *decisionCache {
	return &decisionCache{max: max, young: map[string]cachedDecision{}}
}

func (c *decisionCache) get(key []byte) (cachedDecision, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.young[string(key)]; ok {
		return d, true
	}
	if d, ok := c.old[string(key)]; ok {
		c.putLocked(string(key), d)
		return d, true
	}
	return cachedDecision{}, false
}

func (c *decisionCache) put(key []byte, d cachedDecision) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(string(key), d)
}

func (c *decisionCache) putLocked(key string, d cachedDecision) {
	if len(c.young) >= c.max/2+1 {
		c.old, c.young = c.young, make(map[string]cachedDecision, c.max/2+1)
	}
	c.young[key] = d
}

var keyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// Decide evaluates the set's query for doc, from the decision cache when
// the set has one and it holds the decision. Only complete evaluations are
// remembered: an error or a canceled context never is.
func (s *Set) Decide(ctx context.Context, doc map[string]any) (out any, defined, hit bool, err error) {
	if s.cache == nil {
		out, defined, err = s.evalDoc(ctx, doc)
		return out, defined, false, err
	}
	bp := keyBufs.Get().(*[]byte)
	defer keyBufs.Put(bp)
	*bp = cacheKey((*bp)[:0], s.inputPaths, doc)
	// The cache keeps a digest, not the values: a policy may read prompt
	// text, which must not outlive its request in memory, and a digest
	// bounds an entry's size whatever the policy reads.
	sum := sha256.Sum256(*bp)
	key := sum[:]
	if d, ok := s.cache.get(key); ok {
		return d.out, d.defined, true, nil
	}
	out, defined, err = s.evalDoc(ctx, doc)
	if err == nil && ctx.Err() == nil {
		s.cache.put(key, cachedDecision{out: out, defined: defined})
	}
	return out, defined, false, err
}

func (s *Set) evalDoc(ctx context.Context, doc map[string]any) (any, bool, error) {
	if s.prune {
		doc = prune(doc, s.inputPaths)
	}
	val, err := ast.InterfaceToValue(doc)
	if err != nil {
		return nil, false, &InputError{Err: err}
	}
	return s.Eval(ctx, val)
}

// InputError is an input that cannot be turned into a Rego value.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// CacheInfo reports the set's decision cache.
func (s *Set) CacheInfo() CacheInfo {
	info := CacheInfo{Enabled: s.cache != nil, DisabledReason: s.cacheOff}
	if s.cache != nil {
		info.Size = s.cache.max
		for _, p := range s.inputPaths {
			info.InputPaths = append(info.InputPaths, pathString(p))
		}
	}
	return info
}

// BodyMembers names the top-level members of input.parsed_body the set
// reads; ok is false when it may read more (the whole body, an array
// body's elements, or an unknown part of the input).
func (s *Set) BodyMembers() (names []string, ok bool) {
	if !s.prune {
		return nil, false
	}
	names = []string{}
	for _, p := range s.inputPaths {
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

// Caches says whether the set has a decision cache.
func (s *Set) Caches() bool { return s.cache != nil }
