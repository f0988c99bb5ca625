package app_test

import (
	"context"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	sotw "github.com/envoyproxy/go-control-plane/pkg/client/sotw/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/secureai-nexus/nexus/controlplane/internal/app"
	"github.com/secureai-nexus/nexus/telemetry"
	"github.com/secureai-nexus/nexus/telemetry/otlptest"
)

// TestTraceFromChangeToACK follows one traffic change, traced from its
// caller, through its audit record and its xDS push to a real ADS
// client's ACK, over a real OTLP exporter, and reads the control plane's
// /metrics with Prometheus's parser.
func TestTraceFromChangeToACK(t *testing.T) {
	rcv := otlptest.Start(t)
	rcv.Use(t, "grpc")
	tel, err := telemetry.Setup(context.Background(), telemetry.Options{ServiceName: "nexus-controlplane"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c := startApp(t, app.Config{DataDir: dir, Telemetry: tel})
	r := c.ready
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// The model's sidecar subscribes to routes and ACKs the first push.
	conn := sidecarConn(t, dir, r.XDSAddr, "model~triage")
	ads := sotw.NewADSClient(ctx, &core.Node{Id: "model~triage"}, resourcev3.RouteType)
	if err := ads.InitConnect(conn); err != nil {
		t.Fatal(err)
	}
	if _, err := ads.Fetch(); err != nil {
		t.Fatal(err)
	}
	if err := ads.Ack(); err != nil {
		t.Fatal(err)
	}

	tok, err := os.ReadFile(r.AdminTokenPath)
	if err != nil {
		t.Fatal(err)
	}
	const callerTrace, callerSpan = "5bf92f3577b34da6a3ce929d0e0e4736", "10f067aa0ba902b7"
	req, _ := http.NewRequest("PUT", "http://"+r.AdminAddr+"/api/v1/admin/models/triage/traffic", strings.NewReader(`{"weights":{"v1":50,"v2":50}}`))
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-"+callerTrace+"-"+callerSpan+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("PUT traffic: %d", resp.StatusCode)
	}
	if _, err := ads.Fetch(); err != nil {
		t.Fatal(err)
	}
	if err := ads.Ack(); err != nil {
		t.Fatal(err)
	}

	// /metrics is the admin API's, behind its authentication.
	if resp, err := http.Get("http://" + r.AdminAddr + "/metrics"); err != nil || resp.StatusCode != 401 {
		t.Fatalf("unauthenticated /metrics: %v %v", resp.StatusCode, err)
	}
	var fams map[string]float64
	deadline := time.Now().Add(5 * time.Second)
	for {
		fams = scrapeAdmin(t, "http://"+r.AdminAddr+"/metrics", strings.TrimSpace(string(tok)))
		if fams[`nexus_xds_responses_total{result="ack",type="routes"}`] >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{`nexus_xds_responses_total{result="ack",type="routes"}`, "nexus_xds_connected_sidecars", "nexus_identity_svid_expiry_seconds", "nexus_identity_root_expiry_seconds", `nexus_model_weight{model="triage",version="v2"}`, "nexus_xds_push_duration_seconds_count", `nexus_xds_push_ack_duration_seconds_count{result="ack",type="routes"}`, "process_resident_memory_bytes"} {
		if fams[want] == 0 {
			t.Errorf("/metrics: %s is 0 or missing", want)
		}
	}

	if err := tel.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := rcv.WaitSpans(t, 5*time.Second, func(s []otlptest.Span) bool {
		for _, sp := range s {
			if sp.Name == "xds.ack" && hex.EncodeToString(sp.TraceId) == callerTrace {
				return true
			}
		}
		return false
	})
	byName := map[string]otlptest.Span{}
	for _, sp := range spans {
		if hex.EncodeToString(sp.TraceId) == callerTrace {
			byName[sp.Name] = sp
		}
	}
	change, push, ack := byName["PUT /api/v1/admin/models/{model}/traffic"], byName["xds.push"], byName["xds.ack"]
	if change.Span == nil || push.Span == nil || ack.Span == nil {
		t.Fatalf("the change's trace lacks a span: %v", otlptest.Names(spans))
	}
	if hex.EncodeToString(change.ParentSpanId) != callerSpan {
		t.Errorf("the change is not a child of the caller's span")
	}
	if change.Attr("nexus.audit.seq") == "" || change.Attr("http.response.status_code") != "200" {
		t.Errorf("change span attributes: %v", change.Attributes)
	}
	if string(push.ParentSpanId) != string(change.SpanId) || string(ack.ParentSpanId) != string(push.SpanId) {
		t.Errorf("push and ACK are not chained under the change")
	}
	if ack.Attr("nexus.xds.node") != "model~triage" || ack.Attr("nexus.xds.type") != "routes" {
		t.Errorf("ack span attributes: %v", ack.Attributes)
	}
	if ack.EndTimeUnixNano < ack.StartTimeUnixNano || ack.StartTimeUnixNano < push.StartTimeUnixNano {
		t.Errorf("ack span does not run from the push to the ACK")
	}
}

// scrapeAdmin reads /metrics into "name{labels}" → value.
func scrapeAdmin(t *testing.T, url, token string) map[string]float64 {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.Metric {
			var ls []string
			for _, l := range m.Label {
				ls = append(ls, l.GetName()+`="`+l.GetValue()+`"`)
			}
			key := name
			if len(ls) > 0 {
				key += "{" + strings.Join(ls, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				out[key] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[key] = m.Gauge.GetValue()
			case m.Histogram != nil:
				out[name+"_count"+strings.TrimPrefix(key, name)] = float64(m.Histogram.GetSampleCount())
			}
			if out[name] == 0 {
				out[name] = out[key]
			}
		}
	}
	return out
}

// sidecarConn dials the xDS port as node's sidecar does from its
// bootstrap: TLS checking the control plane's SPIFFE id, and the node
// credential the control plane wrote for it.
func sidecarConn(t *testing.T, dataDir, xdsAddr, node string) *grpc.ClientConn {
	t.Helper()
	bundle, err := x509bundle.Load(spiffeid.RequireTrustDomainFromString("nexus.local"), filepath.Join(dataDir, "bundle.pem"))
	if err != nil {
		t.Fatal(err)
	}
	nodeTok, err := os.ReadFile(filepath.Join(dataDir, "nodes", node+".token"))
	if err != nil {
		t.Fatal(err)
	}
	tlsCfg := tlsconfig.TLSClientConfig(bundle, tlsconfig.AuthorizeID(spiffeid.RequireFromString("spiffe://nexus.local/nexus/controlplane")))
	conn, err := grpc.NewClient(xdsAddr, grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)),
		grpc.WithPerRPCCredentials(bearer(strings.TrimSpace(string(nodeTok)))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
