package translate_test

import (
	"strings"
	"testing"

	"github.com/secureai-nexus/nexus/controlplane/internal/simulation"
	"github.com/secureai-nexus/nexus/controlplane/internal/translate"
)

func simConfig(r *translate.Resources) simulation.Config {
	return simulation.Config{Listeners: r.Listeners, Routes: r.Routes, Clusters: r.Clusters, Endpoints: r.Endpoints}
}

const (
	frontdesk = "spiffe://nexus.local/ns/clinic/sa/frontdesk"
	triageID  = "spiffe://nexus.local/model/triage"
)

// TestSimulateModelSidecar walks requests through the canary case's model
// sidecar and asserts where each lands and what it met on the way.
func TestSimulateModelSidecar(t *testing.T) {
	_, res := translateFile(t, "testdata/canary.in.yaml")
	cfg := simConfig(res["model~triage"])
	chain := []string{translate.FilterWasm, translate.FilterExtAuthz, translate.FilterRouter}

	tests := []struct {
		name        string
		req         simulation.Request
		wantErr     string
		wantRoute   string
		wantCluster string
		wantStatus  uint32
		wantVersion string
		wantAuthz   map[string]string
		wantEPs     []string
	}{
		{
			name:        "inference path, draw in v1's 90%",
			req:         simulation.Request{Port: 10000, TLS: true, CallerID: frontdesk, Method: "POST", Host: "triage.models.nexus.local:10000", Path: "/api/v1/inference/triage", Draw: 0},
			wantRoute:   "triage/inference",
			wantCluster: "model|triage|v1", wantVersion: "v1",
			wantAuthz: map[string]string{"model": "triage", "policy": "nexus.models.triage"},
			wantEPs:   []string{"127.0.0.1:8001"},
		},
		{
			name:        "inference path, draw in v2's 10%",
			req:         simulation.Request{Port: 10000, TLS: true, CallerID: frontdesk, Method: "POST", Host: "triage.models.nexus.local", Path: "/api/v1/inference/triage", Draw: 95},
			wantRoute:   "triage/inference",
			wantCluster: "model|triage|v2", wantVersion: "v2",
			wantEPs: []string{"127.0.0.1:8002", "127.0.0.1:8003"},
		},
		{
			name:        "OpenAI path routed by the model header piiguard set",
			req:         simulation.Request{Port: 10000, TLS: true, CallerID: frontdesk, Method: "POST", Host: "triage.models.nexus.local", Path: "/v1/chat/completions", Headers: map[string]string{"x-nexus-model": "triage"}},
			wantRoute:   "triage/chat",
			wantCluster: "model|triage|v1", wantVersion: "v1",
		},
		{
			name:        "version pinned by header skips the split",
			req:         simulation.Request{Port: 10000, TLS: true, CallerID: frontdesk, Method: "POST", Host: "triage.models.nexus.local", Path: "/v1/chat/completions", Headers: map[string]string{"x-nexus-model": "triage", "x-nexus-model-version": "v2"}},
			wantRoute:   "triage/chat/v2",
			wantCluster: "model|triage|v2",
			wantAuthz:   map[string]string{"model": "triage", "policy": "nexus.models.triage", "version": "v2"},
		},
		{
			name:       "OpenAI path for another model",
			req:        simulation.Request{Port: 10000, TLS: true, CallerID: frontdesk, Method: "POST", Host: "triage.models.nexus.local", Path: "/v1/chat/completions", Headers: map[string]string{"x-nexus-model": "gpt-9"}},
			wantRoute:  "triage/chat/other-model",
			wantStatus: 404,
		},
		{
			name:       "OpenAI path without the model header",
			req:        simulation.Request{Port: 10000, TLS: true, CallerID: frontdesk, Method: "POST", Host: "triage.models.nexus.local", Path: "/v1/chat/completions"},
			wantRoute:  "triage/chat/other-model",
			wantStatus: 404,
		},
		{
			name:       "GET on the inference path is not routed upstream",
			req:        simulation.Request{Port: 10000, TLS: true, CallerID: frontdesk, Method: "GET", Host: "triage.models.nexus.local", Path: "/api/v1/inference/triage"},
			wantRoute:  "triage/not-found",
			wantStatus: 404,
		},
		{
			name:       "unknown host",
			req:        simulation.Request{Port: 10000, TLS: true, CallerID: frontdesk, Method: "POST", Host: "other.example", Path: "/api/v1/inference/triage"},
			wantRoute:  "unknown-host",
			wantStatus: 404,
		},
		{
			name:    "plaintext is refused",
			req:     simulation.Request{Port: 10000, Method: "POST", Host: "triage.models.nexus.local", Path: "/api/v1/inference/triage"},
			wantErr: "filter_chain: no filter chain",
		},
		{
			name:    "TLS without a client certificate is refused",
			req:     simulation.Request{Port: 10000, TLS: true, Method: "POST", Host: "triage.models.nexus.local", Path: "/api/v1/inference/triage"},
			wantErr: "tls: client certificate required",
		},
		{
			name:    "a certificate from another trust domain is refused",
			req:     simulation.Request{Port: 10000, TLS: true, CallerID: "spiffe://evil.example/ns/x/sa/y", Method: "POST", Host: "triage.models.nexus.local", Path: "/api/v1/inference/triage"},
			wantErr: "tls: client SPIFFE id spiffe://evil.example/ns/x/sa/y matches no allowed SAN",
		},
		{
			name:    "a workload of the trust domain that is no caller in the mesh is refused",
			req:     simulation.Request{Port: 10000, TLS: true, CallerID: "spiffe://nexus.local/ns/clinic/sa/stranger", Method: "POST", Host: "triage.models.nexus.local", Path: "/api/v1/inference/triage"},
			wantErr: "tls: client SPIFFE id spiffe://nexus.local/ns/clinic/sa/stranger matches no allowed SAN",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := simulation.Run(cfg, tt.req)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Listener != translate.ListenerInbound || !got.HasFilters(chain...) {
				t.Errorf("listener %s filters %v, want inbound with %v", got.Listener, got.HTTPFilters, chain)
			}
			if got.AuthzFailOpen {
				t.Error("ext_authz fails open")
			}
			if got.Route != tt.wantRoute {
				t.Errorf("route = %s, want %s", got.Route, tt.wantRoute)
			}
			if got.DirectStatus != tt.wantStatus {
				t.Errorf("direct status = %d, want %d", got.DirectStatus, tt.wantStatus)
			}
			if tt.wantStatus != 0 {
				if !strings.Contains(got.DirectBody, `"error"`) {
					t.Errorf("direct body %q is not a JSON error", got.DirectBody)
				}
				return
			}
			if got.Cluster != tt.wantCluster {
				t.Errorf("cluster = %s, want %s", got.Cluster, tt.wantCluster)
			}
			if tt.wantVersion != "" && got.RequestHeaders[translate.HeaderVersion] != tt.wantVersion {
				t.Errorf("version header = %q, want %q", got.RequestHeaders[translate.HeaderVersion], tt.wantVersion)
			}
			if got.RequestHeaders[translate.HeaderModel] != "triage" {
				t.Errorf("model header = %q", got.RequestHeaders[translate.HeaderModel])
			}
			for k, v := range tt.wantAuthz {
				if got.AuthzContext[k] != v {
					t.Errorf("authz context %s = %q, want %q (all: %v)", k, got.AuthzContext[k], v, got.AuthzContext)
				}
			}
			if tt.wantEPs != nil && strings.Join(got.Endpoints, ",") != strings.Join(tt.wantEPs, ",") {
				t.Errorf("endpoints = %v, want %v", got.Endpoints, tt.wantEPs)
			}
			wantPeer := triageID + "/" + strings.TrimPrefix(got.Cluster, "model|triage|")
			if got.UpstreamSVID != triageID || len(got.UpstreamPeerIDs) != 1 || got.UpstreamPeerIDs[0] != wantPeer {
				t.Errorf("upstream mTLS: presents %q, expects %v", got.UpstreamSVID, got.UpstreamPeerIDs)
			}
		})
	}
}

