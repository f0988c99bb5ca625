package translate

import (
	"encoding/json"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tracev3 "github.com/envoyproxy/go-control-plane/envoy/config/trace/v3"
	streamlog "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	extauthz "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	jwtauthn "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	wasmfilter "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/wasm/v3"
	tlsinspector "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/tls_inspector/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	wasmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/wasm/v3"
	tracingtypev3 "github.com/envoyproxy/go-control-plane/envoy/type/tracing/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/secureai-nexus/nexus/controlplane/internal/mesh"
)

func wrapBool(v bool) *wrapperspb.BoolValue { return wrapperspb.Bool(v) }

// modelInboundListener is the model sidecar's only listener: mTLS with a
// client certificate required, then jwt_authn → piiguard → ext_authz →
// router. A plaintext connection matches no filter chain and is closed.
func (b *builder) modelInboundListener(md *mesh.Model) *listener.Listener {
	filters := []*hcm.HttpFilter{}
	if b.mesh.JWT != nil {
		filters = append(filters, b.httpFilter(FilterJWTAuthn, b.jwtAuthn()))
	}
	filters = append(filters,
		b.httpFilter(FilterWasm, b.piiGuard(md)),
		b.httpFilter(FilterExtAuthz, b.extAuthz()),
		b.httpFilter(FilterRouter, &routerv3.Router{}),
	)
	conn := b.hcm("inbound_"+md.Name, RouteConfigName(ListenerInbound, md.Name), filters)
	// Backends learn who called from XFCC; Envoy overwrites anything the
	// caller sent, so it cannot be forged.
	conn.ForwardClientCertDetails = hcm.HttpConnectionManager_SANITIZE_SET
	conn.SetCurrentClientCertDetails = &hcm.HttpConnectionManager_SetCurrentClientCertDetails{Uri: true}
	return b.tlsListener(ListenerInbound, md.Sidecar, md.SPIFFEID, b.callerIDs(false), conn)
}

// serviceInboundListener accepts mTLS calls for the service's app.
func (b *builder) serviceInboundListener(s *mesh.Service) *listener.Listener {
	conn := b.hcm("inbound_"+s.Name, RouteConfigName(ListenerInbound, s.Name),
		[]*hcm.HttpFilter{b.httpFilter(FilterRouter, &routerv3.Router{})})
	conn.ForwardClientCertDetails = hcm.HttpConnectionManager_SANITIZE_SET
	conn.SetCurrentClientCertDetails = &hcm.HttpConnectionManager_SetCurrentClientCertDetails{Uri: true}
	return b.tlsListener(ListenerInbound, s.Inbound, s.SPIFFEID, b.callerIDs(true), conn)
}

// serviceOutboundListener takes the app's plaintext calls on loopback and
// sends them to model sidecars over mTLS.
func (b *builder) serviceOutboundListener(s *mesh.Service) *listener.Listener {
	conn := b.hcm("outbound_"+s.Name, RouteConfigName(ListenerOutbound, s.Name),
		[]*hcm.HttpFilter{b.httpFilter(FilterRouter, &routerv3.Router{})})
	return &listener.Listener{
		Name:    ListenerOutbound,
		Address: socketAddress(s.Outbound),
		FilterChains: []*listener.FilterChain{{
			Name:    "plaintext",
			Filters: []*listener.Filter{b.networkFilter(FilterHCM, conn)},
		}},
		TrafficDirection: core.TrafficDirection_OUTBOUND,
	}
}

func (b *builder) tlsListener(name string, addr mesh.Address, own string, callers []string, conn *hcm.HttpConnectionManager) *listener.Listener {
	return &listener.Listener{
		Name:    name,
		Address: socketAddress(addr),
		ListenerFilters: []*listener.ListenerFilter{{
			Name:       "envoy.filters.listener.tls_inspector",
			ConfigType: &listener.ListenerFilter_TypedConfig{TypedConfig: b.anyOf(&tlsinspector.TlsInspector{})},
		}},
		FilterChains: []*listener.FilterChain{{
			Name:             "mtls",
			FilterChainMatch: &listener.FilterChainMatch{TransportProtocol: "tls"},
			TransportSocket:  b.downstreamMTLS(own, callers),
			Filters:          []*listener.Filter{b.networkFilter(FilterHCM, conn)},
		}},
		TrafficDirection: core.TrafficDirection_INBOUND,
	}
}

