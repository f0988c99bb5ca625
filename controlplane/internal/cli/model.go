package cli

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/secureai-nexus/nexus/controlplane/internal/registry/oms"
)

const modelUsage = `usage:
  nexusctl model sign MODEL_DIR --key PRIVATE_KEY.pem [--out MODEL_DIR/model.sig]
      sign a model directory in the OpenSSF Model Signing format (key method)`

// model signs a model directory, as model_signing's `sign key` does.
func model(w io.Writer, args []string) error {
	if len(args) == 0 || args[0] != "sign" {
		return errors.New(modelUsage)
	}
	fs := flag.NewFlagSet("model sign", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	keyFile := fs.String("key", "", "PEM private key (ECDSA P-256/384/521 or Ed25519; PKCS#8 or SEC 1)")
	out := fs.String("out", "", "where to write the signature (default MODEL_DIR/model.sig)")
	var pos []string
	rest := args[1:]
	for len(rest) > 0 {
		if err := fs.Parse(rest); err != nil {
			return fmt.Errorf("model sign: %v\n%s", err, modelUsage)
		}
		rest = fs.Args()
		if len(rest) > 0 {
			pos, rest = append(pos, rest[0]), rest[1:]
		}
	}
	if len(pos) != 1 || *keyFile == "" {
		return errors.New(modelUsage)
	}
	signer, err := readPrivateKey(*keyFile)
	if err != nil {
		return err
	}
	dir := pos[0]
	target := *out
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
