package policy

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
)

// A decision is a pure function of the parts of the input the policy reads
// (plan.go), as long as the policy calls nothing that depends on the clock,
// randomness or the network. So a set can remember decisions keyed by those parts
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

// Caches says whether the set has a decision cache.
func (s *Set) Caches() bool { return s.cache != nil }
