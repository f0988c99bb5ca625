// Package ca is the control plane's built-in SPIFFE certificate authority:
// a self-signed root, an intermediate that signs X.509-SVIDs, and the trust
// bundle workloads verify them against. Time and randomness are injected so
// expiry and rotation are testable without waiting.
package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // RFC 5280 §4.2.1.2 key identifiers, not a security use
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/url"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// Defaults follow istiod and SPIRE: SVIDs live an hour, intermediates a
// day, roots a year.
const (
	DefaultSVIDTTL         = time.Hour
	DefaultIntermediateTTL = 24 * time.Hour
	DefaultRootTTL         = 365 * 24 * time.Hour
)

// Errors a caller can tell apart.
var (
	ErrWrongTrustDomain = errors.New("SPIFFE id is not in the CA's trust domain")
	ErrNoPath           = errors.New("SPIFFE id has no path: a workload id names a workload, not the trust domain")
	ErrBadCSR           = errors.New("certificate request is invalid")
)

// Options configure a CA. Zero values take the defaults.
type Options struct {
	SVIDTTL         time.Duration
	IntermediateTTL time.Duration
	RootTTL         time.Duration
	Now             func() time.Time
	Rand            io.Reader
}

func (o Options) withDefaults() Options {
	if o.SVIDTTL <= 0 {
		o.SVIDTTL = DefaultSVIDTTL
	}
	if o.IntermediateTTL <= 0 {
		o.IntermediateTTL = DefaultIntermediateTTL
	}
	if o.RootTTL <= 0 {
		o.RootTTL = DefaultRootTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	return o
}

// keyPair is a CA certificate and its signing key.
type keyPair struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// root is a trusted root. The active one has neither time set; a pending
// one is in the bundle but signs nothing until ActivateAt; a retired one
// stays in the bundle until TrustUntil.
type root struct {
	keyPair
	ActivateAt time.Time
	Overlap    time.Duration // how long the root it replaces stays trusted
	TrustUntil time.Time
}

// CA issues X.509-SVIDs for one trust domain. It is safe for concurrent use.
type CA struct {
	td   spiffeid.TrustDomain
	opts Options

	mu    sync.RWMutex
	roots []root // roots[0] is active
	inter keyPair
}

// New creates a CA with a fresh root and intermediate.
func New(td spiffeid.TrustDomain, opts Options) (*CA, error) {
	if td.IsZero() {
		return nil, errors.New("ca: trust domain is empty")
	}
	c := &CA{td: td, opts: opts.withDefaults()}
	r, err := c.newRoot()
	if err != nil {
		return nil, err
	}
	c.roots = []root{{keyPair: r}}
	if c.inter, err = c.newIntermediate(r); err != nil {
		return nil, err
	}
	return c, nil
}

// TrustDomain is the trust domain the CA signs for.
func (c *CA) TrustDomain() spiffeid.TrustDomain { return c.td }

// SVIDTTL is how long issued SVIDs live.
func (c *CA) SVIDTTL() time.Duration { return c.opts.SVIDTTL }

// Bundle returns the trust bundle: every root still trusted, active first.
func (c *CA) Bundle() *x509bundle.Bundle {
	c.mu.RLock()
	defer c.mu.RUnlock()
	now := c.opts.Now()
	b := x509bundle.New(c.td)
	for _, r := range c.roots {
		if r.TrustUntil.IsZero() || now.Before(r.TrustUntil) {
			b.AddX509Authority(r.Cert)
		}
	}
	return b
}

// PrepareRootRotation adds a new root to the bundle at once and makes it
// the signing root at activateAt. The gap lets every peer learn the new
// root before it meets an SVID that chains to it; the old root then stays
// trusted for overlap after activation, so SVIDs it signed keep verifying
// until they are renewed. overlap should be at least the SVID lifetime.
func (c *CA) PrepareRootRotation(activateAt time.Time, overlap time.Duration) error {
	r, err := c.newRoot()
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, old := range c.roots {
		if !old.ActivateAt.IsZero() {
			return errors.New("ca: a root rotation is already pending")
		}
	}
	c.roots = append(c.roots, root{keyPair: r, ActivateAt: activateAt, Overlap: overlap})
	return nil
}

// RotateRoot prepares a rotation that activates now.
func (c *CA) RotateRoot(overlap time.Duration) error {
	if err := c.PrepareRootRotation(c.opts.Now(), overlap); err != nil {
		return err
	}
	_, err := c.Tick()
	return err
}

// Tick activates a pending root whose time has come and drops retired
// roots past their overlap. It reports whether the bundle or the signing
// chain changed, so the caller can push the news.
func (c *CA) Tick() (changed bool, err error) {
	now := c.opts.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	pending := -1
	for i, r := range c.roots {
		if !r.ActivateAt.IsZero() && !now.Before(r.ActivateAt) {
			pending = i
		}
	}
	if pending >= 0 {
		next := c.roots[pending]
		inter, err := c.newIntermediate(next.keyPair)
		if err != nil {
			return false, err
		}
		kept := []root{{keyPair: next.keyPair}}
		for i, old := range c.roots {
			if i == pending {
				continue
			}
			if old.TrustUntil.IsZero() && old.ActivateAt.IsZero() {
				old.TrustUntil = now.Add(next.Overlap)
			}
			kept = append(kept, old)
		}
		c.roots, c.inter, changed = kept, inter, true
	}
	kept := c.roots[:0]
	for _, r := range c.roots {
		if !r.TrustUntil.IsZero() && !now.Before(r.TrustUntil) {
			changed = true
			continue
		}
		kept = append(kept, r)
	}
	c.roots = kept
	return changed, nil
}

// RootRotationPending reports whether a new root waits to be activated.
func (c *CA) RootRotationPending() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, r := range c.roots {
		if !r.ActivateAt.IsZero() {
			return true
		}
	}
	return false
}

