package compliance

import (
	"strings"
	"testing"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	extauthz "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	wasmfilter "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/wasm/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	wasmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/wasm/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/secureai-nexus/nexus/controlplane/internal/mesh"
	"github.com/secureai-nexus/nexus/controlplane/internal/translate"
)

// translated is the real translation of a test mesh, as the xDS server
// publishes it.
func translated(t *testing.T, file string) map[string]*translate.Resources {
	t.Helper()
	m, err := mesh.LoadFile("../translate/testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	all, err := translate.Translate(m)
	if err != nil {
		t.Fatal(err)
	}
	return all
}

func pack(t *testing.T, m proto.Message) *anypb.Any {
	t.Helper()
	a, err := anypb.New(m)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// modelHCM unpacks the model node's inbound HCM, lets change edit it and
// packs it back.
func editModelHCM(t *testing.T, r *translate.Resources, change func(*hcm.HttpConnectionManager)) {
	t.Helper()
	f := r.Listeners[0].FilterChains[0].Filters[0]
	var conn hcm.HttpConnectionManager
	if err := f.GetTypedConfig().UnmarshalTo(&conn); err != nil {
		t.Fatal(err)
	}
	change(&conn)
	f.ConfigType = &listener.Filter_TypedConfig{TypedConfig: pack(t, &conn)}
}

func TestCheckMTLS(t *testing.T) {
	for _, file := range []string{"minimal.in.yaml", "canary.in.yaml", "full.in.yaml", "spire.in.yaml"} {
		t.Run("translated/"+file, func(t *testing.T) {
			res := checkMTLS(translated(t, file))
			if !res.Satisfied || len(res.Violations) > 0 {
				t.Fatalf("the translation's own output fails: %s %v", res.Summary, res.Violations)
			}
			joined := strings.Join(res.Evidence, "\n")
			for _, want := range []string{"mTLS, client certificate", "client certificate required"} {
				if !strings.Contains(joined, want) {
					t.Errorf("evidence lacks %q:\n%s", want, joined)
				}
			}
		})
	}
	ev := strings.Join(checkMTLS(translated(t, "full.in.yaml")).Evidence, "\n")
	for _, want := range []string{"plaintext to loopback 127.0.0.1:8080", "plaintext on loopback 127.0.0.1:15001", "TLS to the public token issuer"} {
		if !strings.Contains(ev, want) {
			t.Errorf("full mesh evidence lacks %q", want)
		}
	}

	cases := []struct {
		name   string
		break_ func(t *testing.T, nodes map[string]*translate.Resources)
		want   string
	}{
		{"plaintext model cluster", func(t *testing.T, n map[string]*translate.Resources) {
			n["model~chat"].Clusters[0].TransportSocket = nil
		}, "cluster model|chat|v1 sends plaintext"},
		{"no client certificate", func(t *testing.T, n map[string]*translate.Resources) {
			c := n["service~advisor"].Clusters[1]
			var ctx tlsv3.UpstreamTlsContext
			if err := c.TransportSocket.GetTypedConfig().UnmarshalTo(&ctx); err != nil {
				t.Fatal(err)
			}
			ctx.CommonTlsContext.TlsCertificateSdsSecretConfigs = nil
			c.TransportSocket.ConfigType = &core.TransportSocket_TypedConfig{TypedConfig: pack(t, &ctx)}
		}, "presents no client certificate from SDS"},
		{"peer not verified", func(t *testing.T, n map[string]*translate.Resources) {
			c := n["model~chat"].Clusters[0]
			var ctx tlsv3.UpstreamTlsContext
			if err := c.TransportSocket.GetTypedConfig().UnmarshalTo(&ctx); err != nil {
				t.Fatal(err)
			}
			ctx.CommonTlsContext.ValidationContextType = nil
			c.TransportSocket.ConfigType = &core.TransportSocket_TypedConfig{TypedConfig: pack(t, &ctx)}
		}, "does not verify the peer's SPIFFE id"},
		{"client certificate optional", func(t *testing.T, n map[string]*translate.Resources) {
			fc := n["model~chat"].Listeners[0].FilterChains[0]
			var ctx tlsv3.DownstreamTlsContext
			if err := fc.TransportSocket.GetTypedConfig().UnmarshalTo(&ctx); err != nil {
				t.Fatal(err)
			}
			ctx.RequireClientCertificate = wrapperspb.Bool(false)
			fc.TransportSocket.ConfigType = &core.TransportSocket_TypedConfig{TypedConfig: pack(t, &ctx)}
		}, "does not require a client certificate"},
		{"TLS 1.0 allowed", func(t *testing.T, n map[string]*translate.Resources) {
			fc := n["model~chat"].Listeners[0].FilterChains[0]
			var ctx tlsv3.DownstreamTlsContext
			if err := fc.TransportSocket.GetTypedConfig().UnmarshalTo(&ctx); err != nil {
				t.Fatal(err)
			}
			ctx.CommonTlsContext.TlsParams.TlsMinimumProtocolVersion = tlsv3.TlsParameters_TLSv1_0
			fc.TransportSocket.ConfigType = &core.TransportSocket_TypedConfig{TypedConfig: pack(t, &ctx)}
		}, "allows TLSv1_0"},
		{"plaintext inbound listener", func(t *testing.T, n map[string]*translate.Resources) {
			n["model~chat"].Listeners[0].FilterChains[0].TransportSocket = nil
		}, "accepts plaintext on"},
		{"plaintext outbound listener off loopback", func(t *testing.T, n map[string]*translate.Resources) {
			for _, l := range n["service~advisor"].Listeners {
				if l.Name == translate.ListenerOutbound {
					l.Address.GetSocketAddress().Address = "0.0.0.0"
				}
			}
		}, "listener outbound chain plaintext accepts plaintext on 0.0.0.0:15001"},
		{"plaintext default chain", func(t *testing.T, n map[string]*translate.Resources) {
			n["model~chat"].Listeners[0].DefaultFilterChain = &listener.FilterChain{Name: "fallback"}
		}, "chain fallback accepts plaintext"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			nodes := translated(t, "full.in.yaml")
			c.break_(t, nodes)
			res := checkMTLS(nodes)
			if res.Satisfied {
				t.Fatalf("satisfied with %s", c.name)
			}
			if !strings.Contains(strings.Join(res.Violations, "\n"), c.want) {
				t.Fatalf("violations %q lack %q", res.Violations, c.want)
			}
		})
	}
	if res := checkMTLS(nil); res.Satisfied {
		t.Error("an empty snapshot satisfies mTLS")
	}
}

func TestCheckModelFiltersFailClosed(t *testing.T) {
	for _, file := range []string{"minimal.in.yaml", "canary.in.yaml", "full.in.yaml", "spire.in.yaml"} {
		nodes := translated(t, file)
		for name, check := range map[string]func(map[string]*translate.Resources) Result{"ext_authz": checkExtAuthzFailClosed, "piiguard": checkPIIFilterFailClosed} {
			if res := check(nodes); !res.Satisfied || len(res.Evidence) == 0 {
				t.Errorf("%s %s: %s %v", file, name, res.Summary, res.Violations)
			}
		}
	}
	cases := []struct {
		name  string
		check func(map[string]*translate.Resources) Result
		edit  func(t *testing.T, conn *hcm.HttpConnectionManager)
		want  string
	}{
		{"ext_authz fails open", checkExtAuthzFailClosed, func(t *testing.T, conn *hcm.HttpConnectionManager) {
			for _, f := range conn.HttpFilters {
				if f.Name == translate.FilterExtAuthz {
					var ea extauthz.ExtAuthz
					if err := f.GetTypedConfig().UnmarshalTo(&ea); err != nil {
						t.Fatal(err)
					}
					ea.FailureModeAllow = true
					f.ConfigType = &hcm.HttpFilter_TypedConfig{TypedConfig: pack(t, &ea)}
				}
			}
		}, "fails open (failure_mode_allow: true)"},
		{"ext_authz missing", checkExtAuthzFailClosed, func(t *testing.T, conn *hcm.HttpConnectionManager) {
			var kept []*hcm.HttpFilter
			for _, f := range conn.HttpFilters {
				if f.Name != translate.FilterExtAuthz {
					kept = append(kept, f)
				}
			}
			conn.HttpFilters = kept
		}, "no ext_authz filter before the router"},
		{"ext_authz after the router", checkExtAuthzFailClosed, func(t *testing.T, conn *hcm.HttpConnectionManager) {
			n := len(conn.HttpFilters)
			conn.HttpFilters[n-1], conn.HttpFilters[n-2] = conn.HttpFilters[n-2], conn.HttpFilters[n-1]
		}, "no ext_authz filter before the router"},
		{"piiguard fails open", checkPIIFilterFailClosed, func(t *testing.T, conn *hcm.HttpConnectionManager) {
			for _, f := range conn.HttpFilters {
				if f.Name == translate.FilterWasm {
					var w wasmfilter.Wasm
					if err := f.GetTypedConfig().UnmarshalTo(&w); err != nil {
						t.Fatal(err)
					}
					w.Config.FailurePolicy = wasmv3.FailurePolicy_FAIL_OPEN
					f.ConfigType = &hcm.HttpFilter_TypedConfig{TypedConfig: pack(t, &w)}
				}
			}
		}, "piiguard does not fail closed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			nodes := translated(t, "canary.in.yaml")
			editModelHCM(t, nodes["model~triage"], func(conn *hcm.HttpConnectionManager) { c.edit(t, conn) })
			res := c.check(nodes)
			if res.Satisfied || !strings.Contains(strings.Join(res.Violations, "\n"), c.want) {
				t.Fatalf("got %t %q, want a violation %q", res.Satisfied, res.Violations, c.want)
			}
		})
	}
	t.Run("no HCM", func(t *testing.T) {
		nodes := translated(t, "canary.in.yaml")
		nodes["model~triage"].Listeners[0].FilterChains[0].Filters = nil
		if res := checkExtAuthzFailClosed(nodes); res.Satisfied {
			t.Fatal("a model chain without an HCM satisfies ext_authz")
		}
	})
	if res := checkExtAuthzFailClosed(nil); res.Satisfied {
		t.Error("an empty snapshot satisfies ext_authz")
	}
}
