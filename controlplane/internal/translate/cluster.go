package translate

import (
	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	upstreamhttp "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/secureai-nexus/nexus/controlplane/internal/mesh"
)

// ClusterJWKS fetches the end-user token issuer's signing keys.
const ClusterJWKS = "nexus_jwks"

const (
	httpProtocolOptionsKey = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
	systemCABundle         = "/etc/ssl/certs/ca-certificates.crt"
)

// modelVersionCluster reaches one version's backends over mTLS; endpoints
// come by EDS so scaling a version does not rebuild clusters.
func (b *builder) modelVersionCluster(md *mesh.Model, v *mesh.Version) *cluster.Cluster {
	c := edsCluster(ModelVersionCluster(md.Name, v.Name))
	c.TransportSocket = b.upstreamMTLS(md.SPIFFEID, v.SPIFFEID, "")
	// Ejecting a failing backend is the first signal a canary is bad.
	c.OutlierDetection = &cluster.OutlierDetection{
		Consecutive_5Xx:    wrapperspb.UInt32(5),
		Interval:           dur(connectTimeout),
		BaseEjectionTime:   dur(2 * connectTimeout),
		MaxEjectionPercent: wrapperspb.UInt32(50),
	}
	return c
}

// outboundCluster reaches a model sidecar from a caller's sidecar over
// mTLS, over HTTP/2.
func (b *builder) outboundCluster(s *mesh.Service, md *mesh.Model) *cluster.Cluster {
	c := edsCluster(OutboundCluster(md.Name))
	c.TransportSocket = b.upstreamMTLS(s.SPIFFEID, md.SPIFFEID, md.Hosts[0], "h2")
	c.TypedExtensionProtocolOptions = b.http2Options()
	return c
}

// inboundAppCluster reaches the service's own app on loopback. It is the
// one plaintext hop: it never leaves the host, as in Istio's inbound path.
func (b *builder) inboundAppCluster(s *mesh.Service) *cluster.Cluster {
	return staticCluster(InboundAppCluster(s.Name), mesh.Address{Host: "127.0.0.1", Port: s.AppPort})
}

func (b *builder) extAuthzCluster(own string) *cluster.Cluster {
	ea := b.mesh.ExtAuthz
	c := staticCluster(ClusterExtAuthz, ea.Address)
	c.TransportSocket = b.upstreamMTLS(own, ea.SPIFFEID, "", "h2")
	c.TypedExtensionProtocolOptions = b.http2Options()
	return c
}

func (b *builder) tracingCluster(own string) *cluster.Cluster {
	t := b.mesh.Tracing
	c := staticCluster(ClusterTracing, t.Collector)
	c.TransportSocket = b.upstreamMTLS(own, t.SPIFFEID, "", "h2")
	c.TypedExtensionProtocolOptions = b.http2Options()
	return c
}

// jwksCluster fetches signing keys from a public issuer, verified against
// the system's CA bundle rather than the mesh's.
func (b *builder) jwksCluster() *cluster.Cluster {
	host, port, err := mesh.SplitHTTPSURL(b.mesh.JWT.JWKSURI)
	if err != nil {
		b.errs = append(b.errs, err)
		return nil
	}
	c := staticCluster(ClusterJWKS, mesh.Address{Host: host, Port: port})
	tls := &tlsv3.UpstreamTlsContext{
		Sni: host,
		CommonTlsContext: &tlsv3.CommonTlsContext{
			ValidationContextType: &tlsv3.CommonTlsContext_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{
				TrustedCa: &core.DataSource{Specifier: &core.DataSource_Filename{Filename: systemCABundle}},
				MatchTypedSubjectAltNames: []*tlsv3.SubjectAltNameMatcher{{
					SanType: tlsv3.SubjectAltNameMatcher_DNS, Matcher: exact(host),
				}},
			}},
		},
	}
	c.TransportSocket = &core.TransportSocket{
		Name:       "envoy.transport_sockets.tls",
		ConfigType: &core.TransportSocket_TypedConfig{TypedConfig: b.anyOf(tls)},
	}
	return c
}

func (b *builder) http2Options() map[string]*anypb.Any {
	return map[string]*anypb.Any{httpProtocolOptionsKey: b.anyOf(&upstreamhttp.HttpProtocolOptions{
		UpstreamProtocolOptions: &upstreamhttp.HttpProtocolOptions_ExplicitHttpConfig_{ExplicitHttpConfig: &upstreamhttp.HttpProtocolOptions_ExplicitHttpConfig{
			ProtocolConfig: &upstreamhttp.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{Http2ProtocolOptions: &core.Http2ProtocolOptions{}},
		}},
	})}
}

func edsCluster(name string) *cluster.Cluster {
	return &cluster.Cluster{
		Name:                 name,
		ClusterDiscoveryType: &cluster.Cluster_Type{Type: cluster.Cluster_EDS},
		EdsClusterConfig:     &cluster.Cluster_EdsClusterConfig{EdsConfig: adsSource()},
		ConnectTimeout:       dur(connectTimeout),
		LbPolicy:             cluster.Cluster_LEAST_REQUEST,
	}
}

// staticCluster resolves an IP literal statically and a name by DNS.
func staticCluster(name string, addr mesh.Address) *cluster.Cluster {
	typ := cluster.Cluster_STATIC
	if !isIP(addr.Host) {
		typ = cluster.Cluster_STRICT_DNS
	}
	return &cluster.Cluster{
		Name:                 name,
		ClusterDiscoveryType: &cluster.Cluster_Type{Type: typ},
		ConnectTimeout:       dur(connectTimeout),
		LoadAssignment:       loadAssignment(name, []mesh.Address{addr}),
	}
}

func loadAssignment(name string, addrs []mesh.Address) *endpoint.ClusterLoadAssignment {
	lbs := make([]*endpoint.LbEndpoint, 0, len(addrs))
	for _, a := range addrs {
		lbs = append(lbs, &endpoint.LbEndpoint{HostIdentifier: &endpoint.LbEndpoint_Endpoint{
			Endpoint: &endpoint.Endpoint{Address: socketAddress(a)},
		}})
	}
	return &endpoint.ClusterLoadAssignment{
		ClusterName: name,
		Endpoints:   []*endpoint.LocalityLbEndpoints{{LbEndpoints: lbs}},
	}
}