// TestSimulateSplit counts, over every draw of the total weight, how the
// weighted route splits traffic: exactly the configured 90/10.
func TestSimulateSplit(t *testing.T) {
	_, res := translateFile(t, "testdata/canary.in.yaml")
	dist, err := simulation.Distribution(simConfig(res["model~triage"]), simulation.Request{
		Port: 10000, TLS: true, CallerID: frontdesk, Method: "POST", Host: "triage.models.nexus.local", Path: "/api/v1/inference/triage",
	}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if dist["model|triage|v1"] != 90 || dist["model|triage|v2"] != 10 {
		t.Errorf("split = %v, want 90/10", dist)
	}
}

// TestSimulateDrainedVersion: a version at weight 0 gets no traffic unless
// pinned.
func TestSimulateDrainedVersion(t *testing.T) {
	_, res := translateFile(t, "testdata/full.in.yaml")
	cfg := simConfig(res["model~chat"])
	req := simulation.Request{Port: 10000, TLS: true, CallerID: "spiffe://bank.example/service/advisor", Method: "POST", Host: "eu.chat.models.bank.example", Path: "/v1/chat/completions", Headers: map[string]string{"x-nexus-model": "chat"}}
	dist, err := simulation.Distribution(cfg, req, 100)
	if err != nil {
		t.Fatal(err)
	}
	if dist["model|chat|v2"] != 100 {
		t.Errorf("split = %v, want all on v2", dist)
	}
	got, err := simulation.Run(cfg, req)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{translate.FilterJWTAuthn, translate.FilterWasm, translate.FilterExtAuthz, translate.FilterRouter}
	if !got.HasFilters(want...) {
		t.Errorf("filters = %v, want %v", got.HTTPFilters, want)
	}
	req.Headers["x-nexus-model-version"] = "v1"
	got, err = simulation.Run(cfg, req)
	if err != nil {
		t.Fatal(err)
	}
	if got.Cluster != "model|chat|v1" {
		t.Errorf("pinned request went to %s", got.Cluster)
	}
}

// TestSimulateCallerSidecar walks an app's plaintext call through its
// sidecar's outbound listener to the model sidecar over mTLS.
func TestSimulateCallerSidecar(t *testing.T) {
	_, res := translateFile(t, "testdata/canary.in.yaml")
	cfg := simConfig(res["service~frontdesk"])
	got, err := simulation.Run(cfg, simulation.Request{Port: 15001, Method: "POST", Host: "triage.models.nexus.local", Path: "/v1/chat/completions"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Listener != translate.ListenerOutbound || got.Cluster != "outbound|triage" {
		t.Fatalf("landed on %s/%s", got.Listener, got.Cluster)
	}
	if strings.Join(got.Endpoints, ",") != "127.0.0.1:10000" {
		t.Errorf("endpoints = %v, want the model sidecar", got.Endpoints)
	}
	if got.UpstreamSVID != frontdesk || len(got.UpstreamPeerIDs) != 1 || got.UpstreamPeerIDs[0] != triageID {
		t.Errorf("outbound mTLS presents %q and expects %v", got.UpstreamSVID, got.UpstreamPeerIDs)
	}

	got, err = simulation.Run(cfg, simulation.Request{Port: 15001, Method: "GET", Host: "unknown.example", Path: "/"})
	if err != nil {
		t.Fatal(err)
	}
	if got.DirectStatus != 404 {
		t.Errorf("unknown host got %+v", got)
	}

	got, err = simulation.Run(cfg, simulation.Request{Port: 15006, TLS: true, CallerID: triageID, Method: "GET", Host: "frontdesk", Path: "/callback"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Cluster != "inbound|frontdesk" || strings.Join(got.Endpoints, ",") != "127.0.0.1:9000" {
		t.Errorf("inbound call landed on %s %v", got.Cluster, got.Endpoints)
	}
}
