package identity_test

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/secureai-nexus/nexus/controlplane/internal/ca"
	"github.com/secureai-nexus/nexus/controlplane/internal/identity"
)

// TestBundleFilesForEnvoy: the file-based SDS resource Envoy's bootstrap
// watches is a DiscoveryResponse whose one Secret is named as the
// bootstrap asks and holds every root, and it is replaced whole when the
// bundle changes.
func TestBundleFilesForEnvoy(t *testing.T) {
	c, err := ca.New(td, ca.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	read := func() *tlsv3.Secret {
		t.Helper()
		raw, err := os.ReadFile(identity.BundleSDSPath(dir))
		if err != nil {
			t.Fatal(err)
		}
		var resp discovery.DiscoveryResponse
		if err := protojson.Unmarshal(raw, &resp); err != nil {
			t.Fatalf("not a DiscoveryResponse: %v", err)
		}
		if err := resp.ValidateAll(); err != nil {
			t.Fatal(err)
		}
		if len(resp.Resources) != 1 {
			t.Fatalf("%d resources", len(resp.Resources))
		}
		sec := &tlsv3.Secret{}
		if err := resp.Resources[0].UnmarshalTo(sec); err != nil {
			t.Fatal(err)
		}
		if err := sec.ValidateAll(); err != nil {
			t.Fatal(err)
		}
		return sec
	}
	roots := func(sec *tlsv3.Secret) int {
		n, rest := 0, sec.GetValidationContext().GetTrustedCa().GetInlineBytes()
		for {
			var b *pem.Block
			if b, rest = pem.Decode(rest); b == nil {
				return n
			}
			if _, err := x509.ParseCertificate(b.Bytes); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	if err := identity.WriteBundle(dir, c.Bundle()); err != nil {
		t.Fatal(err)
	}
	sec := read()
	if sec.Name != "spiffe://nexus.local" || roots(sec) != 1 {
		t.Fatalf("secret %q with %d roots", sec.Name, roots(sec))
	}
	if err := c.PrepareRootRotation(c.Bundle().X509Authorities()[0].NotBefore, 0); err != nil {
		t.Fatal(err)
	}
	if err := identity.WriteBundle(dir, c.Bundle()); err != nil {
		t.Fatal(err)
	}
	if n := roots(read()); n != 2 {
		t.Fatalf("after preparing a rotation the file holds %d roots", n)
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(identity.BundleSDSPath(dir)), ".*"))
	if len(left) != 0 {
		t.Errorf("temporary files left in the watched directory: %v", left)
	}
	if st, _ := os.Stat(identity.BundlePath(dir)); st.Mode().Perm() != 0o644 {
		t.Errorf("bundle.pem mode %04o", st.Mode().Perm())
	}
}
