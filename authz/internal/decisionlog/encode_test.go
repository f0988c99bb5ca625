package decisionlog

import (
	"bytes"
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"
)

// FuzzAppendEntry holds the hand-written encoder to encoding/json, byte for
// byte: any JSON input document (numbers as json.Number and as float64),
// any strings in the fixed fields.
func FuzzAppendEntry(f *testing.F) {
	f.Add(`{"attributes":{"request":{"http":{"headers":{"x":"<a&b>","y":"\u2028"}}}},"n":1.5e300,"m":[1,"2",null,true]}`, "deny", "reason \"quoted\"\n\t<script>", int64(7), true)
	f.Add(`{"parsed_body":{"max_tokens":12,"f":0.000001,"g":-0,"h":123456789012345678901234567890}}`, "", "\xff\xfe bad utf8 \u2029", int64(-1), false)
	f.Add(`[]`, "allow", "", int64(0), false)
	f.Fuzz(func(t *testing.T, input, result, reason string, n int64, flag bool) {
		for _, useNumber := range []bool{true, false} {
			var doc any
			dec := json.NewDecoder(strings.NewReader(input))
			if useNumber {
				dec.UseNumber()
			}
			if dec.Decode(&doc) != nil {
				doc = nil
			}
			e := Entry{
				Type: "decision", DecisionID: reason, Time: time.Unix(n%1e10, n%1e9).UTC(),
				Caller: reason, Model: result, Version: input, Result: result, DryRun: flag,
				HTTPStatus: int(n % 600), Reason: reason, PolicyRevision: result, Query: reason,
				EvalMicros: n, Cached: !flag, Dropped: n % 3, Input: doc, PrevHash: result,
			}
			if flag {
				e.TraceID, e.SpanID = input, reason
				e.BreakGlass = []string{reason, result}
			}
			want, wantErr := json.Marshal(e)
			got, err := appendEntry(nil, &e)
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("error %v, encoding/json %v", err, wantErr)
			}
			if err == nil && !bytes.Equal(got, want) {
				t.Fatalf("encoded\n%s\nencoding/json\n%s", got, want)
			}
		}
	})
}

