package compat

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"math/big"
	"regexp"
	"slices"
	"strings"
)

// What the suite compares, and what it deliberately does not. This is the
// one place that says so; the tests only call these functions.
//
// CheckResponses (NormalizeOPAEnvoy, NormalizeNexus, CompareOutcome):
//
//  1. dynamicMetadata.decision_id: its value is a fresh id per decision on
//     both sides, so it is replaced by DecisionIDPlaceholder. Its presence
//     is compared: nexus-authz must send one wherever opa-envoy-plugin does
//     (and is reported where it sends one that opa-envoy-plugin does not).
//  2. nexus-authz's own x-nexus-decision-id header is dropped from the
//     headers it adds (okResponse.headers, deniedResponse.headers); a
//     header list left empty is dropped with it, as protojson drops an
//     empty list.
//  3. okResponse.headers, okResponse.responseHeadersToAdd,
//     okResponse.queryParametersToSet and deniedResponse.headers are
//     sorted by key (stably, so the values of one key keep their order):
//     opa-envoy-plugin builds them by ranging over a Go map, so their
//     order differs from one request to the next.
//  4. Where opa-envoy-plugin answered with a gRPC error (an undefined
//     decision, an evaluation error, a decision it cannot read),
//     nexus-authz deliberately answers a fail-closed CheckResponse
//     instead: exactly that is accepted — no gRPC error, status.code
//     PERMISSION_DENIED (7), deniedResponse.status.code Forbidden (403),
//     no okResponse — and its body, headers and dynamic metadata are its
//     own.
//  5. A string that is a JSON object or array on both sides (the probe
//     policy's denial body) is compared as JSON, so a difference is
//     reported at its path inside the document ("<json>" in the path).
//  6. Numbers are compared by value (1e3 equals 1000).
//
//  7. protobuf-go's error messages ("proto: cannot parse …") put a space
//     or, chosen per build, a no-break space (U+00A0) after "proto:", to
//     keep anyone from matching them; both are written as a space, in
//     every string of a response and in gRPC error messages.
//
// Input documents (NormalizeNexusInput, FixOPAEnvoyInput, CompareInput):
//
//  8. The "nexus" member nexus-authz adds to the input is dropped.
//  9. opa-envoy-plugin puts input.version into the input as an OPA AST
//     value, which its decision log writes in OPA's term encoding
//     ([[{"type":"string","value":"encoding"}, …]]); the policy sees an
//     object, so the recorded input has that object (FixOPAEnvoyInput).
//  10. Rules 5 and 6 apply to inputs too.

// DecisionIDPlaceholder stands for dynamicMetadata.decision_id's value.
const DecisionIDPlaceholder = "<decision-id>"

// NexusDecisionIDHeader is the header nexus-authz adds with its decision
// id (decision.HeaderDecisionID).
const NexusDecisionIDHeader = "x-nexus-decision-id"

// NormalizeOPAEnvoy applies rules 1, 3 and 7 to an opa-envoy-plugin
// outcome; the expectations are stored in this form.
func NormalizeOPAEnvoy(o Outcome) Outcome { return normalize(o, false) }

// NormalizeNexus applies rules 1 to 3 and 7 to a nexus-authz outcome.
func NormalizeNexus(o Outcome) Outcome { return normalize(o, true) }

func normalize(o Outcome, nexus bool) Outcome {
	if o.Error != nil {
		e := *o.Error
		e.Message = protoSpace(e.Message)
		return Outcome{Name: o.Name, Error: &e}
	}
	if o.Response == nil {
		return o
	}
	resp, _ := mapStrings(deepCopy(o.Response), protoSpace).(map[string]any)
	if dm, ok := resp["dynamicMetadata"].(map[string]any); ok {
		if _, ok := dm["decision_id"]; ok {
			dm["decision_id"] = DecisionIDPlaceholder
		}
	}
	for _, which := range []string{"okResponse", "deniedResponse"} {
		r, ok := resp[which].(map[string]any)
		if !ok {
			continue
		}
		for _, field := range []string{"headers", "responseHeadersToAdd", "queryParametersToSet"} {
			list, ok := r[field].([]any)
			if !ok {
				continue
			}
			if nexus && field == "headers" {
				list = slices.DeleteFunc(list, func(h any) bool { return headerKey(h) == NexusDecisionIDHeader })
			}
			slices.SortStableFunc(list, func(a, b any) int { return cmp.Compare(headerKey(a), headerKey(b)) })
			if len(list) == 0 {
				delete(r, field)
			} else {
				r[field] = list
			}
		}
	}
	return Outcome{Name: o.Name, Response: resp}
}

