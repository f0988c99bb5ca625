// Package translate turns a validated mesh into the Envoy resources each
// sidecar node needs. It is a pure function of its input: no I/O, no clock,
// no map-order dependence, so the same mesh always yields byte-identical
// resources and an unchanged mesh never causes a push.
package translate

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/secureai-nexus/nexus/controlplane/internal/mesh"
)

// Names shared with other parts of Nexus (the piiguard filter, nexus-authz,
// the admin API's node view). Changing one is a breaking change.
const (
	// HeaderModel carries the model a request is for; piiguard sets it from
	// the body of OpenAI-style requests so the route can pick the model.
	HeaderModel = "x-nexus-model"
	// HeaderVersion pins a request to one model version (canary testing) and
	// tells the backend which version was routed to.
	HeaderVersion = "x-nexus-model-version"

	ListenerInbound  = "inbound"
	ListenerOutbound = "outbound"

	ClusterExtAuthz = "nexus_authz"
	ClusterXDS      = "nexus_xds"
	ClusterTracing  = "nexus_otel_collector"
	ClusterSPIRE    = "spire_agent"

	FilterJWTAuthn = "envoy.filters.http.jwt_authn"
	FilterWasm     = "envoy.filters.http.wasm"
	FilterExtAuthz = "envoy.filters.http.ext_authz"
	FilterRouter   = "envoy.filters.http.router"
	FilterHCM      = "envoy.filters.network.http_connection_manager"

	// PIIGuardRootID is the root context id piiguard registers.
	PIIGuardRootID = "piiguard"

	// OpenAIChatPath is the OpenAI-compatible chat completions path.
	OpenAIChatPath = "/v1/chat/completions"
	// InferencePathPrefix prefixes the per-model inference path.
	InferencePathPrefix = "/api/v1/inference/"
)

// ModelVersionCluster names the model sidecar's cluster for one version.
func ModelVersionCluster(model, version string) string {
	return "model|" + model + "|" + version
}

// OutboundCluster names a caller sidecar's cluster towards a model sidecar.
func OutboundCluster(model string) string { return "outbound|" + model }

// InboundAppCluster names a service sidecar's cluster towards its own app.
func InboundAppCluster(service string) string { return "inbound|" + service }

// RouteConfigName names a node's route configuration for a listener.
func RouteConfigName(listener, name string) string { return listener + "|" + name }

// BundleSecretName is the SDS name of the trust bundle. It is the trust
// domain's SPIFFE id, which is also how a SPIRE agent's SDS names bundles, so
// the same Envoy config works with either identity provider.
func BundleSecretName(trustDomain string) string { return "spiffe://" + trustDomain }

// SVIDSecretName is the SDS name of a workload's X.509-SVID: its SPIFFE id,
// as a SPIRE agent names it.
func SVIDSecretName(spiffeID string) string { return spiffeID }

// builder carries the mesh and the errors found while building, so one bad
// resource does not hide the next.
type builder struct {
	mesh *mesh.Mesh
	errs []error
}

// anyOf packs a message deterministically: Go map order must never reach
// the bytes that are hashed into snapshot versions.
func (b *builder) anyOf(m proto.Message) *anypb.Any {
	a := &anypb.Any{}
	if err := anypb.MarshalFrom(a, m, proto.MarshalOptions{Deterministic: true}); err != nil {
		b.errs = append(b.errs, fmt.Errorf("pack %T: %w", m, err))
		return nil
	}
	return a
}

func adsSource() *core.ConfigSource {
	return &core.ConfigSource{
		ResourceApiVersion:    core.ApiVersion_V3,
		ConfigSourceSpecifier: &core.ConfigSource_Ads{Ads: &core.AggregatedConfigSource{}},
	}
}

// sdsSource is where secrets come from: the control plane over ADS, or the
// SPIRE agent's SDS API.
func (b *builder) sdsSource() *core.ConfigSource {
	if b.mesh.Identity.Provider != mesh.IdentitySPIRE {
		return adsSource()
	}
	return &core.ConfigSource{
		ResourceApiVersion: core.ApiVersion_V3,
		ConfigSourceSpecifier: &core.ConfigSource_ApiConfigSource{ApiConfigSource: &core.ApiConfigSource{
			ApiType:             core.ApiConfigSource_GRPC,
			TransportApiVersion: core.ApiVersion_V3,
			GrpcServices: []*core.GrpcService{{
				TargetSpecifier: &core.GrpcService_EnvoyGrpc_{EnvoyGrpc: &core.GrpcService_EnvoyGrpc{ClusterName: ClusterSPIRE}},
			}},
		}},
	}
}

