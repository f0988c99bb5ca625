// Package xds serves the translated mesh to Envoy sidecars over ADS with
// go-control-plane's snapshot cache, and tracks what each node has ACKed and
// NACKed.
package xds

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"

	"github.com/secureai-nexus/nexus/controlplane/internal/translate"
)

// TypeName is the short name the admin API uses for an xDS type URL.
func TypeName(typeURL string) string {
	switch typeURL {
	case resourcev3.ListenerType:
		return "listeners"
	case resourcev3.RouteType:
		return "routes"
	case resourcev3.ClusterType:
		return "clusters"
	case resourcev3.EndpointType:
		return "endpoints"
	case resourcev3.SecretType:
		return "secrets"
	}
	return typeURL
}

// NewSnapshot builds a node's snapshot; secrets are those the node's
// config names, when the control plane is the identity provider. Each type is versioned by a hash of
// its resources' deterministic bytes, so a mesh change that leaves a type
// untouched sends nothing for it, and an unchanged mesh sends nothing at all.
func NewSnapshot(r *translate.Resources, secrets []*tlsv3.Secret) (*cachev3.Snapshot, error) {
	s := &cachev3.Snapshot{}
	groups := []struct {
		typ   types.ResponseType
		items []types.Resource
	}{
		{types.Listener, resources(r.Listeners)},
		{types.Route, resources(r.Routes)},
		{types.Cluster, resources(r.Clusters)},
		{types.Endpoint, resources(r.Endpoints)},
		{types.Secret, resources(secrets)},
	}
	for _, g := range groups {
		v, err := contentVersion(g.items)
		if err != nil {
			return nil, err
		}
		s.Resources[g.typ] = cachev3.NewResources(v, g.items)
	}
	if err := s.Consistent(); err != nil {
		return nil, fmt.Errorf("inconsistent snapshot: %w", err)
	}
	return s, nil
}

func resources[T types.Resource](in []T) []types.Resource {
	out := make([]types.Resource, len(in))
	for i, r := range in {
		out[i] = r
	}
	return out
}

func contentVersion(items []types.Resource) (string, error) {
	h := sha256.New()
	opts := proto.MarshalOptions{Deterministic: true}
	for _, it := range items {
		b, err := opts.Marshal(it)
		if err != nil {
			return "", fmt.Errorf("marshal %s: %w", cachev3.GetResourceName(it), err)
		}
		fmt.Fprintf(h, "%d:", len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}
