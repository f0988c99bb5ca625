package xds

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"sync"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	clusterservice "github.com/envoyproxy/go-control-plane/envoy/service/cluster/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	endpointservice "github.com/envoyproxy/go-control-plane/envoy/service/endpoint/v3"
	listenerservice "github.com/envoyproxy/go-control-plane/envoy/service/listener/v3"
	routeservice "github.com/envoyproxy/go-control-plane/envoy/service/route/v3"
	secretservice "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/secureai-nexus/nexus/controlplane/internal/mesh"
	"github.com/secureai-nexus/nexus/controlplane/internal/translate"
)

// SecretSource serves the SDS secrets a node's config names.
type SecretSource interface {
	Secrets(names []string) ([]*tlsv3.Secret, error)
}

// Server publishes mesh snapshots and serves them over ADS.
type Server struct {
	log    *slog.Logger
	cache  cachev3.SnapshotCache
	status *tracker
	auth   *NodeAuth
	extra  []func(grpc.ServiceRegistrar)

	obs *observer // nil until Instrument

	mu        sync.Mutex
	secrets   SecretSource
	resources map[string]*translate.Resources // what each node was last served
}

// NewServer returns a server with an empty cache.
func NewServer(log *slog.Logger) *Server {
	s := &Server{log: log, status: newTracker(log), resources: map[string]*translate.Resources{}}
	s.cache = cachev3.NewSnapshotCache(true, cachev3.IDHash{}, slogAdapter{log})
	return s
}

// Publish translates the mesh and replaces every node's snapshot. If any
// node fails to translate, nothing is published and the previous snapshots
// keep serving.
func (s *Server) Publish(ctx context.Context, m *mesh.Mesh) error {
	commit, err := s.Prepare(m)
	if err != nil {
		return err
	}
	return commit(ctx)
}

// Prepare translates the mesh into snapshots without publishing them, so a
// caller can check a change translates, persist it, and only then push the
// very snapshots it checked.
func (s *Server) Prepare(m *mesh.Mesh) (func(context.Context) error, error) {
	all, err := translate.Translate(m)
	if err != nil {
		return nil, fmt.Errorf("translate mesh: %w", err)
	}
	s.mu.Lock()
	snaps, err := s.snapshots(all)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	nodes := m.Nodes()
	return func(ctx context.Context) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.auth != nil {
			s.auth.setNodes(nodes)
		}
		return s.apply(ctx, all, snaps)
	}, nil
}

// snapshots builds each node's snapshot with the current secrets.
func (s *Server) snapshots(all map[string]*translate.Resources) (map[string]*cachev3.Snapshot, error) {
	snaps := make(map[string]*cachev3.Snapshot, len(all))
	for id, r := range all {
		var secrets []*tlsv3.Secret
		if s.secrets != nil {
			var err error
			if secrets, err = s.secrets.Secrets(r.Secrets); err != nil {
				return nil, fmt.Errorf("node %s: %w", id, err)
			}
		}
		snap, err := NewSnapshot(r, secrets)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", id, err)
		}
		snaps[id] = snap
	}
	return snaps, nil
}

func (s *Server) apply(ctx context.Context, all map[string]*translate.Resources, snaps map[string]*cachev3.Snapshot) (err error) {
	ctx, done := s.obs.pushed(ctx, func(node string) *cachev3.Snapshot {
		if prev, err := s.cache.GetSnapshot(node); err == nil {
			if snap, ok := prev.(*cachev3.Snapshot); ok {
				return snap
			}
		}
		return nil
	}, snaps)
	defer func() { done(err) }()
	for _, id := range slices.Sorted(maps.Keys(snaps)) {
		if err := s.cache.SetSnapshot(ctx, id, snaps[id]); err != nil {
			return fmt.Errorf("set snapshot for %s: %w", id, err)
		}
	}
	for id := range s.resources {
		if _, ok := snaps[id]; !ok {
			s.cache.ClearSnapshot(id)
			s.log.Info("node removed from mesh", "node", id)
		}
	}
	s.resources = all
	return nil
}

// SetSecretSource makes the server serve SDS secrets from src (the
// built-in CA); without one, secrets are left to SPIRE.
func (s *Server) SetSecretSource(src SecretSource) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets = src
}