func (b *builder) hcm(statPrefix, routeConfig string, filters []*hcm.HttpFilter) *hcm.HttpConnectionManager {
	conn := &hcm.HttpConnectionManager{
		StatPrefix: statPrefix,
		CodecType:  hcm.HttpConnectionManager_AUTO,
		RouteSpecifier: &hcm.HttpConnectionManager_Rds{Rds: &hcm.Rds{
			RouteConfigName: routeConfig,
			ConfigSource:    adsSource(),
		}},
		HttpFilters: filters,
		// Model hosts are matched without the port the caller happened to use.
		StripPortMode:                &hcm.HttpConnectionManager_StripAnyHostPort{StripAnyHostPort: true},
		NormalizePath:                wrapBool(true),
		MergeSlashes:                 true,
		PathWithEscapedSlashesAction: hcm.HttpConnectionManager_UNESCAPE_AND_REDIRECT,
		// Streaming completions can be long; idle, not total, time bounds them.
		StreamIdleTimeout: dur(streamIdleTimeout),
		AccessLog: []*accesslogv3.AccessLog{{
			Name:       "envoy.access_loggers.stdout",
			ConfigType: &accesslogv3.AccessLog_TypedConfig{TypedConfig: b.anyOf(&streamlog.StdoutAccessLog{})},
		}},
	}
	if t := b.mesh.Tracing; t != nil {
		conn.Tracing = &hcm.HttpConnectionManager_Tracing{
			RandomSampling: &typev3.Percent{Value: t.SamplingPercent},
			// piiguard's report (classes and counts, never values) on
			// every span of the sidecar, so a trace shows what was found.
			CustomTags: []*tracingtypev3.CustomTag{{
				Tag: "nexus.pii.findings",
				Type: &tracingtypev3.CustomTag_RequestHeader{RequestHeader: &tracingtypev3.CustomTag_Header{
					Name: "x-nexus-pii", DefaultValue: "none",
				}},
			}, {
				Tag: "nexus.pii.actions",
				Type: &tracingtypev3.CustomTag_RequestHeader{RequestHeader: &tracingtypev3.CustomTag_Header{
					Name: "x-nexus-pii-actions", DefaultValue: "none",
				}},
			}},
			Provider: &tracev3.Tracing_Http{
				Name: "envoy.tracers.opentelemetry",
				ConfigType: &tracev3.Tracing_Http_TypedConfig{TypedConfig: b.anyOf(&tracev3.OpenTelemetryConfig{
					GrpcService: &core.GrpcService{
						TargetSpecifier: &core.GrpcService_EnvoyGrpc_{EnvoyGrpc: &core.GrpcService_EnvoyGrpc{ClusterName: ClusterTracing}},
						Timeout:         dur(grpcTimeout),
					},
					ServiceName: t.ServiceName,
				})},
			},
		}
	}
	return conn
}

func (b *builder) httpFilter(name string, cfg proto.Message) *hcm.HttpFilter {
	return &hcm.HttpFilter{Name: name, ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: b.anyOf(cfg)}}
}

func (b *builder) networkFilter(name string, cfg proto.Message) *listener.Filter {
	return &listener.Filter{Name: name, ConfigType: &listener.Filter_TypedConfig{TypedConfig: b.anyOf(cfg)}}
}

// extAuthz fails closed: an unreachable or slow nexus-authz denies.
func (b *builder) extAuthz() *extauthz.ExtAuthz {
	ea := b.mesh.ExtAuthz
	return &extauthz.ExtAuthz{
		Services: &extauthz.ExtAuthz_GrpcService{GrpcService: &core.GrpcService{
			TargetSpecifier: &core.GrpcService_EnvoyGrpc_{EnvoyGrpc: &core.GrpcService_EnvoyGrpc{ClusterName: ClusterExtAuthz}},
			Timeout:         dur(ea.Timeout),
		}},
		TransportApiVersion: core.ApiVersion_V3,
		FailureModeAllow:    false,
		StatusOnError:       &typev3.HttpStatus{Code: typev3.StatusCode_Forbidden},
		WithRequestBody: &extauthz.BufferSettings{
			MaxRequestBytes: ea.MaxRequestBytes,
			// A body larger than the bound is refused (413), never
			// decided on a prefix.
			AllowPartialMessage: false,
		},
		IncludePeerCertificate: true,
		// Verified end-user claims and piiguard's findings reach the policy.
		MetadataContextNamespaces: []string{FilterJWTAuthn, PIIGuardRootID},
		ClearRouteCache:           true,
	}
}

