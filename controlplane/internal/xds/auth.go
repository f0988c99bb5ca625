package xds

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	metricsv3 "github.com/envoyproxy/go-control-plane/envoy/service/metrics/v3"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/secureai-nexus/nexus/controlplane/internal/mesh"
)

// NodeAuth binds every xDS stream to one mesh node. A sidecar proves who
// it is with its SVID over mTLS, or, before it holds one (Envoy's xDS
// cluster is static and cannot wait on SDS from the very stream it
// carries), with its node credential as a bearer token. Either way the
// stream is then served only the node it proved.
type NodeAuth struct {
	log *slog.Logger

	mu     sync.RWMutex
	tokens map[[32]byte]string // sha256(token) → node id
	byID   map[string][]string // SPIFFE id → node ids
}

// EnableAuth turns on stream authentication with the node credentials
// given (node id → bearer token). Call before Serve.
func (s *Server) EnableAuth(tokens map[string]string) *NodeAuth {
	a := &NodeAuth{log: s.log, tokens: map[[32]byte]string{}, byID: map[string][]string{}}
	for node, tok := range tokens {
		a.tokens[sha256.Sum256([]byte(tok))] = node
	}
	s.auth = a
	return a
}

// SetTokens replaces the node credentials (a node added to the mesh gets
// one without a restart).
func (a *NodeAuth) SetTokens(tokens map[string]string) {
	m := make(map[[32]byte]string, len(tokens))
	for node, tok := range tokens {
		m[sha256.Sum256([]byte(tok))] = node
	}
	a.mu.Lock()
	a.tokens = m
	a.mu.Unlock()
}

func (a *NodeAuth) setNodes(nodes []mesh.Node) {
	byID := map[string][]string{}
	for _, n := range nodes {
		byID[n.SPIFFEID] = append(byID[n.SPIFFEID], n.ID)
	}
	a.mu.Lock()
	a.byID = byID
	a.mu.Unlock()
}

// principal is who a stream proved to be and which nodes it may be.
type principal struct {
	who   string
	nodes []string
}

func (a *NodeAuth) authenticate(ctx context.Context) (principal, error) {
	if p, ok := peer.FromContext(ctx); ok {
		if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.PeerCertificates) > 0 {
			// The handshake verified the chain; the id decides the node.
			id, err := x509svid.IDFromCert(ti.State.PeerCertificates[0])
			if err != nil {
				return principal{}, status.Errorf(codes.Unauthenticated, "client certificate is not an X.509-SVID: %v", err)
			}
			a.mu.RLock()
			nodes := a.byID[id.String()]
			a.mu.RUnlock()
			if len(nodes) == 0 {
				return principal{}, status.Errorf(codes.PermissionDenied, "%s is not the identity of any node in the mesh", id)
			}
			return principal{who: id.String(), nodes: nodes}, nil
		}
	}
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get("authorization") {
		tok, ok := strings.CutPrefix(v, "Bearer ")
		if !ok {
			continue
		}
		sum := sha256.Sum256([]byte(tok))
		a.mu.RLock()
		node, found := "", false
		for h, n := range a.tokens {
			// Every stored hash is compared, so timing says nothing about
			// which one (if any) matched.
			if subtle.ConstantTimeCompare(h[:], sum[:]) == 1 {
				node, found = n, true
			}
		}
		a.mu.RUnlock()
		if found {
			return principal{who: "node-credential:" + node, nodes: []string{node}}, nil
		}
		return principal{}, status.Error(codes.Unauthenticated, "node credential is not valid")
	}
	return principal{}, status.Error(codes.Unauthenticated, "no client SVID and no node credential: xDS requires one")
}

func (a *NodeAuth) streamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if !strings.HasPrefix(info.FullMethod, "/envoy.service.") {
		return handler(srv, ss)
	}
	p, err := a.authenticate(ss.Context())
	if err != nil {
		a.log.Warn("xDS stream refused", "method", info.FullMethod, "peer", peerAddr(ss.Context()), "reason", status.Convert(err).Message())
		return err
	}
	bs := &boundStream{ServerStream: ss, log: a.log, p: p}
	err = handler(srv, bs)
	if refused := bs.refusal(); refused != nil {
		// go-control-plane wraps receive errors; the client must see why.
		return refused
	}
	return err
}

// boundStream refuses any request for a node the stream did not prove.
type boundStream struct {
	grpc.ServerStream
	log   *slog.Logger
	p     principal
	bound string // touched by the receiving goroutine only

	// go-control-plane receives on its own goroutine, which may still be
	// running when the handler returns.
	mu      sync.Mutex
	refused error
}

func (b *boundStream) RecvMsg(m any) error {
	if err := b.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if err := b.check(m); err != nil {
		b.mu.Lock()
		b.refused = err
		b.mu.Unlock()
		return err
	}
	return nil
}

func (b *boundStream) refusal() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.refused
}

func (b *boundStream) check(m any) error {
	var id string
	switch r := m.(type) {
	case *discovery.DiscoveryRequest:
		id = r.GetNode().GetId()
	case *discovery.DeltaDiscoveryRequest:
		id = r.GetNode().GetId()
	case *metricsv3.StreamMetricsMessage:
		// Envoy's stats stream names its node in the first message only.
		id = r.GetIdentifier().GetNode().GetId()
	default:
		return status.Errorf(codes.InvalidArgument, "unexpected message %T", m)
	}
	if id == "" {
		if b.bound == "" {
			return status.Error(codes.InvalidArgument, "the first request on an xDS stream must carry the node")
		}
		return nil
	}
	if b.bound != "" {
		if id != b.bound {
			b.log.Warn("xDS stream switched node; closed", "principal", b.p.who, "bound", b.bound, "claimed", id)
			return status.Errorf(codes.PermissionDenied, "stream is bound to node %q", b.bound)
		}
		return nil
	}
	for _, n := range b.p.nodes {
		if n == id {
			b.bound = id
			return nil
		}
	}
	b.log.Warn("xDS request for another node refused", "principal", b.p.who, "claimed", id, "peer", peerAddr(b.Context()))
	return status.Errorf(codes.PermissionDenied, "%s may not receive the resources of node %q", b.p.who, id)
}

func peerAddr(ctx context.Context) string {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return p.Addr.String()
	}
	return ""
}

// ServerTLS is the xDS listener's TLS: the control plane's own SVID, and
// a client certificate verified against the bundle when one is offered
// (a sidecar without an SVID yet authenticates with its node credential).
func ServerTLS(svid x509svid.Source, bundle x509bundle.Source, td spiffeid.TrustDomain) *tls.Config {
	verify := tlsconfig.VerifyPeerCertificate(bundle, tlsconfig.AuthorizeMemberOf(td))
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		ClientAuth:     tls.RequestClientCert,
		GetCertificate: tlsconfig.GetCertificate(svid),
		VerifyPeerCertificate: func(raw [][]byte, chains [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return nil
			}
			if err := verify(raw, chains); err != nil {
				return fmt.Errorf("client SVID refused: %w", err)
			}
			return nil
		},
	}
}