// RefreshSecrets re-reads every node's secrets and pushes what changed.
// Only SDS versions move when a certificate rotates: the listeners and
// clusters that name the secrets are untouched, so Envoy drains nothing.
func (s *Server) RefreshSecrets(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.secrets == nil {
		return nil
	}
	// Only the secrets are rebuilt and hashed: at a thousand nodes,
	// re-versioning every listener and cluster on each renewal would cost
	// as much as retranslating the mesh.
	snaps := make(map[string]*cachev3.Snapshot, len(s.resources))
	for id, r := range s.resources {
		cur, err := s.cache.GetSnapshot(id)
		if err != nil {
			return fmt.Errorf("node %s: %w", id, err)
		}
		prev, ok := cur.(*cachev3.Snapshot)
		if !ok {
			return fmt.Errorf("node %s: unexpected snapshot type %T", id, cur)
		}
		secrets, err := s.secrets.Secrets(r.Secrets)
		if err != nil {
			return fmt.Errorf("node %s: %w", id, err)
		}
		items := resources(secrets)
		v, err := contentVersion(items)
		if err != nil {
			return err
		}
		next := &cachev3.Snapshot{Resources: prev.Resources}
		next.Resources[types.Secret] = cachev3.NewResources(v, items)
		snaps[id] = next
	}
	return s.apply(ctx, s.resources, snaps)
}

// Versions returns the versions currently published for a node, by short
// type name.
func (s *Server) Versions(nodeID string) map[string]string {
	snap, err := s.cache.GetSnapshot(nodeID)
	if err != nil {
		return nil
	}
	out := map[string]string{}
	urls := []string{typeListener, typeRoute, typeCluster, typeEndpoint}
	s.mu.Lock()
	if s.secrets != nil {
		urls = append(urls, typeSecret)
	}
	s.mu.Unlock()
	for _, url := range urls {
		out[TypeName(url)] = snap.GetVersion(url)
	}
	return out
}

// Status returns what a node has connected, ACKed and NACKed.
func (s *Server) Status(nodeID string) NodeStatus { return s.status.get(nodeID) }

// Serve registers ADS and the per-type discovery services on a gRPC server
// and serves lis until ctx ends.
func (s *Server) Serve(ctx context.Context, lis net.Listener, opts ...grpc.ServerOption) error {
	opts = append([]grpc.ServerOption{
		// Sidecars hold one long stream each; keepalives find dead ones.
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 15 * time.Second, PermitWithoutStream: true}),
		grpc.MaxConcurrentStreams(1 << 20),
	}, opts...)
	if s.auth != nil {
		opts = append(opts, grpc.ChainStreamInterceptor(s.auth.streamInterceptor))
	}
	gs := grpc.NewServer(opts...)
	for _, register := range s.extra {
		register(gs)
	}
	xs := serverv3.NewServer(ctx, s.cache, s.status)
	discovery.RegisterAggregatedDiscoveryServiceServer(gs, xs)
	listenerservice.RegisterListenerDiscoveryServiceServer(gs, xs)
	routeservice.RegisterRouteDiscoveryServiceServer(gs, xs)
	clusterservice.RegisterClusterDiscoveryServiceServer(gs, xs)
	endpointservice.RegisterEndpointDiscoveryServiceServer(gs, xs)
	secretservice.RegisterSecretDiscoveryServiceServer(gs, xs)

	errc := make(chan error, 1)
	go func() { errc <- gs.Serve(lis) }()
	select {
	case <-ctx.Done():
		stopped := make(chan struct{})
		go func() { gs.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(5 * time.Second):
			gs.Stop()
		}
		return nil
	case err := <-errc:
		if errors.Is(err, grpc.ErrServerStopped) {
			return nil
		}
		return fmt.Errorf("xds server: %w", err)
	}
}

// slogAdapter routes go-control-plane's logger into slog at debug level;
// its messages are per-watch and too chatty for info.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Debugf(f string, args ...any) { a.l.Debug(fmt.Sprintf(f, args...)) }
func (a slogAdapter) Infof(f string, args ...any)  { a.l.Debug(fmt.Sprintf(f, args...)) }
func (a slogAdapter) Warnf(f string, args ...any)  { a.l.Warn(fmt.Sprintf(f, args...)) }
func (a slogAdapter) Errorf(f string, args ...any) { a.l.Error(fmt.Sprintf(f, args...)) }

func nodeID(n *core.Node) string { return n.GetId() }

// SetAckHook registers fn to be told of every ACK; tests and benchmarks
// use it to wait for propagation.
func (s *Server) SetAckHook(fn func(node, typeURL, version string)) {
	s.status.mu.Lock()
	defer s.status.mu.Unlock()
	s.status.onAck = fn
}

// Register adds another gRPC service to the xDS port (the identity
// service shares its TLS listener). Call before Serve.
func (s *Server) Register(fn func(grpc.ServiceRegistrar)) { s.extra = append(s.extra, fn) }

// Published returns the resources each node was last served, by node id,
// for whoever must examine the live config (the compliance report). The
// resources are shared with the cache: callers must not modify them.
func (s *Server) Published() map[string]*translate.Resources {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.resources)
}
