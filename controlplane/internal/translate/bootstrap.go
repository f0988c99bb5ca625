package translate

import (
	"fmt"

	bootstrap "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"

	"github.com/secureai-nexus/nexus/controlplane/internal/mesh"
)

// BootstrapAdminBasePort is the first Envoy admin port; node i of the mesh
// gets BootstrapAdminBasePort+i so several sidecars fit on one machine.
const BootstrapAdminBasePort = 15000

// Bootstrap builds the static config an Envoy sidecar starts from: its node
// id, the loopback admin interface, and where to find the control plane.
// Everything else arrives over ADS.
func Bootstrap(m *mesh.Mesh, nodeID string) (*bootstrap.Bootstrap, error) {
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
				ApiType:             core.ApiConfigSource_GRPC,
				TransportApiVersion: core.ApiVersion_V3,
				GrpcServices: []*core.GrpcService{{
					TargetSpecifier: &core.GrpcService_EnvoyGrpc_{EnvoyGrpc: &core.GrpcService_EnvoyGrpc{ClusterName: ClusterXDS}},
				}},
				SetNodeOnFirstMessageOnly: true,
			},
			CdsConfig: adsSource(),
			LdsConfig: adsSource(),
		},
		StaticResources: &bootstrap.Bootstrap_StaticResources{Clusters: clusters},
	}
	if len(b.errs) > 0 {
		return nil, fmt.Errorf("bootstrap %s: %v", nodeID, b.errs)
	}
	return bs, nil
}
