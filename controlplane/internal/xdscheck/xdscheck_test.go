package xdscheck_test

import (
	"strings"
	"testing"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/secureai-nexus/nexus/controlplane/internal/xdscheck"
)

func listenerWith(cfg *anypb.Any) *listener.Listener {
	return &listener.Listener{
		Name: "l",
		Address: &core.Address{Address: &core.Address_SocketAddress{SocketAddress: &core.SocketAddress{
			Address: "127.0.0.1", PortSpecifier: &core.SocketAddress_PortValue{PortValue: 1},
		}}},
		FilterChains: []*listener.FilterChain{{Filters: []*listener.Filter{{
			Name: "envoy.filters.network.http_connection_manager", ConfigType: &listener.Filter_TypedConfig{TypedConfig: cfg},
		}}}},
	}
}

func TestValidate(t *testing.T) {
	// An HCM without stat_prefix violates a constraint inside the Any.
	badHCM, _ := anypb.New(&hcm.HttpConnectionManager{})
	goodHCM, _ := anypb.New(&hcm.HttpConnectionManager{StatPrefix: "x", RouteSpecifier: &hcm.HttpConnectionManager_Rds{Rds: &hcm.Rds{RouteConfigName: "r", ConfigSource: &core.ConfigSource{ConfigSourceSpecifier: &core.ConfigSource_Ads{Ads: &core.AggregatedConfigSource{}}}}}})
	foreign, _ := anypb.New(durationpb.New(0))
	foreign.TypeUrl = "type.googleapis.com/acme.filters.Magic"
	cases := []struct {
		name string
		cfg  *anypb.Any
		err  string
	}{
		{"valid", goodHCM, ""},
		{"constraint inside typed_config", badHCM, "StatPrefix"},
		{"unregistered type", foreign, "is not a registered type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := xdscheck.Validate(listenerWith(c.cfg))
			if c.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("err = %v, want %q", err, c.err)
			}
		})
	}
	// Outer constraints are checked too: a cluster without a name.
	if err := xdscheck.Validate(&cluster.Cluster{}); err == nil || !strings.Contains(err.Error(), "Name") {
		t.Errorf("nameless cluster: %v", err)
	}
}