// NewX509SVID generates a key and issues an SVID for id. The control plane
// uses it for Envoy sidecars, whose keys travel over SDS.
func (c *CA) NewX509SVID(id spiffeid.ID) (*x509svid.SVID, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), c.opts.Rand)
	if err != nil {
		return nil, fmt.Errorf("ca: generate key: %w", err)
	}
	chain, err := c.SignX509SVID(id, key.Public())
	if err != nil {
		return nil, err
	}
	return &x509svid.SVID{ID: id, Certificates: chain, PrivateKey: key}, nil
}

// SignCSR issues an SVID for id to the key in a PKCS#10 request; the
// request's own names are ignored, only its key and signature count.
func (c *CA) SignCSR(id spiffeid.ID, csrDER []byte) ([]*x509.Certificate, error) {
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCSR, err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: signature: %v", ErrBadCSR, err)
	}
	return c.SignX509SVID(id, csr.PublicKey)
}

// SignX509SVID issues an SVID for id to pub and returns the chain, leaf
// first, then the intermediate (the root is in the bundle, not the chain).
func (c *CA) SignX509SVID(id spiffeid.ID, pub crypto.PublicKey) ([]*x509.Certificate, error) {
	if id.TrustDomain() != c.td {
		return nil, fmt.Errorf("%w: %s is not in %s", ErrWrongTrustDomain, id, c.td)
	}
	if id.Path() == "" {
		return nil, fmt.Errorf("%w: %s", ErrNoPath, id)
	}
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return nil, fmt.Errorf("%w: ECDSA curve %s is not allowed (P-256 or P-384)", ErrBadCSR, k.Curve.Params().Name)
		}
	default:
		return nil, fmt.Errorf("%w: key type %T is not allowed (ECDSA P-256 or P-384)", ErrBadCSR, pub)
	}
	if _, err := c.Tick(); err != nil {
		return nil, err
	}
	if err := c.rotateIntermediateIfDue(); err != nil {
		return nil, err
	}
	c.mu.RLock()
	inter := c.inter
	c.mu.RUnlock()

	now := c.opts.Now()
	notAfter := now.Add(c.opts.SVIDTTL)
	if notAfter.After(inter.Cert.NotAfter) {
		notAfter = inter.Cert.NotAfter
	}
	serial, skid, err := c.identifiers(pub)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: []string{"SecureAI Nexus"}},
		// Back-dated a little so a peer whose clock lags still accepts it,
		// but never so much that half the lifetime (when holders renew)
		// has passed at issuance.
		NotBefore:             now.Add(-min(clockSkew, c.opts.SVIDTTL/10)),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageKeyAgreement,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		URIs:                  []*url.URL{id.URL()},
		SubjectKeyId:          skid,
	}
	der, err := x509.CreateCertificate(c.opts.Rand, tmpl, inter.Cert, pub, inter.Key)
	if err != nil {
		return nil, fmt.Errorf("ca: sign SVID for %s: %w", id, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("ca: parse SVID: %w", err)
	}
	return []*x509.Certificate{leaf, inter.Cert}, nil
}

