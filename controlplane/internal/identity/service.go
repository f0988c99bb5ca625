package identity

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// The identity service shares the xDS port and its TLS. Its messages are
// protobuf well-known types carrying DER, so it needs no generated code:
//
//	Join(BytesValue CSR) → BytesValue chain     authorization: Bearer <join token>
//	Renew(BytesValue CSR) → BytesValue chain    the caller's current SVID over mTLS
//	Bundle(Empty) → BytesValue roots            any TLS client
//
// Chains and bundles are concatenated DER certificates (x509.ParseCertificates).
const (
	ServiceName  = "nexus.identity.v1.Identity"
	MethodJoin   = "/" + ServiceName + "/Join"
	MethodRenew  = "/" + ServiceName + "/Renew"
	MethodBundle = "/" + ServiceName + "/Bundle"
)

// Service serves the identity API for an Authority.
type Service struct{ A *Authority }

// Register adds the service to a gRPC server.
func (s *Service) Register(r grpc.ServiceRegistrar) {
	r.RegisterService(&grpc.ServiceDesc{
		ServiceName: ServiceName,
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{
			{MethodName: "Join", Handler: unary(MethodJoin, new(wrapperspb.BytesValue), s.join)},
			{MethodName: "Renew", Handler: unary(MethodRenew, new(wrapperspb.BytesValue), s.renew)},
			{MethodName: "Bundle", Handler: unary(MethodBundle, new(emptypb.Empty), s.bundle)},
		},
		Metadata: "nexus/identity/v1",
	}, s)
}

func unary[Req any](method string, _ *Req, fn func(context.Context, *Req) (*wrapperspb.BytesValue, error)) grpc.MethodHandler {
	return func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
		in := new(Req)
		if err := dec(in); err != nil {
			return nil, err
		}
		call := func(ctx context.Context, req any) (any, error) { return fn(ctx, req.(*Req)) }
		if icpt == nil {
			return call(ctx, in)
		}
		return icpt(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: method}, call)
	}
}

func (s *Service) join(ctx context.Context, in *wrapperspb.BytesValue) (*wrapperspb.BytesValue, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	var token string
	for _, v := range md.Get("authorization") {
		if t, ok := strings.CutPrefix(v, "Bearer "); ok {
			token = t
		}
	}
	if token == "" {
		s.A.RefuseJoin(ctx, peerString(ctx), "no join token")
		return nil, status.Error(codes.Unauthenticated, "join needs a join token (authorization: Bearer nxjt_…)")
	}
	chain, err := s.A.Join(ctx, token, in.GetValue(), peerString(ctx))
	if err != nil {
		if errors.Is(err, ErrJoinRefused) {
			return nil, status.Error(codes.PermissionDenied, err.Error())
		}
		return nil, status.Error(codes.Internal, err.Error())
	}
	return wrapperspb.Bytes(der(chain)), nil
}

func (s *Service) renew(ctx context.Context, in *wrapperspb.BytesValue) (*wrapperspb.BytesValue, error) {
	id, err := PeerID(ctx)
	if err != nil {
		s.A.RefuseRenewal(ctx, "", peerString(ctx), status.Convert(err).Message())
		return nil, err
	}
	if id.TrustDomain() != s.A.TrustDomain() {
		s.A.RefuseRenewal(ctx, id.String(), peerString(ctx), "not in trust domain "+s.A.TrustDomain().Name())
		return nil, status.Errorf(codes.PermissionDenied, "%s is not in %s", id, s.A.TrustDomain())
	}
	chain, err := s.A.Renew(id, in.GetValue())
	if err != nil {
		s.A.RefuseRenewal(ctx, id.String(), peerString(ctx), err.Error())
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return wrapperspb.Bytes(der(chain)), nil
}

func (s *Service) bundle(context.Context, *emptypb.Empty) (*wrapperspb.BytesValue, error) {
	return wrapperspb.Bytes(der(s.A.Bundle().X509Authorities())), nil
}

// PeerID is the SPIFFE id of a gRPC peer that presented a verified SVID.
func PeerID(ctx context.Context) (spiffeid.ID, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return spiffeid.ID{}, status.Error(codes.Unauthenticated, "no peer")
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(ti.State.PeerCertificates) == 0 {
		return spiffeid.ID{}, status.Error(codes.Unauthenticated, "renewal needs the current SVID as client certificate")
	}
	id, err := x509svid.IDFromCert(ti.State.PeerCertificates[0])
	if err != nil {
		return spiffeid.ID{}, status.Errorf(codes.Unauthenticated, "client certificate: %v", err)
	}
	return id, nil
}

func peerString(ctx context.Context) string {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return p.Addr.String()
	}
	return "unknown"
}

func der(certs []*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		b.Write(c.Raw)
	}
	return b.Bytes()
}
