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

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
)

// NodeTokenPath is where a node's xDS credential lives under the data dir.
func NodeTokenPath(dataDir, nodeID string) string {
	return filepath.Join(dataDir, "nodes", nodeID+".token")
}

// BundlePath is where the trust bundle is published under the data dir.
func BundlePath(dataDir string) string { return filepath.Join(dataDir, "bundle.pem") }

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
			if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
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

// WriteBundle publishes the trust bundle as PEM (0644: it is public).
func WriteBundle(path string, b *x509bundle.Bundle) error {
	pem, err := b.Marshal()
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, pem, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