// protoSpace is rule 7.
func protoSpace(s string) string { return strings.ReplaceAll(s, "proto:\u00a0", "proto: ") }

// mapStrings applies f to every string in a decoded JSON value, in place.
func mapStrings(v any, f func(string) string) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = mapStrings(x, f)
		}
	case []any:
		for i, x := range t {
			t[i] = mapStrings(x, f)
		}
	case string:
		return f(t)
	}
	return v
}

// headerKey is the key of a HeaderValueOption ({"header": {"key": …}}) or
// a QueryParameter ({"key": …}).
func headerKey(v any) string {
	m, _ := v.(map[string]any)
	if h, ok := m["header"].(map[string]any); ok {
		m = h
	}
	k, _ := m["key"].(string)
	return k
}

// Difference is one place where nexus-authz differs from opa-envoy-plugin.
type Difference struct {
	// Path is where, in JSON path form: $.deniedResponse.headers[2].header.value,
	// $.parsed_body.items[0]; "<json>" marks a step into a string holding
	// JSON.
	Path      string
	Want, Got string
}

func (d Difference) String() string {
	return fmt.Sprintf("%s: opa-envoy-plugin %s, nexus-authz %s", d.Path, d.Want, d.Got)
}

// absent renders a member one side does not have.
const absent = "(absent)"

// CompareOutcome compares normalised outcomes (rules 4 to 6).
func CompareOutcome(want, got Outcome) []Difference {
	var out []Difference
	switch {
	case want.Error != nil && got.Error != nil:
		out = append(out, Difference{Path: "$", Want: grpcText(want.Error), Got: "a fail-closed CheckResponse expected, got " + grpcText(got.Error)})
	case want.Error != nil:
		wantText := "failed with " + grpcText(want.Error) + "; nexus-authz must fail closed"
		if c := lookup(got.Response, "status", "code"); !numberIs(c, 7) {
			out = append(out, Difference{Path: "$.status.code", Want: wantText + " with 7 (PERMISSION_DENIED)", Got: render(c)})
		}
		if c := lookup(got.Response, "deniedResponse", "status", "code"); c != "Forbidden" {
			out = append(out, Difference{Path: "$.deniedResponse.status.code", Want: wantText + " with Forbidden", Got: render(c)})
		}
		if ok, present := got.Response["okResponse"]; present {
			out = append(out, Difference{Path: "$.okResponse", Want: wantText + " without an okResponse", Got: render(ok)})
		}
	case got.Error != nil:
		out = append(out, Difference{Path: "$", Want: "a CheckResponse", Got: grpcText(got.Error)})
	default:
		diffValue("$", want.Response, got.Response, &out)
	}
	return out
}

func grpcText(e *GRPCError) string {
	return fmt.Sprintf("gRPC error %s %q", e.Code, e.Message)
}