func BenchmarkSeal(b *testing.B) {
	var in map[string]any
	dec := json.NewDecoder(strings.NewReader(`{"attributes":{"destination":{"principal":"spiffe://nexus.local/model/triage"},"source":{"address":{"socketAddress":{"address":"127.0.0.1","portValue":50000}},"principal":"spiffe://nexus.local/ns/clinic/sa/frontdesk"},"request":{"http":{"body":"**masked**","headers":{":authority":"triage.models.nexus.local",":method":"POST",":path":"/v1/chat/completions","authorization":"**masked**","content-length":"86","content-type":"application/json","x-nexus-model":"triage","x-request-id":"0000002a-1c9e-4a51-9b0e-00000004a6bf"},"host":"triage.models.nexus.local","method":"POST","path":"/v1/chat/completions","protocol":"HTTP/2","size":"86"}},"contextExtensions":{"model":"triage","policy":"nexus.models.triage"},"metadataContext":{"filterMetadata":{"piiguard":{"findings":{"EMAIL":1}}}}},"nexus":{"caller":{"path":"/ns/clinic/sa/frontdesk","spiffe_id":"spiffe://nexus.local/ns/clinic/sa/frontdesk","trust_domain":"nexus.local"},"claims":null,"model":"triage","pii":{"classes":["EMAIL"],"counts":{"EMAIL":1},"oversize":false},"policy":"nexus.models.triage","purpose":"","version":""},"parsed_body":"**masked**","parsed_path":["v1","chat","completions"],"parsed_query":{},"truncated_body":false,"version":{"encoding":"protojson","ext_authz":"v3"}}`))
	dec.UseNumber()
	if err := dec.Decode(&in); err != nil {
		b.Fatal(err)
	}
	e := Entry{Type: "decision", DecisionID: "0123456789abcdef0123456789abcdef", Time: time.Now().UTC(), Caller: "spiffe://nexus.local/ns/clinic/sa/frontdesk",
		Model: "triage", Result: "allow", PolicyRevision: "sha256:5a5b70bdee8a9c16", Query: "data.envoy.authz.allow", EvalMicros: 42, Input: in}
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("appendEntry", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := appendEntry(make([]byte, 0, 2048), &e); err != nil {
				b.Fatal(err)
			}
		}
	})
	o := e
	o.RawResult = map[string]any{"allowed": true, "headers": map[string]any{"x-nexus-model": "triage"}}
	o.Labels = map[string]string{"id": "1780d507-aea2-45cc-ae50-fa153c8e4a5a", "version": "0.9.0"}
	o.Bundles = map[string]string{"nexus": "sha256:5a5b70bdee8a9c16"}
	o.Metrics = map[string]int64{"timer_rego_query_eval_ns": 31000, "timer_server_handler_ns": 42000}
	o.Masked = []string{"/input/attributes/request/http/body", "/input/attributes/request/http/headers/authorization", "/input/parsed_body"}
	b.Run("opa-encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(opaEventOf(&o)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("appendOPA", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := appendOPA(make([]byte, 0, 2048), &o); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// opaEvent is an OPA-format line as encoding/json writes it: OPA's
// EventV1 fields in EventV1's order, then Nexus's, then the chain.
type opaEvent struct {
	Labels         map[string]string    `json:"labels"`
	DecisionID     string               `json:"decision_id,omitempty"`
	TraceID        string               `json:"trace_id,omitempty"`
	SpanID         string               `json:"span_id,omitempty"`
	Bundles        map[string]opaBundle `json:"bundles,omitempty"`
	Path           string               `json:"path,omitempty"`
	Input          any                  `json:"input,omitempty"`
	Result         any                  `json:"result,omitempty"`
	Erased         []string             `json:"erased,omitempty"`
	Masked         []string             `json:"masked,omitempty"`
	Timestamp      time.Time            `json:"timestamp"`
	Metrics        map[string]int64     `json:"metrics,omitempty"`
	Type           string               `json:"nexus_type,omitempty"`
	Caller         string               `json:"nexus_caller,omitempty"`
	Model          string               `json:"nexus_model,omitempty"`
	Version        string               `json:"nexus_version,omitempty"`
	NexusResult    string               `json:"nexus_result,omitempty"`
	DryRun         bool                 `json:"nexus_dry_run,omitempty"`
	HTTPStatus     int                  `json:"nexus_http_status,omitempty"`
	Reason         string               `json:"nexus_reason,omitempty"`
	PolicyRevision string               `json:"nexus_policy_revision,omitempty"`
	Query          string               `json:"nexus_query,omitempty"`
	EvalMicros     int64                `json:"nexus_eval_us"`
	Cached         bool                 `json:"nexus_cached,omitempty"`
	BreakGlass     []string             `json:"nexus_break_glass,omitempty"`
	Dropped        int64                `json:"nexus_dropped,omitempty"`
	PrevHash       string               `json:"prev_hash"`
}

type opaBundle struct {
	Revision string `json:"revision,omitempty"`
}

func opaEventOf(e *Entry) opaEvent {
	ev := opaEvent{
		Labels: map[string]string{}, DecisionID: e.DecisionID, TraceID: e.TraceID, SpanID: e.SpanID, Path: e.opaPath(), Input: e.Input, Result: e.RawResult,
		Erased: e.Erased, Masked: e.Masked, Timestamp: e.Time.UTC(), Metrics: e.Metrics, Caller: e.Caller, Model: e.Model,
		Version: e.Version, NexusResult: e.Result, DryRun: e.DryRun, HTTPStatus: e.HTTPStatus, Reason: e.Reason,
		PolicyRevision: e.PolicyRevision, Query: e.Query, EvalMicros: e.EvalMicros, Cached: e.Cached, Dropped: e.Dropped,
		BreakGlass: e.BreakGlass, PrevHash: e.PrevHash,
	}
	maps.Copy(ev.Labels, e.Labels)
	if len(e.Bundles) > 0 {
		ev.Bundles = map[string]opaBundle{}
		for k, v := range e.Bundles {
			ev.Bundles[k] = opaBundle{v}
		}
	}
	if e.Type != "decision" && e.Type != "" {
		ev.Type = e.Type
	} else if e.Metrics == nil {
		ev.Metrics = map[string]int64{"timer_server_handler_ns": e.EvalMicros * 1000}
	}
	return ev
}

// FuzzAppendOPA holds the OPA-format encoder to encoding/json, byte for
// byte, as FuzzAppendEntry does the Nexus one.
func FuzzAppendOPA(f *testing.F) {
	f.Add(`{"allowed":false,"headers":{"x":"<a&b>"},"n":1.5e300}`, "deny", "reason \"quoted\"\n\t<script>", "data.envoy.authz.allow", int64(7), true)
	f.Add(`true`, "", "\xff\xfe bad utf8 \u2029", "data.x[\"y\"]", int64(-1), false)
	f.Add(`[]`, "allow", "", "", int64(0), false)
	f.Fuzz(func(t *testing.T, doc, result, reason, query string, n int64, flag bool) {
		for _, useNumber := range []bool{true, false} {
			var v any
			dec := json.NewDecoder(strings.NewReader(doc))
			if useNumber {
				dec.UseNumber()
			}
			if dec.Decode(&v) != nil {
				v = nil
			}
			e := Entry{
				Type: "decision", DecisionID: reason, Time: time.Unix(n%1e10, n%1e9).In(time.FixedZone("x", int(n%50000))),
				Caller: reason, Model: result, Version: doc, Result: result, DryRun: flag, HTTPStatus: int(n % 600),
				Reason: reason, PolicyRevision: result, Query: query, EvalMicros: n, Cached: !flag, Dropped: n % 3,
				Input: v, RawResult: v, PrevHash: result,
			}
			if flag {
				e.TraceID, e.SpanID = query, reason
				e.BreakGlass = []string{query}
				e.Type = result
				e.Path = reason
				e.Labels = map[string]string{reason: result, result: doc}
				e.Bundles = map[string]string{reason: result, query: ""}
				e.Metrics = map[string]int64{reason: n, query: -n}
				e.Masked = []string{reason, query}
				e.Erased = []string{query}
			}
			want, wantErr := json.Marshal(opaEventOf(&e))
			got, err := appendOPA(nil, &e)
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("error %v, encoding/json %v", err, wantErr)
			}
			if err == nil && !bytes.Equal(got, want) {
				t.Fatalf("encoded\n%s\nencoding/json\n%s", got, want)
			}
		}
	})
}

func TestOPAPath(t *testing.T) {
	for _, tt := range []struct{ path, query, want string }{
		{"", "data.envoy.authz.allow", "envoy/authz/allow"},
		{"set/by/engine", "data.envoy.authz.allow", "set/by/engine"},
		{"", `data.envoy["authz"].allow`, ""},
		{"", "data.", ""},
		{"", "envoy.authz.allow", ""},
		{"", "", ""},
	} {
		e := Entry{Type: "decision", Path: tt.path, Query: tt.query}
		if got := e.opaPath(); got != tt.want {
			t.Errorf("path %q query %q: %q, want %q", tt.path, tt.query, got, tt.want)
		}
	}
}
