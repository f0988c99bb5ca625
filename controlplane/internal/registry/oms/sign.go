package oms

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	"google.golang.org/protobuf/encoding/protojson"
)

// BundleMediaType is the Sigstore bundle version OMS v1.0 signatures use.
const BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"

// Sign hashes dir as opts say and signs the manifest with signer, for the
// key method: the bundle names the key only by its hint (see KeyHint). It
// returns the bundle's JSON, to be written to opts.SignatureFile.
//
// signer's key must be ECDSA on P-256, P-384 or P-521 (signed over
// SHA-256, SHA-384 and SHA-512 of the DSSE PAE, as the reference
// implementation does) or Ed25519.
func Sign(dir string, signer crypto.Signer, opts Options) ([]byte, error) {
	hint, err := KeyHint(signer.Public())
	if err != nil {
		return nil, err
	}
	m, err := Manifest(dir, opts)
	if err != nil {
		return nil, err
	}
	return signManifest(m, signer, keyVM(hint))
}

func keyVM(hint string) *protobundle.VerificationMaterial {
	return &protobundle.VerificationMaterial{
		Content: &protobundle.VerificationMaterial_PublicKey{PublicKey: &protocommon.PublicKeyIdentifier{Hint: hint}},
	}
}

// SignWithCertificate is Sign for the certificate method: chain is the
// signing certificate (whose key must be signer's) followed by any
// intermediates, all of which go into the bundle. The root the verifier
// trusts need not be included.
func SignWithCertificate(dir string, signer crypto.Signer, chain []*x509.Certificate, opts Options) ([]byte, error) {
	if len(chain) == 0 {
		return nil, errors.New("oms: no signing certificate")
	}
	if !samePublicKey(chain[0].PublicKey, signer.Public()) {
		return nil, errors.New("oms: the signing certificate's key is not the signer's")
	}
	if _, err := hashFor(signer.Public()); err != nil {
		return nil, err
	}
	m, err := Manifest(dir, opts)
	if err != nil {
		return nil, err
	}
	certs := make([]*protocommon.X509Certificate, 0, len(chain))
	for _, c := range chain {
		certs = append(certs, &protocommon.X509Certificate{RawBytes: c.Raw})
	}
	vm := &protobundle.VerificationMaterial{
		Content: &protobundle.VerificationMaterial_X509CertificateChain{
			X509CertificateChain: &protocommon.X509CertificateChain{Certificates: certs},
		},
	}
	return signManifest(m, signer, vm)
}

func signManifest(m ModelManifest, signer crypto.Signer, vm *protobundle.VerificationMaterial) ([]byte, error) {
	payload, err := encodeStatement(m)
	if err != nil {
		return nil, err
	}
	sig, err := signPAE(signer, dsse.PAE(PayloadType, payload))
	if err != nil {
		return nil, err
	}
	b := &protobundle.Bundle{
		MediaType:            BundleMediaType,
		VerificationMaterial: vm,
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload:     payload,
			PayloadType: PayloadType,
			Signatures:  []*protodsse.Signature{{Sig: sig}},
		}},
	}
	out, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("oms: encode bundle: %w", err)
	}
	return append(out, '\n'), nil
}

func signPAE(signer crypto.Signer, pae []byte) ([]byte, error) {
	h, err := hashFor(signer.Public())
	if err != nil {
		return nil, err
	}
	msg := pae
	if h != 0 {
		d := h.New()
		d.Write(pae)
		msg = d.Sum(nil)
	}
	sig, err := signer.Sign(rand.Reader, msg, h)
	if err != nil {
		return nil, fmt.Errorf("oms: sign: %w", err)
	}
	return sig, nil
}

// hashFor is the digest a key signs the PAE under; 0 for Ed25519, which
// signs the message itself.
func hashFor(pub crypto.PublicKey) (crypto.Hash, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return crypto.SHA256, nil
		case elliptic.P384():
			return crypto.SHA384, nil
		case elliptic.P521():
			return crypto.SHA512, nil
		}
		return 0, fmt.Errorf("oms: unsupported ECDSA curve %s", k.Curve.Params().Name)
	case ed25519.PublicKey:
		return 0, nil
	default:
		return 0, fmt.Errorf("oms: unsupported key type %T (want ECDSA P-256/P-384/P-521 or Ed25519)", pub)
	}
}

// KeyHint is the key-method bundle's name for a public key: hex SHA-256
// of its PEM "PUBLIC KEY" (SubjectPublicKeyInfo) encoding, as the
// reference implementation (model_signing) writes and checks it.
func KeyHint(pub crypto.PublicKey) (string, error) {
	if _, err := hashFor(pub); err != nil {
		return "", err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("oms: %w", err)
	}
	return pemHint(der), nil
}

func pemHint(der []byte) string {
	sum := sha256.Sum256(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	return hex.EncodeToString(sum[:])
}

// derHint is the other hint in use: hex SHA-256 of the DER
// SubjectPublicKeyInfo. Verify accepts it too.
func derHint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

func samePublicKey(a, b crypto.PublicKey) bool {
	da, err1 := x509.MarshalPKIXPublicKey(a)
	db, err2 := x509.MarshalPKIXPublicKey(b)
	return err1 == nil && err2 == nil && bytes.Equal(da, db)
}
