package identity_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/secureai-nexus/nexus/controlplane/internal/ca"
)

// BenchmarkECDSASignP256 is the baseline for issuance: one raw P-256
// signature, which is the floor of what signing a certificate costs.
func BenchmarkECDSASignP256(b *testing.B) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	digest := sha256.Sum256([]byte("tbs certificate"))
	for b.Loop() {
		if _, err := ecdsa.SignASN1(rand.Reader, key, digest[:]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "signatures/s")
}

// BenchmarkSignCSR is a workload's renewal as the CA sees it: check the
// CSR's signature, then build and sign the SVID.
func BenchmarkSignCSR(b *testing.B) {
	c, err := ca.New(td, ca.Options{})
	if err != nil {
		b.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr, _ := x509CSR(key)
	for b.Loop() {
		if _, err := c.SignCSR(clientID, csr); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "svids/s")
}

type pair struct {
	server, client *tls.Config
}

func mtlsPair(b *testing.B) pair {
	b.Helper()
	c, err := ca.New(td, ca.Options{})
	if err != nil {
		b.Fatal(err)
	}
	srv, _ := c.NewX509SVID(serverID)
	cli, _ := c.NewX509SVID(clientID)
	bundle := c.Bundle()
	return pair{
		server: tlsconfig.MTLSServerConfig(fixedSVID{srv}, bundle, tlsconfig.AuthorizeID(clientID)),
		client: tlsconfig.MTLSClientConfig(fixedSVID{cli}, bundle, tlsconfig.AuthorizeID(serverID)),
	}
}

type fixedSVID struct{ s *x509svid.SVID }

func (f fixedSVID) GetX509SVID() (*x509svid.SVID, error) { return f.s, nil }

// echoServer serves 1 KiB echoes, over mTLS when cfg is set.
func echoServer(b *testing.B, cfg *tls.Config) string {
	b.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { lis.Close() })
	go func() {
		for {
			conn, err := lis.Accept()
			if err != nil {
				return
			}
			if cfg != nil {
				conn = tls.Server(conn, cfg)
			}
			go func() {
				defer conn.Close()
				buf := make([]byte, 1024)
				for {
					if _, err := io.ReadFull(conn, buf); err != nil {
						return
					}
					if _, err := conn.Write(buf); err != nil {
						return
					}
				}
			}()
		}
	}()
	return lis.Addr().String()
}

// BenchmarkHandshake: full ECDSA P-256 mTLS handshakes with SPIFFE id
// checks on both sides, one new connection per operation.
func BenchmarkHandshake(b *testing.B) {
	p := mtlsPair(b)
	addr := echoServer(b, p.server)
	for b.Loop() {
		raw, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		conn := tls.Client(raw, p.client)
		if err := conn.Handshake(); err != nil {
			b.Fatal(err)
		}
		conn.Close()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
}

// BenchmarkEcho1KiB measures request latency percentiles of a 1 KiB echo
// on a warm connection, plain TCP and mTLS, in the same run so their
// difference is what mTLS adds.
func BenchmarkEcho1KiB(b *testing.B) {
	p := mtlsPair(b)
	for _, tc := range []struct {
		name        string
		server, cli *tls.Config
	}{{"tcp", nil, nil}, {"mtls", p.server, p.client}} {
		b.Run(tc.name, func(b *testing.B) {
			addr := echoServer(b, tc.server)
			var conn net.Conn
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			if tc.cli != nil {
				conn = tls.Client(conn, tc.cli)
			}
			defer conn.Close()
			msg := bytes.Repeat([]byte("a"), 1024)
			got := make([]byte, 1024)
			lat := make([]time.Duration, 0, 1<<16)
			for b.Loop() {
				t0 := time.Now()
				if _, err := conn.Write(msg); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(conn, got); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}

func x509CSR(key *ecdsa.PrivateKey) ([]byte, error) {
	return x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
}
