package identity

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/secureai-nexus/nexus/controlplane/internal/atomicfile"
)

// NodeTokenPath is where a node's xDS credential lives under the data dir.
func NodeTokenPath(dataDir, nodeID string) string {
	return filepath.Join(dataDir, "nodes", nodeID+".token")
}

// BundlePath is where the trust bundle is published under the data dir.
func BundlePath(dataDir string) string { return filepath.Join(dataDir, "bundle.pem") }

// BundleSDSPath is the same bundle as a file-based SDS resource for
// Envoy's bootstrap; it sits alone in its directory, which Envoy watches.
func BundleSDSPath(dataDir string) string { return filepath.Join(dataDir, "sds", "bundle.json") }

// NodeCredentials returns each node's xDS credential, creating (0600) the
// ones that do not exist yet, so a restart keeps sidecars' bootstraps valid.
func NodeCredentials(dataDir string, nodeIDs []string) (map[string]string, error) {
	if err := os.MkdirAll(filepath.Join(dataDir, "nodes"), 0o700); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(nodeIDs))
	for _, id := range nodeIDs {
		path := NodeTokenPath(dataDir, id)
		raw, err := os.ReadFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			b := make([]byte, 32)
			if _, err := rand.Read(b); err != nil {
				return nil, err
			}
			tok := "nxnode_" + base64.RawURLEncoding.EncodeToString(b)
			if err := atomicfile.Write(path, []byte(tok+"\n"), 0o600); err != nil {
				return nil, fmt.Errorf("write node credential: %w", err)
			}
			out[id] = tok
		case err != nil:
			return nil, fmt.Errorf("node credential for %s: %w", id, err)
		default:
			tok := strings.TrimSpace(string(raw))
			if tok == "" {
				return nil, fmt.Errorf("node credential %s is empty", path)
			}
			out[id] = tok
		}
	}
	return out, nil
}

// ReadNodeCredential reads a node's credential written by the control plane.
func ReadNodeCredential(dataDir, nodeID string) (string, error) {
	path := NodeTokenPath(dataDir, nodeID)
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("node credential %s not found: start the control plane with this data dir first (it writes one per node)", path)
	}
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(raw)), nil
}

// WriteBundle publishes the trust bundle under dataDir, as PEM and as a
// file-based SDS DiscoveryResponse (both 0644: the bundle is public). Each
// file is replaced by a rename, the move Envoy's watched directory reacts
// to, so a reader never sees half a file.
func WriteBundle(dataDir string, b *x509bundle.Bundle) error {
	pem, err := b.Marshal()
	if err != nil {
		return err
	}
	if err := atomicfile.Write(BundlePath(dataDir), pem, 0o644); err != nil {
		return err
	}
	sec := &tlsv3.Secret{Name: b.TrustDomain().IDString(), Type: &tlsv3.Secret_ValidationContext{
		ValidationContext: &tlsv3.CertificateValidationContext{TrustedCa: inline(pem)},
	}}
	res, err := anypb.New(sec)
	if err != nil {
		return err
	}
	doc, err := protojson.Marshal(&discovery.DiscoveryResponse{TypeUrl: res.GetTypeUrl(), Resources: []*anypb.Any{res}})
	if err != nil {
		return err
	}
	path := BundleSDSPath(dataDir)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(path, doc, 0o644)
}
