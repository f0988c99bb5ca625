package cli

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/secureai-nexus/nexus/controlplane/internal/registry/oms"
)

func modelSignFlags(fs *flag.FlagSet) runFunc {
	keyFile := fs.String("key", "", "PEM private key (ECDSA P-256/384/521 or Ed25519; PKCS#8 or SEC 1) (required)")
	out := fs.String("out", "", "where to write the signature (default MODEL_DIR/model.sig)")
	return func(_ context.Context, e *env, args []string) error {
		return signModel(e.stdout, args[0], *keyFile, *out)
	}
}

// signModel signs a model directory in the OpenSSF Model Signing format,
// as model_signing's `sign key` does.
func signModel(w io.Writer, dir, keyFile, out string) error {
	signer, err := readPrivateKey(keyFile)
	if err != nil {
		return err
	}
	target := out
	if target == "" {
		target = filepath.Join(dir, oms.DefaultSignatureFile)
	}
	opts := oms.Options{}
	if rel, err := filepath.Rel(dir, target); err == nil && filepath.IsLocal(rel) {
		opts.SignatureFile = filepath.ToSlash(rel)
	}
	bundle, err := oms.Sign(dir, signer, opts)
	if err != nil {
		return err
	}
	if err := os.WriteFile(target, bundle, 0o644); err != nil {
		return err
	}
	m, err := oms.Manifest(dir, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "signed %s (%s, root digest sha256:%s) into %s\n", dir, plural(len(m.Resources), "file"), m.RootDigestHex(), target)
	return nil
}

func readPrivateKey(path string) (crypto.Signer, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, fmt.Errorf("%s: not a PEM private key", path)
	}
	var key any
	switch block.Type {
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("%s: a %q PEM block, want PRIVATE KEY or EC PRIVATE KEY", path, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: %T cannot sign", path, key)
	}
	return s, nil
}
