package ca

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// clock is a settable time source for expiry and rotation.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var (
	td       = spiffeid.RequireTrustDomainFromString("nexus.local")
	workload = spiffeid.RequireFromString("spiffe://nexus.local/ns/clinic/sa/frontdesk")
	start    = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
)

func newCA(t *testing.T, opts Options) (*CA, *clock) {
	t.Helper()
	clk := &clock{t: start}
	opts.Now = clk.Now
	c, err := New(td, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c, clk
}

func TestSVIDContents(t *testing.T) {
	c, _ := newCA(t, Options{SVIDTTL: 30 * time.Minute})
	svid, err := c.NewX509SVID(workload)
	if err != nil {
		t.Fatal(err)
	}
	leaf := svid.Certificates[0]
	tests := []struct {
		name string
		ok   bool
	}{
		{"exactly one URI SAN, the workload id", len(leaf.URIs) == 1 && leaf.URIs[0].String() == workload.String()},
		{"no DNS, IP or email SANs", len(leaf.DNSNames)+len(leaf.IPAddresses)+len(leaf.EmailAddresses) == 0},
		{"not a CA", leaf.BasicConstraintsValid && !leaf.IsCA},
		{"digital signature", leaf.KeyUsage&x509.KeyUsageDigitalSignature != 0},
		{"cannot sign certificates or CRLs", leaf.KeyUsage&(x509.KeyUsageCertSign|x509.KeyUsageCRLSign) == 0},
		{"server and client auth", len(leaf.ExtKeyUsage) == 2 && leaf.ExtKeyUsage[0] == x509.ExtKeyUsageServerAuth && leaf.ExtKeyUsage[1] == x509.ExtKeyUsageClientAuth},
		{"ECDSA P-256 key", func() bool { k, ok := leaf.PublicKey.(*ecdsa.PublicKey); return ok && k.Curve == elliptic.P256() }()},
		{"lives the configured TTL", leaf.NotAfter.Equal(start.Add(30 * time.Minute))},
		{"back-dated for clock skew only", leaf.NotBefore.Equal(start.Add(-clockSkew))},
		{"chain is leaf then intermediate", len(svid.Certificates) == 2 && svid.Certificates[1].IsCA},
		{"intermediate cannot sign CAs", svid.Certificates[1].MaxPathLenZero},
		{"intermediate names the trust domain", svid.Certificates[1].URIs[0].String() == "spiffe://nexus.local"},
		{"subject key id set", len(leaf.SubjectKeyId) == 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.ok {
				t.Errorf("SVID fails: %s", tt.name)
			}
		})
	}
	id, chains, err := x509svid.Verify(svid.Certificates, c.Bundle(), x509svid.WithTime(start))
	if err != nil {
		t.Fatalf("SVID does not verify against the bundle: %v", err)
	}
	if id != workload || len(chains) != 1 || len(chains[0]) != 3 {
		t.Errorf("verified id %s with %d chains", id, len(chains))
	}
	// go-spiffe's own parser accepts the SVID and its key.
	certPEM, keyPEM, err := svid.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x509svid.Parse(certPEM, keyPEM); err != nil {
		t.Errorf("go-spiffe refuses the SVID: %v", err)
	}
}

