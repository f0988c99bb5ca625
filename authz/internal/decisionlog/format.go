package decisionlog

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Format is the shape of a decision line. Every format ends with the same
// "prev_hash" and "hash" fields, so Verify and LastHash read either.
type Format uint8

const (
	// FormatNexus writes Entry's own fields (the default).
	FormatNexus Format = iota
	// FormatOPA writes an OPA decision log event (OPA's EventV1: labels,
	// decision_id, bundles, path, input, result, erased, masked, timestamp,
	// metrics), so tools that read OPA's decision logs read these lines.
	// Nexus's own fields follow as extra top-level keys prefixed "nexus_",
	// then the hash chain. A gap record carries "nexus_type":"gap" and
	// "nexus_dropped" and no decision_id.
	FormatOPA
)

func (f Format) String() string {
	switch f {
	case FormatNexus:
		return "nexus"
	case FormatOPA:
		return "opa"
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

// ParseFormat reads a format's name, as String writes it.
func ParseFormat(s string) (Format, error) {
	switch s {
	case "nexus", "":
		return FormatNexus, nil
	case "opa":
		return FormatOPA, nil
	}
	return 0, fmt.Errorf("decision log format %q: want nexus or opa", s)
}

// Seal renders e after prev in format f as a line, newline included, whose
// last field is the hash of everything before it; it returns the line and
// that hash.
func (f Format) Seal(e Entry, prev string) ([]byte, string, error) {
	return appendSealed(make([]byte, 0, 2048), f, &e, prev)
}

// appendOPA appends e as an OPA decision log event: what encoding/json
// writes for the event's fields in this order (FuzzAppendOPA holds it to
// that), without reflection, as appendEntry does for FormatNexus.
func appendOPA(b []byte, e *Entry) ([]byte, error) {
	b = append(b, `{"labels":{`...)
	for i, k := range sortedKeys(e.Labels) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(append(appendString(b, k), ':'), e.Labels[k])
	}
	b = append(b, '}')
	if e.DecisionID != "" {
		b = appendString(append(b, `,"decision_id":`...), e.DecisionID)
	}
	if e.TraceID != "" {
		b = appendString(append(b, `,"trace_id":`...), e.TraceID)
	}
	if e.SpanID != "" {
		b = appendString(append(b, `,"span_id":`...), e.SpanID)
	}
	if len(e.Bundles) > 0 {
		b = append(b, `,"bundles":{`...)
		for i, k := range sortedKeys(e.Bundles) {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(appendString(b, k), `:{`...)
			if r := e.Bundles[k]; r != "" {
				b = appendString(append(b, `"revision":`...), r)
			}
			b = append(b, '}')
		}
		b = append(b, '}')
	}
	if p := e.opaPath(); p != "" {
		b = appendString(append(b, `,"path":`...), p)
	}
	var err error
	if e.Input != nil {
		if b, err = appendValue(append(b, `,"input":`...), e.Input); err != nil {
			return nil, err
		}
	}
	if e.RawResult != nil {
		if b, err = appendValue(append(b, `,"result":`...), e.RawResult); err != nil {
			return nil, fmt.Errorf("decision result: %w", err)
		}
	}
	b = appendPointers(b, `,"erased":[`, e.Erased)
	b = appendPointers(b, `,"masked":[`, e.Masked)
	tb, err := e.Time.UTC().MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("decision time: %w", err)
	}
	b = append(append(b, `,"timestamp":`...), tb...)
	switch {
	case len(e.Metrics) > 0:
		b = append(b, `,"metrics":{`...)
		for i, k := range sortedKeys(e.Metrics) {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(append(appendString(b, k), ':'), e.Metrics[k], 10)
		}
		b = append(b, '}')
	case e.Metrics == nil && e.isDecision():
		// Without the engine's timers, the decision's whole time under
		// OPA's name for it, at EvalMicros's precision.
		b = strconv.AppendInt(append(b, `,"metrics":{"timer_server_handler_ns":`...), e.EvalMicros*1000, 10)
		b = append(b, '}')
	}
	if !e.isDecision() {
		b = appendString(append(b, `,"nexus_type":`...), e.Type)
	}
	for _, f := range [...]struct{ key, v string }{
		{`,"nexus_caller":`, e.Caller}, {`,"nexus_model":`, e.Model}, {`,"nexus_version":`, e.Version}, {`,"nexus_result":`, e.Result},
	} {
		if f.v != "" {
			b = appendString(append(b, f.key...), f.v)
		}
	}
	if e.DryRun {
		b = append(b, `,"nexus_dry_run":true`...)
	}
	if e.HTTPStatus != 0 {
		b = strconv.AppendInt(append(b, `,"nexus_http_status":`...), int64(e.HTTPStatus), 10)
	}
	for _, f := range [...]struct{ key, v string }{
		{`,"nexus_reason":`, e.Reason}, {`,"nexus_policy_revision":`, e.PolicyRevision}, {`,"nexus_query":`, e.Query},
	} {
		if f.v != "" {
			b = appendString(append(b, f.key...), f.v)
		}
	}
	b = strconv.AppendInt(append(b, `,"nexus_eval_us":`...), e.EvalMicros, 10)
	if e.Cached {
		b = append(b, `,"nexus_cached":true`...)
	}
	if len(e.BreakGlass) > 0 {
		b = appendStrings(append(b, `,"nexus_break_glass":`...), e.BreakGlass)
	}
	if e.Dropped != 0 {
		b = strconv.AppendInt(append(b, `,"nexus_dropped":`...), e.Dropped, 10)
	}
	b = appendString(append(b, `,"prev_hash":`...), e.PrevHash)
	return append(b, '}'), nil
}

// opaPath is Path, or else the path OPA gives a plain dotted query:
// "data.envoy.authz.allow" is "envoy/authz/allow". A query with bracketed
// or quoted segments has no such plain form and gives none.
func (e *Entry) opaPath() string {
	if e.Path != "" || !e.isDecision() {
		return e.Path
	}
	rest, ok := strings.CutPrefix(e.Query, "data.")
	if !ok || rest == "" || strings.ContainsAny(rest, `["'`+"`") {
		return ""
	}
	return strings.ReplaceAll(rest, ".", "/")
}

// isDecision says whether e is a decision rather than a gap record; an
// Entry sealed without a Type is one.
func (e *Entry) isDecision() bool { return e.Type == "decision" || e.Type == "" }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func appendPointers(b []byte, key string, ps []string) []byte {
	if len(ps) == 0 {
		return b
	}
	b = append(b, key...)
	for i, p := range ps {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, p)
	}
	return append(b, ']')
}