// lookup descends through nested objects; nil where a step is missing.
func lookup(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func numberIs(v any, n int64) bool {
	num, ok := v.(json.Number)
	if !ok {
		return false
	}
	i, err := num.Int64()
	return err == nil && i == n
}

// NormalizeNexusInput applies rule 8.
func NormalizeNexusInput(in any) any {
	m, ok := in.(map[string]any)
	if !ok {
		return in
	}
	m = maps.Clone(m)
	delete(m, "nexus")
	return m
}

// FixOPAEnvoyInput applies rule 9 to an input read from opa-envoy-plugin's
// decision log.
func FixOPAEnvoyInput(in any) any {
	m, ok := in.(map[string]any)
	if !ok {
		return in
	}
	if v, ok := m["version"].([]any); ok {
		if obj, ok := termObject(v); ok {
			m = maps.Clone(m)
			m["version"] = obj
		}
	}
	return m
}

// termObject decodes an object in OPA's AST term encoding: a list of
// [key term, value term] pairs.
func termObject(pairs []any) (map[string]any, bool) {
	out := map[string]any{}
	for _, p := range pairs {
		kv, ok := p.([]any)
		if !ok || len(kv) != 2 {
			return nil, false
		}
		k, ok := termValue(kv[0])
		ks, isString := k.(string)
		if !ok || !isString {
			return nil, false
		}
		v, ok := termValue(kv[1])
		if !ok {
			return nil, false
		}
		out[ks] = v
	}
	return out, true
}

func termValue(t any) (any, bool) {
	m, ok := t.(map[string]any)
	if !ok {
		return nil, false
	}
	switch m["type"] {
	case "string", "number", "boolean":
		return m["value"], true
	case "null":
		return nil, true
	case "object":
		pairs, ok := m["value"].([]any)
		if !ok {
			return nil, false
		}
		return termObject(pairs)
	case "array":
		items, ok := m["value"].([]any)
		if !ok {
			return nil, false
		}
		out := make([]any, 0, len(items))
		for _, it := range items {
			v, ok := termValue(it)
			if !ok {
				return nil, false
			}
			out = append(out, v)
		}
		return out, true
	}
	return nil, false
}

// CompareInput compares input documents (rules 5, 6 and 10); nil is an
// input that was not built.
func CompareInput(want, got any) []Difference {
	var out []Difference
	diffValue("$", want, got, &out)
	return out
}

func diffValue(path string, want, got any, out *[]Difference) {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			*out = append(*out, Difference{Path: path, Want: render(want), Got: render(got)})
			return
		}
		keys := slices.Sorted(maps.Keys(w))
		for k := range g {
			if _, ok := w[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range slices.Compact(keys) {
			wv, inW := w[k]
			gv, inG := g[k]
			p := path + member(k)
			switch {
			case !inG:
				*out = append(*out, Difference{Path: p, Want: render(wv), Got: absent})
			case !inW:
				*out = append(*out, Difference{Path: p, Want: absent, Got: render(gv)})
			default:
				diffValue(p, wv, gv, out)
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			*out = append(*out, Difference{Path: path, Want: render(want), Got: render(got)})
			return
		}
		for i := range max(len(w), len(g)) {
			p := fmt.Sprintf("%s[%d]", path, i)
			switch {
			case i >= len(g):
				*out = append(*out, Difference{Path: p, Want: render(w[i]), Got: absent})
			case i >= len(w):
				*out = append(*out, Difference{Path: p, Want: absent, Got: render(g[i])})
			default:
				diffValue(p, w[i], g[i], out)
			}
		}
	case json.Number:
		g, ok := got.(json.Number)
		if !ok || !sameNumber(w, g) {
			*out = append(*out, Difference{Path: path, Want: render(want), Got: render(got)})
		}
	case string:
		g, ok := got.(string)
		if ok && g == w {
			return
		}
		if ok {
			if wj, gj, ok := bothJSON(w, g); ok {
				diffValue(path+"<json>", wj, gj, out)
				return
			}
		}
		*out = append(*out, Difference{Path: path, Want: render(want), Got: render(got)})
	default: // bool, nil
		if want != got {
			*out = append(*out, Difference{Path: path, Want: render(want), Got: render(got)})
		}
	}
}

// sameNumber compares two JSON numbers by value.
func sameNumber(a, b json.Number) bool {
	if a == b {
		return true
	}
	ra, okA := new(big.Rat).SetString(string(a))
	rb, okB := new(big.Rat).SetString(string(b))
	return okA && okB && ra.Cmp(rb) == 0
}

// bothJSON parses two strings that each hold a JSON object or array.
func bothJSON(a, b string) (any, any, bool) {
	parse := func(s string) (any, bool) {
		t := strings.TrimSpace(s)
		if t == "" || (t[0] != '{' && t[0] != '[') {
			return nil, false
		}
		var v any
		if decodeJSON([]byte(t), &v) != nil {
			return nil, false
		}
		return v, true
	}
	va, ok := parse(a)
	if !ok {
		return nil, nil, false
	}
	vb, ok := parse(b)
	if !ok {
		return nil, nil, false
	}
	return va, vb, true
}

var plainKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func member(k string) string {
	if plainKey.MatchString(k) {
		return "." + k
	}
	b, _ := json.Marshal(k)
	return "[" + string(b) + "]"
}

// render writes a value as compact JSON, cut to a readable length.
func render(v any) string {
	if v == nil {
		return "null"
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprintf("%v", v)
	}
	s := strings.TrimSuffix(b.String(), "\n")
	const limit = 200
	if len(s) > limit {
		return fmt.Sprintf("%s…(%d bytes)", strings.ToValidUTF8(s[:limit], ""), len(s))
	}
	return s
}

// PathPattern turns a difference's path into its group: list indices
// become [*], so one cause in every element of a list counts once per
// request.
func PathPattern(path string) string { return indexRE.ReplaceAllString(path, "[*]") }

var indexRE = regexp.MustCompile(`\[\d+\]`)

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[k] = deepCopy(x)
		}
		return m
	case []any:
		l := make([]any, len(t))
		for i, x := range t {
			l[i] = deepCopy(x)
		}
		return l
	}
	return v
}