func (b *builder) sdsSecret(name string) *tlsv3.SdsSecretConfig {
	return &tlsv3.SdsSecretConfig{Name: name, SdsConfig: b.sdsSource()}
}

// commonTLS presents own's SVID and validates the peer against the trust
// bundle, accepting only the SANs given.
func (b *builder) commonTLS(own string, peers []*matcher.StringMatcher) *tlsv3.CommonTlsContext {
	sans := make([]*tlsv3.SubjectAltNameMatcher, 0, len(peers))
	for _, p := range peers {
		sans = append(sans, &tlsv3.SubjectAltNameMatcher{SanType: tlsv3.SubjectAltNameMatcher_URI, Matcher: p})
	}
	return &tlsv3.CommonTlsContext{
		TlsParams: &tlsv3.TlsParameters{TlsMinimumProtocolVersion: tlsv3.TlsParameters_TLSv1_2},
		TlsCertificateSdsSecretConfigs: []*tlsv3.SdsSecretConfig{
			b.sdsSecret(SVIDSecretName(own)),
		},
		ValidationContextType: &tlsv3.CommonTlsContext_CombinedValidationContext{
			CombinedValidationContext: &tlsv3.CommonTlsContext_CombinedCertificateValidationContext{
				DefaultValidationContext:         &tlsv3.CertificateValidationContext{MatchTypedSubjectAltNames: sans},
				ValidationContextSdsSecretConfig: b.sdsSecret(BundleSecretName(b.mesh.TrustDomain)),
			},
		},
	}
}

// upstreamMTLS is the transport socket of every upstream cluster that leaves
// the node: present own's SVID, accept exactly the peer's SPIFFE id.
func (b *builder) upstreamMTLS(own, peer, sni string, alpn ...string) *core.TransportSocket {
	ctx := &tlsv3.UpstreamTlsContext{
		CommonTlsContext: b.commonTLS(own, []*matcher.StringMatcher{exact(peer)}),
		Sni:              sni,
	}
	ctx.CommonTlsContext.AlpnProtocols = alpn
	return &core.TransportSocket{
		Name:       "envoy.transport_sockets.tls",
		ConfigType: &core.TransportSocket_TypedConfig{TypedConfig: b.anyOf(ctx)},
	}
}

// downstreamMTLS requires a client certificate whose SPIFFE id is one of
// ids, the callers the mesh defines for this listener; which caller may do
// what is then the policy's decision. A mesh that names no caller accepts
// any workload of the trust domain and leaves it all to the policy.
func (b *builder) downstreamMTLS(own string, ids []string) *core.TransportSocket {
	callers := []*matcher.StringMatcher{}
	for _, id := range ids {
		callers = append(callers, exact(id))
	}
	if len(callers) == 0 {
		callers = append(callers, prefix(BundleSecretName(b.mesh.TrustDomain)+"/"))
	}
	ctx := &tlsv3.DownstreamTlsContext{
		RequireClientCertificate: wrapBool(true),
		CommonTlsContext:         b.commonTLS(own, callers),
	}
	ctx.CommonTlsContext.AlpnProtocols = []string{"h2", "http/1.1"}
	return &core.TransportSocket{
		Name:       "envoy.transport_sockets.tls",
		ConfigType: &core.TransportSocket_TypedConfig{TypedConfig: b.anyOf(ctx)},
	}
}

func exact(s string) *matcher.StringMatcher {
	return &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_Exact{Exact: s}}
}

func prefix(s string) *matcher.StringMatcher {
	return &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_Prefix{Prefix: s}}
}

func socketAddress(a mesh.Address) *core.Address {
	return &core.Address{Address: &core.Address_SocketAddress{SocketAddress: &core.SocketAddress{
		Protocol:      core.SocketAddress_TCP,
		Address:       a.Host,
		PortSpecifier: &core.SocketAddress_PortValue{PortValue: a.Port},
	}}}
}

// isIP says whether a host is an IP literal, which decides STATIC vs
// STRICT_DNS clusters.
func isIP(host string) bool {
	_, err := netip.ParseAddr(host)
	return err == nil
}

func dur(d time.Duration) *durationpb.Duration { return durationpb.New(d) }

// callerIDs are the SPIFFE ids of the mesh's service sidecars, plus its
// model sidecars when withModels (a model may call back into a service;
// services alone call models), sorted and unique.
func (b *builder) callerIDs(withModels bool) []string {
	ids := make([]string, 0, len(b.mesh.Services)+len(b.mesh.Models))
	for _, s := range b.mesh.Services {
		ids = append(ids, s.SPIFFEID)
	}
	if withModels {
		for _, md := range b.mesh.Models {
			ids = append(ids, md.SPIFFEID)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}
