package identity

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Secrets builds the SDS secrets behind names, as the translation names
// them: the trust domain's id is the bundle (a validation context), any
// other SPIFFE id is that workload's SVID and key (a TLS certificate).
func (a *Authority) Secrets(names []string) ([]*tlsv3.Secret, error) {
	out := make([]*tlsv3.Secret, 0, len(names))
	td := a.ca.TrustDomain()
	for _, name := range names {
		if name == td.IDString() {
			out = append(out, &tlsv3.Secret{Name: name, Type: &tlsv3.Secret_ValidationContext{
				ValidationContext: &tlsv3.CertificateValidationContext{
					TrustedCa: inline(PEMCerts(a.ca.Bundle().X509Authorities())),
				},
			}})
			continue
		}
		id, err := spiffeid.FromString(name)
		if err != nil {
			return nil, fmt.Errorf("secret %q: not a SPIFFE id: %w", name, err)
		}
		s, err := a.SVID(id)
		if err != nil {
			return nil, fmt.Errorf("secret %q: %w", name, err)
		}
		key, err := x509.MarshalPKCS8PrivateKey(s.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("secret %q: %w", name, err)
		}
		out = append(out, &tlsv3.Secret{Name: name, Type: &tlsv3.Secret_TlsCertificate{
			TlsCertificate: &tlsv3.TlsCertificate{
				CertificateChain: inline(PEMCerts(s.Certificates)),
				PrivateKey:       inline(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key})),
			},
		}})
	}
	return out, nil
}

// PEMCerts encodes certificates as concatenated PEM blocks.
func PEMCerts(certs []*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

func inline(b []byte) *core.DataSource {
	return &core.DataSource{Specifier: &core.DataSource_InlineBytes{InlineBytes: b}}
}
