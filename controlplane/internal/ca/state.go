package ca

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// stateVersion guards the serialized form; a newer control plane must not
// silently misread an older CA.
const stateVersion = 1

type keyPairState struct {
	Cert []byte `json:"cert"` // DER
	Key  []byte `json:"key"`  // PKCS#8 DER
}

type rootState struct {
	keyPairState
	ActivateAt time.Time     `json:"activateAt,omitzero"`
	Overlap    time.Duration `json:"overlap,omitzero"`
	TrustUntil time.Time     `json:"trustUntil,omitzero"`
}

type state struct {
	Version      int          `json:"version"`
	TrustDomain  string       `json:"trustDomain"`
	Roots        []rootState  `json:"roots"`
	Intermediate keyPairState `json:"intermediate"`
}

// MarshalState serializes the CA's keys and certificates. The result holds
// private keys in the clear: seal it before it touches a disk.
func (c *CA) MarshalState() ([]byte, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	s := state{Version: stateVersion, TrustDomain: c.td.Name()}
	for _, r := range c.roots {
		kp, err := marshalKeyPair(r.keyPair)
		if err != nil {
			return nil, err
		}
		s.Roots = append(s.Roots, rootState{keyPairState: kp, ActivateAt: r.ActivateAt, Overlap: r.Overlap, TrustUntil: r.TrustUntil})
	}
	kp, err := marshalKeyPair(c.inter)
	if err != nil {
		return nil, err
	}
	s.Intermediate = kp
	return json.Marshal(s)
}

// Restore rebuilds a CA from MarshalState's output, checking that it is
// for td and that its chain holds together.
func Restore(td spiffeid.TrustDomain, data []byte, opts Options) (*CA, error) {
	var s state
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("ca state: %w", err)
	}
	if s.Version != stateVersion {
		return nil, fmt.Errorf("ca state: version %d, this control plane reads version %d", s.Version, stateVersion)
	}
	if s.TrustDomain != td.Name() {
		return nil, fmt.Errorf("ca state: it is for trust domain %q, the mesh names %q; a new trust domain needs a new data dir", s.TrustDomain, td.Name())
	}
	if len(s.Roots) == 0 {
		return nil, errors.New("ca state: no root")
	}
	c := &CA{td: td, opts: opts.withDefaults()}
	for i, rs := range s.Roots {
		kp, err := unmarshalKeyPair(rs.keyPairState)
		if err != nil {
			return nil, fmt.Errorf("ca state: roots[%d]: %w", i, err)
		}
		c.roots = append(c.roots, root{keyPair: kp, ActivateAt: rs.ActivateAt, Overlap: rs.Overlap, TrustUntil: rs.TrustUntil})
	}
	inter, err := unmarshalKeyPair(s.Intermediate)
	if err != nil {
		return nil, fmt.Errorf("ca state: intermediate: %w", err)
	}
	if err := inter.Cert.CheckSignatureFrom(c.roots[0].Cert); err != nil {
		return nil, fmt.Errorf("ca state: intermediate is not signed by the active root: %w", err)
	}
	c.inter = inter
	return c, nil
}

func marshalKeyPair(kp keyPair) (keyPairState, error) {
	key, err := x509.MarshalPKCS8PrivateKey(kp.Key)
	if err != nil {
		return keyPairState{}, fmt.Errorf("ca: marshal key: %w", err)
	}
	return keyPairState{Cert: kp.Cert.Raw, Key: key}, nil
}

func unmarshalKeyPair(s keyPairState) (keyPair, error) {
	cert, err := x509.ParseCertificate(s.Cert)
	if err != nil {
		return keyPair{}, fmt.Errorf("certificate: %w", err)
	}
	k, err := x509.ParsePKCS8PrivateKey(s.Key)
	if err != nil {
		return keyPair{}, fmt.Errorf("key: %w", err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return keyPair{}, fmt.Errorf("key: %T, want ECDSA", k)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return keyPair{}, errors.New("key does not match certificate")
	}
	return keyPair{Cert: cert, Key: key}, nil
}
