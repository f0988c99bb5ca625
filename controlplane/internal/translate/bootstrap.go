package translate

import (
	"fmt"
	"path/filepath"
	"time"

	bootstrap "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	metricsv3 "github.com/envoyproxy/go-control-plane/envoy/config/metrics/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"

	"github.com/secureai-nexus/nexus/controlplane/internal/mesh"
)

// BootstrapAdminBasePort is the first Envoy admin port; node i of the mesh
// gets BootstrapAdminBasePort+i so several sidecars fit on one machine.
const BootstrapAdminBasePort = 15000

// statsFlushInterval is how often a sidecar streams its stats.
const statsFlushInterval = time.Second

// BootstrapCredentials are how a sidecar of the built-in identity provider
// reaches the control plane before it holds an SVID.
type BootstrapCredentials struct {
	// BundleSDSFile is a file-based SDS source (a DiscoveryResponse
	// holding the trust bundle as a validation context) that verifies the
	// control plane's SVID. Envoy watches its directory, so a root
	// rotation reaches the xDS connection without a restart.
	BundleSDSFile string
	// Token is the node credential, sent as a bearer token on the xDS
	// stream.
	Token string
}

// Bootstrap builds the static config an Envoy sidecar starts from: its node
// id, the loopback admin interface, and where to find the control plane
// over TLS that checks the control plane's SPIFFE id. With the built-in
// provider the sidecar proves itself with its node credential; with SPIRE,
// with the SVID the SPIRE agent serves it, from the first byte.
// Everything else arrives over ADS.
func Bootstrap(m *mesh.Mesh, nodeID string, creds BootstrapCredentials) (*bootstrap.Bootstrap, error) {
	idx := -1
	for i, n := range m.Nodes() {
		if n.ID == nodeID {
			idx = i
		}
	}
	if idx < 0 {
		return nil, fmt.Errorf("%w: %q", ErrUnknownNode, nodeID)
	}
	b := &builder{mesh: m}
	xdsCluster := staticCluster(ClusterXDS, m.ControlPlane.Address)
	xdsCluster.TypedExtensionProtocolOptions = b.http2Options()
	clusters := []*cluster.Cluster{xdsCluster}
	xdsService := &core.GrpcService{
		TargetSpecifier: &core.GrpcService_EnvoyGrpc_{EnvoyGrpc: &core.GrpcService_EnvoyGrpc{ClusterName: ClusterXDS}},
	}
	if m.Identity.Provider == mesh.IdentitySPIRE {
		// The SPIRE agent's SDS is a static cluster, so the xDS cluster can
		// take its SVID and bundle from it without waiting on itself.
		own := ""
		for _, n := range m.Nodes() {
			if n.ID == nodeID {
				own = n.SPIFFEID
			}
		}
		xdsCluster.TransportSocket = b.upstreamMTLS(own, m.ControlPlane.SPIFFEID, "", "h2")
	} else {
		if creds.BundleSDSFile == "" || creds.Token == "" {
			return nil, fmt.Errorf("bootstrap %s: the built-in identity provider needs the trust bundle file and the node credential", nodeID)
		}
		xdsCluster.TransportSocket = b.xdsTLS(creds.BundleSDSFile)
		xdsService.InitialMetadata = []*core.HeaderValue{{Key: "authorization", Value: "Bearer " + creds.Token}}
	}
	if m.Identity.Provider == mesh.IdentitySPIRE {
		spire := &cluster.Cluster{
			Name:                          ClusterSPIRE,
			ClusterDiscoveryType:          &cluster.Cluster_Type{Type: cluster.Cluster_STATIC},
			ConnectTimeout:                dur(connectTimeout),
			TypedExtensionProtocolOptions: b.http2Options(),
			LoadAssignment: &endpoint.ClusterLoadAssignment{
				ClusterName: ClusterSPIRE,
				Endpoints: []*endpoint.LocalityLbEndpoints{{LbEndpoints: []*endpoint.LbEndpoint{{
					HostIdentifier: &endpoint.LbEndpoint_Endpoint{Endpoint: &endpoint.Endpoint{Address: &core.Address{
						Address: &core.Address_Pipe{Pipe: &core.Pipe{Path: m.Identity.SPIREAgentSocket}},
					}}},
				}}}},
			},
		}
		clusters = append(clusters, spire)
	}
	bs := &bootstrap.Bootstrap{
		Node: &core.Node{Id: nodeID, Cluster: "nexus"},
		Admin: &bootstrap.Admin{
			Address: socketAddress(mesh.Address{Host: "127.0.0.1", Port: uint32(BootstrapAdminBasePort + idx)}),
		},
		DynamicResources: &bootstrap.Bootstrap_DynamicResources{
			AdsConfig: &core.ApiConfigSource{
				ApiType:                   core.ApiConfigSource_GRPC,
				TransportApiVersion:       core.ApiVersion_V3,
				GrpcServices:              []*core.GrpcService{xdsService},
				SetNodeOnFirstMessageOnly: true,
			},
			CdsConfig: adsSource(),
			LdsConfig: adsSource(),
		},
		StaticResources: &bootstrap.Bootstrap_StaticResources{Clusters: clusters},
		// Envoy's admin serves /stats/prometheus on the loopback address
		// above. piiguard's counters (wasmcustom.piiguard.…) get their
		// last segments as labels: piiguard_findings{class="EMAIL"},
		// piiguard_answers_leaked{model="triage",version="v2"}.
		// Every second, the sidecar streams its stats to the control plane
		// (the metrics service on the xDS connection's cluster, with the
		// same credential): a failing canary is rolled back within
		// seconds, not at the next scrape and evaluation.
		StatsFlushInterval: dur(statsFlushInterval),
		StatsSinks: []*metricsv3.StatsSink{{
			Name: "envoy.stat_sinks.metrics_service",
			ConfigType: &metricsv3.StatsSink_TypedConfig{TypedConfig: b.anyOf(&metricsv3.MetricsServiceConfig{
				GrpcService:         xdsService,
				TransportApiVersion: core.ApiVersion_V3,
			})},
		}},
		StatsConfig: &metricsv3.StatsConfig{StatsTags: []*metricsv3.TagSpecifier{
			// Envoy refuses a tag name given twice: one class tag serves
			// the request's findings and the answers'.
			{TagName: "class", TagValue: &metricsv3.TagSpecifier_Regex{Regex: `^(?:wasmcustom\.)?piiguard\.(?:answers\.)?findings(\.class\.([A-Z0-9_]+))$`}},
			{TagName: "mode", TagValue: &metricsv3.TagSpecifier_Regex{Regex: `^(?:wasmcustom\.)?piiguard\.actions(\.mode\.([a-z]+))$`}},
			// Answers by model and version: piiguard_answers_leaked{model,version}.
			{TagName: "model", TagValue: &metricsv3.TagSpecifier_Regex{Regex: `^(?:wasmcustom\.)?piiguard\.answers\.(?:scanned|leaked)(\.model\.([a-z0-9-]+))\.version\.`}},
			{TagName: "version", TagValue: &metricsv3.TagSpecifier_Regex{Regex: `^(?:wasmcustom\.)?piiguard\.answers\.(?:scanned|leaked)\.model\.[a-z0-9-]+(\.version\.([A-Za-z0-9._-]+))$`}},
		}},
	}
	if len(b.errs) > 0 {
		return nil, fmt.Errorf("bootstrap %s: %v", nodeID, b.errs)
	}
	return bs, nil
}

