package server_test

import (
	"context"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	nexusmodel "github.com/secureai-nexus/nexus/inference-backend/internal/model"
	"github.com/secureai-nexus/nexus/inference-backend/internal/server"
	"github.com/secureai-nexus/nexus/telemetry"
	"github.com/secureai-nexus/nexus/telemetry/otlptest"
)

// TestGenAISpansAndMetrics serves chat completions (whole and streamed)
// and a KServe call with tracing to an in-process OTLP receiver, and reads
// /metrics with Prometheus's own parser.
func TestGenAISpansAndMetrics(t *testing.T) {
	rcv := otlptest.Start(t)
	rcv.Use(t, "http/protobuf")
	ctx := context.Background()
	tel, err := telemetry.Setup(ctx, telemetry.Options{ServiceName: "nexus-backend"})
	if err != nil {
		t.Fatal(err)
	}
	s := server.New(nexusmodel.Model{Name: "triage", Version: "v2"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if s.Instruments, err = server.NewInstruments(tel.TracerProvider, tel.MeterProvider, tel.Propagator); err != nil {
		t.Fatal(err)
	}
	s.Metrics = tel.MetricsHandler()
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()

	const sidecarTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	send := func(path, body, parentSpan string) int {
		req, _ := http.NewRequest("POST", ts.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("traceparent", "00-"+sidecarTrace+"-"+parentSpan+"-01")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := send("/v1/chat/completions", `{"model":"triage","messages":[{"role":"user","content":"patient NAME_7f3a reports chest pain"}]}`, "00000000000000a1"); c != 200 {
		t.Fatalf("chat: %d", c)
	}
	if c := send("/v1/chat/completions", `{"model":"triage","stream":true,"max_tokens":6,"messages":[{"role":"user","content":"hello there"}]}`, "00000000000000a2"); c != 200 {
		t.Fatalf("stream: %d", c)
	}
	if c := send("/v1/chat/completions", `{"model":"triage","messages":[]}`, "00000000000000a3"); c != 400 {
		t.Fatalf("bad request: %d", c)
	}
	if c := send("/api/v1/inference/triage", `{"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"data":["chest pain"]}]}`, "00000000000000a4"); c != 200 {
		t.Fatalf("kserve: %d", c)
	}

	// Metrics, as Prometheus scrapes them.
	rec := httptest.NewRecorder()
	s.HealthHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	dur := fams["gen_ai_server_request_duration_seconds"]
	if dur == nil {
		t.Fatalf("gen_ai_server_request_duration_seconds missing; have %v", keys(fams))
	}
	var okCount, errCount uint64
	for _, m := range dur.Metric {
		l := labels(m)
		if l["gen_ai_request_model"] != "triage" || l["nexus_model_version"] != "v2" || l["gen_ai_provider_name"] != "nexus" {
			t.Errorf("duration labels %v", l)
		}
		if l["error_type"] == "invalid_request_error" {
			errCount += m.GetHistogram().GetSampleCount()
		} else if l["error_type"] == "" {
			okCount += m.GetHistogram().GetSampleCount()
		}
		if n := len(m.GetHistogram().GetBucket()); n != 15 {
			t.Errorf("duration has %d buckets; the conventions give 14 boundaries, and +Inf", n)
		}
	}
	if okCount != 3 || errCount != 1 {
		t.Errorf("durations: %d ok, %d errors; want 3 and 1", okCount, errCount)
	}
	for _, name := range []string{"gen_ai_server_time_to_first_token_seconds", "gen_ai_server_time_per_output_token_seconds", "gen_ai_client_token_usage"} {
		if fams[name] == nil {
			t.Errorf("%s missing; have %v", name, keys(fams))
		}
	}
	var output float64
	for _, m := range fams["gen_ai_client_token_usage"].GetMetric() {
		if labels(m)["gen_ai_token_type"] == "output" {
			output += m.GetHistogram().GetSampleSum()
		}
	}
	if output == 0 {
		t.Error("no output tokens counted")
	}

	if err := tel.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	spans := rcv.WaitSpans(t, 5*time.Second, func(s []otlptest.Span) bool { return len(s) >= 4 })
	byParent := map[string]otlptest.Span{}
	for _, sp := range spans {
		if hex.EncodeToString(sp.TraceId) != sidecarTrace {
			t.Errorf("span %q not in the sidecar's trace", sp.Name)
		}
		byParent[hex.EncodeToString(sp.ParentSpanId)] = sp
	}
	chat := byParent["00000000000000a1"]
	if chat.Name != "chat triage" {
		t.Errorf("chat span named %q", chat.Name)
	}
	for key, want := range map[string]string{
		"gen_ai.operation.name": "chat", "gen_ai.provider.name": "nexus", "gen_ai.request.model": "triage",
		"gen_ai.response.model": "triage/v2", "gen_ai.usage.input_tokens": "5", "http.response.status_code": "200",
		"url.path": "POST /v1/chat/completions",
	} {
		if got := chat.Attr(key); got != want {
			t.Errorf("chat %s = %q, want %q", key, got, want)
		}
	}
	if chat.Attr("gen_ai.input.messages") != "" {
		t.Error("prompt captured with content capture off")
	}
	stream := byParent["00000000000000a2"]
	if stream.Attr("gen_ai.server.time_to_first_token") == "" || len(stream.Events) != 1 || stream.Events[0].Name != "gen_ai.first_token" {
		t.Errorf("streamed span lacks its first token: %v %v", stream.Attributes, stream.Events)
	}
	if got := stream.Attr("gen_ai.usage.output_tokens"); got != "6" {
		t.Errorf("streamed output tokens %q, want 6", got)
	}
	if got := byParent["00000000000000a3"].Attr("error.type"); got != "invalid_request_error" {
		t.Errorf("bad request error.type %q", got)
	}
	if got := byParent["00000000000000a4"].Attr("gen_ai.operation.name"); got != "text_completion" {
		t.Errorf("kserve operation %q", got)
	}
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

func keys(m map[string]*dto.MetricFamily) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
