package translate

import (
	"errors"
	"fmt"
	"slices"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	"github.com/secureai-nexus/nexus/controlplane/internal/mesh"
)

// Resources is everything one sidecar node is served over ADS.
type Resources struct {
	Listeners []*listener.Listener
	Routes    []*route.RouteConfiguration
	Clusters  []*cluster.Cluster
	Endpoints []*endpoint.ClusterLoadAssignment
	// Secrets are the SDS secret names the node's config refers to: its own
	// SVID and the trust bundle. The identity provider serves them.
	Secrets []string
}

// ErrUnknownNode is returned for a node id the mesh does not define.
var ErrUnknownNode = errors.New("unknown node")

// Translate builds the resources of every node the mesh defines, keyed by
// node id.
func Translate(m *mesh.Mesh) (map[string]*Resources, error) {
	out := make(map[string]*Resources, len(m.Models)+len(m.Services))
	var errs []error
	for _, n := range m.Nodes() {
		r, err := Node(m, n.ID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[n.ID] = r
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// Node builds the resources of one node.
func Node(m *mesh.Mesh, nodeID string) (*Resources, error) {
	b := &builder{mesh: m}
	var r *Resources
	for i := range m.Models {
		if m.Models[i].NodeID() == nodeID {
			r = b.modelNode(&m.Models[i])
		}
	}
	for i := range m.Services {
		if m.Services[i].NodeID() == nodeID {
			r = b.serviceNode(&m.Services[i])
		}
	}
	if r == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownNode, nodeID)
	}
	if len(b.errs) > 0 {
		return nil, fmt.Errorf("node %s: %w", nodeID, errors.Join(b.errs...))
	}
	slices.Sort(r.Secrets)
	r.Secrets = slices.Compact(r.Secrets)
	return r, nil
}

func (b *builder) modelNode(md *mesh.Model) *Resources {
	r := &Resources{
		Listeners: []*listener.Listener{b.modelInboundListener(md)},
		Routes:    []*route.RouteConfiguration{b.modelRoutes(md)},
		Secrets:   []string{SVIDSecretName(md.SPIFFEID), BundleSecretName(b.mesh.TrustDomain)},
	}
	for i := range md.Versions {
		v := &md.Versions[i]
		r.Clusters = append(r.Clusters, b.modelVersionCluster(md, v))
		r.Endpoints = append(r.Endpoints, loadAssignment(ModelVersionCluster(md.Name, v.Name), v.Endpoints))
	}
	r.Clusters = append(r.Clusters, b.extAuthzCluster(md.SPIFFEID))
	if b.mesh.JWT != nil {
		r.Clusters = append(r.Clusters, b.jwksCluster())
	}
	b.sharedClusters(r, md.SPIFFEID)
	return r
}

func (b *builder) serviceNode(s *mesh.Service) *Resources {
	r := &Resources{
		Listeners: []*listener.Listener{b.serviceInboundListener(s), b.serviceOutboundListener(s)},
		Routes:    []*route.RouteConfiguration{b.serviceInboundRoutes(s), b.serviceOutboundRoutes(s)},
		Clusters:  []*cluster.Cluster{b.inboundAppCluster(s)},
		Secrets:   []string{SVIDSecretName(s.SPIFFEID), BundleSecretName(b.mesh.TrustDomain)},
	}
	for i := range b.mesh.Models {
		md := &b.mesh.Models[i]
		r.Clusters = append(r.Clusters, b.outboundCluster(s, md))
		r.Endpoints = append(r.Endpoints, loadAssignment(OutboundCluster(md.Name), []mesh.Address{md.Sidecar}))
	}
	b.sharedClusters(r, s.SPIFFEID)
	return r
}

// sharedClusters adds the clusters every node needs for mesh-wide
// features.
func (b *builder) sharedClusters(r *Resources, own string) {
	if b.mesh.Tracing != nil {
		r.Clusters = append(r.Clusters, b.tracingCluster(own))
	}
}