// xdsTLS verifies the control plane's SPIFFE id against the bundle from a
// watched file. The sidecar has no SVID yet to present; its node credential
// rides in the stream's metadata instead.
func (b *builder) xdsTLS(bundleSDSFile string) *core.TransportSocket {
	ctx := &tlsv3.UpstreamTlsContext{CommonTlsContext: &tlsv3.CommonTlsContext{
		TlsParams: &tlsv3.TlsParameters{TlsMinimumProtocolVersion: tlsv3.TlsParameters_TLSv1_2},
		ValidationContextType: &tlsv3.CommonTlsContext_CombinedValidationContext{
			CombinedValidationContext: &tlsv3.CommonTlsContext_CombinedCertificateValidationContext{
				DefaultValidationContext: &tlsv3.CertificateValidationContext{
					MatchTypedSubjectAltNames: []*tlsv3.SubjectAltNameMatcher{{
						SanType: tlsv3.SubjectAltNameMatcher_URI, Matcher: exact(b.mesh.ControlPlane.SPIFFEID),
					}},
				},
				ValidationContextSdsSecretConfig: &tlsv3.SdsSecretConfig{
					Name: BundleSecretName(b.mesh.TrustDomain),
					SdsConfig: &core.ConfigSource{
						ResourceApiVersion: core.ApiVersion_V3,
						ConfigSourceSpecifier: &core.ConfigSource_PathConfigSource{PathConfigSource: &core.PathConfigSource{
							Path:             bundleSDSFile,
							WatchedDirectory: &core.WatchedDirectory{Path: filepath.Dir(bundleSDSFile)},
						}},
					},
				},
			},
		},
		AlpnProtocols: []string{"h2"},
	}}
	return &core.TransportSocket{
		Name:       "envoy.transport_sockets.tls",
		ConfigType: &core.TransportSocket_TypedConfig{TypedConfig: b.anyOf(ctx)},
	}
}
