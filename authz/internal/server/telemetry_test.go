package server_test

import (
	"context"
	"encoding/hex"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/secureai-nexus/nexus/authz/internal/decision"
	"github.com/secureai-nexus/nexus/authz/internal/server"
	"github.com/secureai-nexus/nexus/telemetry"
	"github.com/secureai-nexus/nexus/telemetry/otlptest"
)

// TestCheckSpans runs the shipped policies with tracing to an in-process
// OTLP receiver: one span per Check, a child of the span Envoy names on
// the ext_authz call (else of the checked request's traceparent), with
// the decision on it, and the decision log line naming that span.
func TestCheckSpans(t *testing.T) {
	rcv := otlptest.Start(t)
	rcv.Use(t, "grpc")
	tel, err := telemetry.Setup(context.Background(), telemetry.Options{ServiceName: "nexus-authz"})
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, server.Config{Policies: "../../../policies", Telemetry: tel, SubjectKey: []byte("k1")})
	clinic := "spiffe://nexus.local/ns/clinic/sa/frontdesk"

	// 1. Envoy's ext_authz client span in the call's metadata.
	const envoyTrace, envoySpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	ctx := metadata.AppendToOutgoingContext(context.Background(), "traceparent", "00-"+envoyTrace+"-"+envoySpan+"-01")
	req := modelCall(clinic, map[string]float64{"EMAIL": 2, "US_SSN": 1}, "treatment")
	req.Attributes.Request.Http.Headers["traceparent"] = "00-11111111111111111111111111111111-2222222222222222-01"
	claims, _ := structpb.NewStruct(map[string]any{"claims": map[string]any{"sub": "jane.doe@hospital.example"}})
	req.Attributes.MetadataContext.FilterMetadata["envoy.filters.http.jwt_authn"] = claims
	if _, err := s.client.Check(ctx, req); err != nil {
		t.Fatal(err)
	}
	// 2. No metadata: the request's own traceparent is the parent.
	const reqTrace, reqSpan = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
	req = modelCall("spiffe://nexus.local/ns/other/sa/x", nil, "treatment")
	req.Attributes.Request.Http.Headers["traceparent"] = "00-" + reqTrace + "-" + reqSpan + "-01"
	if _, err := s.client.Check(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	// 3. A sidecar that did not sample: no span is recorded.
	req = modelCall(clinic, nil, "treatment")
	req.Attributes.Request.Http.Headers["traceparent"] = "00-" + reqTrace + "-" + reqSpan + "-00"
	if _, err := s.client.Check(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := rcv.WaitSpans(t, 5*time.Second, func(s []otlptest.Span) bool { return len(s) >= 2 })
	if len(spans) != 2 {
		t.Fatalf("want 2 spans (the unsampled call records none), got %v", otlptest.Names(spans))
	}
	byTrace := map[string]otlptest.Span{}
	for _, sp := range spans {
		if sp.Name != decision.SpanName || sp.Service != "nexus-authz" {
			t.Errorf("span %q from %q", sp.Name, sp.Service)
		}
		byTrace[hex.EncodeToString(sp.TraceId)] = sp
	}
	a, ok := byTrace[envoyTrace]
	if !ok || hex.EncodeToString(a.ParentSpanId) != envoySpan {
		t.Fatalf("no span under Envoy's ext_authz span: %v", byTrace)
	}
	for key, want := range map[string]string{
		"nexus.authz.decision": "allow", "nexus.authz.reason_code": "policy", "nexus.authz.cached": "false",
		"nexus.caller.spiffe_id": clinic, "nexus.model": "triage", "nexus.pii.classes": "EMAIL,US_SSN", "nexus.pii.counts": "2,1",
		"rpc.system": "grpc", "rpc.method": "Check",
	} {
		if got := a.Attr(key); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	if got, want := a.Attr("enduser.pseudo.id"), decision.PseudonymousSubject([]byte("k1"), "jane.doe@hospital.example"); got != want {
		t.Errorf("enduser.pseudo.id = %q, want the keyed hash %q", got, want)
	}
	for _, key := range []string{"nexus.authz.policy_revision", "nexus.authz.decision_id", "nexus.authz.eval_us"} {
		if a.Attr(key) == "" {
			t.Errorf("%s missing", key)
		}
	}
	b, ok := byTrace[reqTrace]
	if !ok || hex.EncodeToString(b.ParentSpanId) != reqSpan {
		t.Fatalf("no span under the request's traceparent: %v", byTrace)
	}
	if got := b.Attr("nexus.authz.decision"); got != "deny" {
		t.Errorf("second call: decision %q, want deny", got)
	}

	// The decision log names each span, sampled or not.
	lines := logLines(t, s.log, 3)
	for i, want := range []struct{ trace, span string }{
		{envoyTrace, hex.EncodeToString(a.SpanId)}, {reqTrace, hex.EncodeToString(b.SpanId)}, {reqTrace, ""},
	} {
		if lines[i]["trace_id"] != want.trace {
			t.Errorf("line %d: trace_id %v, want %s", i, lines[i]["trace_id"], want.trace)
		}
		if want.span != "" && lines[i]["span_id"] != want.span {
			t.Errorf("line %d: span_id %v, want %s", i, lines[i]["span_id"], want.span)
		}
	}
	// Nothing from the request body or its credentials reaches a span.
	for _, sp := range spans {
		for _, kv := range sp.Attributes {
			v := otlptest.ValueString(kv.Value)
			if slices.Contains([]string{"Bearer end-user-token", "patient reports chest pain", "jane.doe@hospital.example"}, v) {
				t.Errorf("span attribute %s carries request content %q", kv.Key, v)
			}
		}
	}
}