// clockSkew is how far issued certificates are back-dated.
const clockSkew = time.Minute

// rotateIntermediateIfDue replaces the intermediate at half its life, so
// SVIDs signed late in its life never outlive it.
func (c *CA) rotateIntermediateIfDue() error {
	c.mu.RLock()
	inter, active := c.inter, c.roots[0]
	c.mu.RUnlock()
	half := inter.Cert.NotBefore.Add(inter.Cert.NotAfter.Sub(inter.Cert.NotBefore) / 2)
	if c.opts.Now().Before(half) {
		return nil
	}
	next, err := c.newIntermediate(active.keyPair)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inter.Cert == inter.Cert {
		c.inter = next
	}
	return nil
}

func (c *CA) newRoot() (keyPair, error) {
	now := c.opts.Now()
	return c.newCA("root", now.Add(c.opts.RootTTL), nil)
}

func (c *CA) newIntermediate(parent keyPair) (keyPair, error) {
	notAfter := c.opts.Now().Add(c.opts.IntermediateTTL)
	if notAfter.After(parent.Cert.NotAfter) {
		notAfter = parent.Cert.NotAfter
	}
	return c.newCA("intermediate", notAfter, &parent)
}

// newCA makes a signing key and its CA certificate, signed by parent or,
// without one, by itself (a root). An intermediate may sign only leaves.
func (c *CA) newCA(role string, notAfter time.Time, parent *keyPair) (keyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), c.opts.Rand)
	if err != nil {
		return keyPair{}, fmt.Errorf("ca: generate %s key: %w", role, err)
	}
	tmpl, err := c.caTemplate(key.Public(), c.opts.Now(), notAfter, role)
	if err != nil {
		return keyPair{}, err
	}
	issuer, signer := tmpl, key
	if parent != nil {
		tmpl.MaxPathLenZero = true
		issuer, signer = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(c.opts.Rand, tmpl, issuer, key.Public(), signer)
	if err != nil {
		return keyPair{}, fmt.Errorf("ca: sign %s: %w", role, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return keyPair{}, fmt.Errorf("ca: parse %s: %w", role, err)
	}
	return keyPair{Cert: cert, Key: key}, nil
}

func (c *CA) caTemplate(pub crypto.PublicKey, notBefore, notAfter time.Time, role string) (*x509.Certificate, error) {
	serial, skid, err := c.identifiers(pub)
	if err != nil {
		return nil, err
	}
	return &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"SecureAI Nexus"}, CommonName: "SecureAI Nexus " + role + " CA " + c.td.Name()},
		NotBefore:             notBefore.Add(-clockSkew),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		URIs:                  []*url.URL{c.td.ID().URL()},
		SubjectKeyId:          skid,
	}, nil
}

// identifiers are what every certificate the CA makes needs: a random
// 128-bit serial number and the subject key id of pub.
func (c *CA) identifiers(pub crypto.PublicKey) (serial *big.Int, skid []byte, err error) {
	n, err := rand.Int(c.opts.Rand, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, nil, fmt.Errorf("ca: serial number: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, nil, fmt.Errorf("ca: marshal public key: %w", err)
	}
	sum := sha1.Sum(der) //nolint:gosec // key identifier only
	return n.Add(n, big.NewInt(1)), sum[:], nil
}