// piiGuardConfig is the JSON the filter receives as plugin configuration.
type piiGuardConfig struct {
	Model       string            `json:"model"`
	ModelHeader string            `json:"model_header"`
	Modes       map[string]string `json:"modes"`
	HashKey     string            `json:"hash_key,omitempty"`
	HashKeyID   string            `json:"hash_key_id,omitempty"`
}

func (b *builder) piiGuard(md *mesh.Model) *wasmfilter.Wasm {
	modes := make(map[string]string, len(md.PII))
	for class, mode := range md.PII {
		modes[class] = string(mode)
	}
	// encoding/json sorts map keys, so the configuration bytes are stable.
	pc := piiGuardConfig{Model: md.Name, ModelHeader: HeaderModel, Modes: modes}
	if len(b.mesh.PIIGuard.HashKey) > 0 {
		pc.HashKey, pc.HashKeyID = string(b.mesh.PIIGuard.HashKey), b.mesh.PIIGuard.HashKeyID
	}
	cfg, err := json.Marshal(pc)
	if err != nil {
		b.errs = append(b.errs, err)
	}
	code := &core.AsyncDataSource{Specifier: &core.AsyncDataSource_Local{Local: &core.DataSource{
		Specifier: &core.DataSource_Filename{Filename: b.mesh.PIIGuard.WasmPath},
	}}}
	return &wasmfilter.Wasm{Config: &wasmv3.PluginConfig{
		Name:   PIIGuardRootID,
		RootId: PIIGuardRootID,
		Vm: &wasmv3.PluginConfig_VmConfig{VmConfig: &wasmv3.VmConfig{
			VmId:    PIIGuardRootID,
			Runtime: "envoy.wasm.runtime.v8",
			Code:    code,
		}},
		Configuration: b.anyOf(wrapperspb.String(string(cfg))),
		// A filter that cannot start must not let unscanned bodies through.
		FailurePolicy: wasmv3.FailurePolicy_FAIL_CLOSED,
	}}
}

func (b *builder) jwtAuthn() *jwtauthn.JwtAuthentication {
	j := b.mesh.JWT
	return &jwtauthn.JwtAuthentication{
		Providers: map[string]*jwtauthn.JwtProvider{
			"nexus": {
				Issuer:    j.Issuer,
				Audiences: j.Audiences,
				JwksSourceSpecifier: &jwtauthn.JwtProvider_RemoteJwks{RemoteJwks: &jwtauthn.RemoteJwks{
					HttpUri: &core.HttpUri{
						Uri:              j.JWKSURI,
						HttpUpstreamType: &core.HttpUri_Cluster{Cluster: ClusterJWKS},
						Timeout:          dur(grpcTimeout),
					},
					CacheDuration: dur(jwksCacheDuration),
				}},
				Forward:           j.Forward,
				PayloadInMetadata: "claims",
			},
		},
		// Tokens are optional at the edge, but a present one must verify;
		// whether a call needs one is the policy's decision.
		Rules: []*jwtauthn.RequirementRule{{
			Match: &route.RouteMatch{PathSpecifier: &route.RouteMatch_Prefix{Prefix: "/"}},
			RequirementType: &jwtauthn.RequirementRule_Requires{Requires: &jwtauthn.JwtRequirement{
				RequiresType: &jwtauthn.JwtRequirement_RequiresAny{RequiresAny: &jwtauthn.JwtRequirementOrList{
					Requirements: []*jwtauthn.JwtRequirement{
						{RequiresType: &jwtauthn.JwtRequirement_ProviderName{ProviderName: "nexus"}},
						{RequiresType: &jwtauthn.JwtRequirement_AllowMissing{AllowMissing: &emptypb.Empty{}}},
					},
				}},
			}},
		}},
	}
}