func TestIssueRefusals(t *testing.T) {
	c, _ := newCA(t, Options{})
	rsaLike, _, _ := ed25519.GenerateKey(rand.Reader)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tests := []struct {
		name string
		id   spiffeid.ID
		pub  any
		want error
	}{
		{"wrong trust domain", spiffeid.RequireFromString("spiffe://evil.example/ns/x"), p256.Public(), ErrWrongTrustDomain},
		{"trust domain id itself", td.ID(), p256.Public(), ErrNoPath},
		{"Ed25519 key", workload, rsaLike, ErrBadCSR},
		{"P-224 key", workload, p224.Public(), ErrBadCSR},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.SignX509SVID(tt.id, tt.pub)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSignCSR(t *testing.T) {
	c, _ := newCA(t, Options{})
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	// The CSR claims another identity; only the key counts.
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: []string{"evil.example"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := c.SignCSR(workload, csr)
	if err != nil {
		t.Fatal(err)
	}
	if len(chain[0].DNSNames) != 0 || chain[0].URIs[0].String() != workload.String() {
		t.Errorf("SVID took names from the CSR: %v %v", chain[0].DNSNames, chain[0].URIs)
	}
	if !key.PublicKey.Equal(chain[0].PublicKey) {
		t.Error("SVID is not for the CSR's key")
	}
	csr[len(csr)-1] ^= 0xff
	if _, err := c.SignCSR(workload, csr); !errors.Is(err, ErrBadCSR) {
		t.Errorf("tampered CSR: err = %v, want ErrBadCSR", err)
	}
	if _, err := c.SignCSR(workload, []byte("not a csr")); !errors.Is(err, ErrBadCSR) {
		t.Errorf("garbage CSR: err = %v, want ErrBadCSR", err)
	}
}

func TestExpiry(t *testing.T) {
	c, clk := newCA(t, Options{SVIDTTL: time.Hour})
	svid, err := c.NewX509SVID(workload)
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(59 * time.Minute)
	if _, _, err := x509svid.Verify(svid.Certificates, c.Bundle(), x509svid.WithTime(clk.Now())); err != nil {
		t.Fatalf("SVID should still verify: %v", err)
	}
	clk.Add(2 * time.Minute)
	_, _, err = x509svid.Verify(svid.Certificates, c.Bundle(), x509svid.WithTime(clk.Now()))
	if err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired SVID: err = %v, want an expiry error", err)
	}
}

func TestRootRotationOverlap(t *testing.T) {
	c, clk := newCA(t, Options{SVIDTTL: time.Hour})
	old, err := c.NewX509SVID(workload)
	if err != nil {
		t.Fatal(err)
	}
	oldRoot := c.Bundle().X509Authorities()[0]
	if err := c.RotateRoot(2 * time.Hour); err != nil {
		t.Fatal(err)
	}
	fresh, err := c.NewX509SVID(workload)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(c.Bundle().X509Authorities()); got != 2 {
		t.Fatalf("bundle during overlap has %d roots, want 2", got)
	}
	if c.Bundle().X509Authorities()[0].Equal(oldRoot) {
		t.Error("the new root should come first in the bundle")
	}
	for name, s := range map[string]*x509svid.SVID{"old": old, "new": fresh} {
		if _, _, err := x509svid.Verify(s.Certificates, c.Bundle(), x509svid.WithTime(clk.Now())); err != nil {
			t.Errorf("%s SVID during overlap: %v", name, err)
		}
	}
	if fresh.Certificates[1].CheckSignatureFrom(oldRoot) == nil {
		t.Error("new SVID chains to the old root")
	}
	clk.Add(2*time.Hour + time.Second)
	if got := len(c.Bundle().X509Authorities()); got != 1 {
		t.Fatalf("bundle after overlap has %d roots, want 1", got)
	}
	renewed, err := c.NewX509SVID(workload)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := x509svid.Verify(renewed.Certificates, c.Bundle(), x509svid.WithTime(clk.Now())); err != nil {
		t.Errorf("SVID after overlap: %v", err)
	}
	_, _, err = x509svid.Verify(old.Certificates, c.Bundle(), x509svid.WithTime(clk.Now().Add(-2*time.Hour)))
	if err == nil {
		t.Error("an SVID of the retired root still verifies after the overlap")
	}
}

func TestIntermediateRotatesAtHalfLife(t *testing.T) {
	c, clk := newCA(t, Options{SVIDTTL: time.Hour, IntermediateTTL: 10 * time.Hour})
	first, _ := c.NewX509SVID(workload)
	clk.Add(5*time.Hour + time.Minute)
	second, _ := c.NewX509SVID(workload)
	if first.Certificates[1].Equal(second.Certificates[1]) {
		t.Fatal("intermediate not rotated past half its life")
	}
	if _, _, err := x509svid.Verify(second.Certificates, c.Bundle(), x509svid.WithTime(clk.Now())); err != nil {
		t.Fatal(err)
	}
	// An SVID never outlives the intermediate that signed it.
	c2, clk2 := newCA(t, Options{SVIDTTL: 8 * time.Hour, IntermediateTTL: 10 * time.Hour})
	clk2.Add(4 * time.Hour)
	s, _ := c2.NewX509SVID(workload)
	if s.Certificates[0].NotAfter.After(s.Certificates[1].NotAfter) {
		t.Errorf("SVID ends %s after its intermediate %s", s.Certificates[0].NotAfter, s.Certificates[1].NotAfter)
	}
}

func TestSealedStateRoundTrip(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	kek := FileKEK{Path: filepath.Join(dir, "kek")}
	path := filepath.Join(dir, "ca.sealed")
	c, created, err := LoadOrCreate(ctx, path, kek, td, Options{})
	if err != nil || !created {
		t.Fatalf("create: %v created=%v", err, created)
	}
	if err := c.RotateRoot(time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := Save(ctx, c, path, kek); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{path, kek.Path} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", f, st.Mode().Perm())
		}
	}
	raw, _ := os.ReadFile(path)
	state, _ := c.MarshalState()
	if strings.Contains(string(raw), "PRIVATE") || strings.Contains(string(raw), string(state[20:60])) {
		t.Fatal("sealed file holds the state in the clear")
	}
	back, created, err := LoadOrCreate(ctx, path, kek, td, Options{})
	if err != nil || created {
		t.Fatalf("reload: %v created=%v", err, created)
	}
	if got, want := len(back.Bundle().X509Authorities()), 2; got != want {
		t.Errorf("reloaded bundle has %d roots, want %d", got, want)
	}
	s, err := back.NewX509SVID(workload)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := x509svid.Verify(s.Certificates, c.Bundle()); err != nil {
		t.Errorf("reloaded CA's SVID does not verify against the original bundle: %v", err)
	}

	t.Run("wrong key", func(t *testing.T) {
		other := FileKEK{Path: filepath.Join(t.TempDir(), "kek")}
		if _, _, err := LoadOrCreate(ctx, path, other, td, Options{}); !errors.Is(err, ErrUnseal) {
			t.Errorf("err = %v, want ErrUnseal", err)
		}
	})
	t.Run("other trust domain", func(t *testing.T) {
		_, _, err := LoadOrCreate(ctx, path, kek, spiffeid.RequireTrustDomainFromString("other.example"), Options{})
		if !errors.Is(err, ErrUnseal) {
			t.Errorf("err = %v, want ErrUnseal (the trust domain is bound into the ciphertext)", err)
		}
	})
	t.Run("altered file", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "ca.sealed")
		raw[len(raw)-3] ^= 1
		if err := os.WriteFile(bad, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, _, err := LoadOrCreate(ctx, bad, kek, td, Options{}); !errors.Is(err, ErrUnseal) {
			t.Errorf("err = %v, want ErrUnseal", err)
		}
	})
	t.Run("key file readable by others", func(t *testing.T) {
		loose := filepath.Join(t.TempDir(), "kek")
		if err := os.WriteFile(loose, make([]byte, 32), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := FileKEK{Path: loose}.Key(ctx)
		if err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("err = %v, want a refusal naming chmod 600", err)
		}
	})
	t.Run("short key file", func(t *testing.T) {
		short := filepath.Join(t.TempDir(), "kek")
		if err := os.WriteFile(short, make([]byte, 16), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := (FileKEK{Path: short}).Key(ctx); err == nil || !strings.Contains(err.Error(), "want 32") {
			t.Errorf("err = %v", err)
		}
	})
}

func BenchmarkIssueSVID(b *testing.B) {
	c, err := New(td, Options{})
	if err != nil {
		b.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.SignX509SVID(workload, key.Public()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "signatures/s")
}

func TestPreparedRootRotation(t *testing.T) {
	c, clk := newCA(t, Options{SVIDTTL: time.Hour})
	oldRoot := c.Bundle().X509Authorities()[0]
	if err := c.PrepareRootRotation(clk.Now().Add(time.Hour), 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := c.PrepareRootRotation(clk.Now().Add(time.Hour), time.Hour); err == nil {
		t.Error("a second pending rotation was accepted")
	}
	if !c.RootRotationPending() || len(c.Bundle().X509Authorities()) != 2 {
		t.Fatal("prepared root is not in the bundle")
	}
	before, _ := c.NewX509SVID(workload)
	if before.Certificates[1].CheckSignatureFrom(oldRoot) != nil {
		t.Fatal("the prepared root signs before its activation time")
	}
	clk.Add(time.Hour)
	changed, err := c.Tick()
	if err != nil || !changed {
		t.Fatalf("Tick at activation: changed=%v err=%v", changed, err)
	}
	after, _ := c.NewX509SVID(workload)
	if after.Certificates[1].CheckSignatureFrom(oldRoot) == nil {
		t.Fatal("still signing with the old root after activation")
	}
	for name, s := range map[string]*x509svid.SVID{"before": before, "after": after} {
		if _, _, err := x509svid.Verify(s.Certificates, c.Bundle(), x509svid.WithTime(clk.Now())); err != nil {
			t.Errorf("%s SVID during overlap: %v", name, err)
		}
	}
	clk.Add(2 * time.Hour)
	if changed, _ := c.Tick(); !changed || len(c.Bundle().X509Authorities()) != 1 {
		t.Fatalf("old root not dropped after the overlap: changed=%v roots=%d", changed, len(c.Bundle().X509Authorities()))
	}
	// State survives a restart mid-rotation.
	c2, _ := newCA(t, Options{})
	_ = c2.PrepareRootRotation(start.Add(time.Hour), time.Hour)
	raw, err := c2.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Restore(td, raw, Options{Now: func() time.Time { return start }})
	if err != nil {
		t.Fatal(err)
	}
	if !back.RootRotationPending() {
		t.Error("pending rotation lost across a restart")
	}
}

// FuzzSignCSR feeds arbitrary bytes where a workload's CSR goes: never a
// panic, and anything signed is an SVID for the id asked, never for a name
// from the request.
func FuzzSignCSR(f *testing.F) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: []string{"x"}}, key)
	f.Add(good)
	f.Add([]byte{0x30, 0x82, 0x01})
	f.Add([]byte{})
	c, err := New(td, Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, csr []byte) {
		chain, err := c.SignCSR(workload, csr)
		if err != nil {
			return
		}
		if len(chain[0].URIs) != 1 || chain[0].URIs[0].String() != workload.String() || len(chain[0].DNSNames) != 0 {
			t.Fatalf("signed %v %v", chain[0].URIs, chain[0].DNSNames)
		}
	})
}
