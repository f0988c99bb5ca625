//go:build conformance

package oms

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// model_signing's own release-test signatures (outside the repository,
// NEXUS_OMS_CONFORMANCE_DIR): a foreign signer, verified by this package.

// conformance locates model_signing's own release-test signatures and
// models (sigstore/model-transparency's scripts/tests, and the public
// Sigstore trusted root), which stay outside this repository:
// NEXUS_OMS_CONFORMANCE_DIR names the directory holding them
// (v1.0.0-elliptic-key/, v1.1.0-certificate/, … keys/, trusted_root.json).
// They run under the conformance build tag (make conformance.oms), not in
// make test: the files are another project's and are not committed here.
func conformance(t testing.TB, parts ...string) string {
	t.Helper()
	dir := os.Getenv("NEXUS_OMS_CONFORMANCE_DIR")
	if dir == "" {
		t.Fatal("NEXUS_OMS_CONFORMANCE_DIR is not set: name the directory holding model_signing's release-test signatures (make conformance.oms OMS_CONFORMANCE_DIR=…)")
	}
	return filepath.Join(append([]string{dir}, parts...)...)
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// copyDir copies a fixture model so a test can change it.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

func conformanceTrust(t *testing.T, method TrustMethod) Trust {
	switch method {
	case KeyMethod:
		return Trust{PublicKeyPEM: readFile(t, conformance(t, "keys", "signing-key-pub.pem"))}
	case CertificateMethod:
		return Trust{CACertificatesPEM: readFile(t, conformance(t, "keys", "ca-cert.pem"))}
	default:
		return Trust{
			TrustedRootJSON: readFile(t, conformance(t, "keys", "public-good-trusted-root.json")),
			Identity:        Identity{SubjectAlternativeName: "stefanb@us.ibm.com", Issuer: "https://sigstore.verify.ibm.com/oauth2"},
		}
	}
}

func TestConformanceBundles(t *testing.T) {
	cases := []struct {
		dir    string
		method TrustMethod
		opts   []VerifyOption
		root   string
		signer string
	}{
		{"v1.1.0-elliptic-key", KeyMethod, nil, "92745110b1ab4368471cbe31664e10174e954b113a3df333db860317b2c6dec4", "key e8450dec4eb99dae995da9af1bc2cc9f76ed669ee2e744f57abba763df3e3f8e"},
		{"v1.1.0-certificate", CertificateMethod, nil, "61d4849d9d90076d6215f4d525f13d6574af8e3f67aef3e6f36fc40a14fdd226", "CN=intermediate-ca"},
		{"v1.1.0-sigstore", SigstoreMethod, nil, "61d4849d9d90076d6215f4d525f13d6574af8e3f67aef3e6f36fc40a14fdd226", "stefanb@us.ibm.com (issuer https://sigstore.verify.ibm.com/oauth2)"},
		// 1.0.1 recorded no ignore paths: the caller names the unsigned file.
		{"v1.0.1-elliptic-key", KeyMethod, []VerifyOption{WithIgnorePaths("ignore-me")}, "92745110b1ab4368471cbe31664e10174e954b113a3df333db860317b2c6dec4", "key e8450dec4eb99dae995da9af1bc2cc9f76ed669ee2e744f57abba763df3e3f8e"},
	}
	for _, c := range cases {
		t.Run(c.dir, func(t *testing.T) {
			dir := conformance(t, c.dir)
			sig := readFile(t, filepath.Join(dir, "model.sig"))
			res, err := Verify(context.Background(), sig, dir, conformanceTrust(t, c.method), c.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if res.RootDigest != c.root || res.Signer != c.signer || res.Method != c.method || res.Resources != 2 {
				t.Errorf("result %+v", res)
			}
			if c.method == SigstoreMethod && len(res.LogTimes) != 1 {
				t.Errorf("log times %v", res.LogTimes)
			}

			// The same model, one byte changed and one file added.
			mod := copyDir(t, dir)
			if err := os.WriteFile(filepath.Join(mod, "signme-2"), []byte("changed\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(mod, "extra"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err = Verify(context.Background(), sig, mod, conformanceTrust(t, c.method), c.opts...)
			var me *MismatchError
			if !errors.As(err, &me) || !slices.Equal(me.Changed, []string{"signme-2"}) || !slices.Equal(me.Unlisted, []string{"extra"}) || len(me.Missing) != 0 {
				t.Fatalf("changed model: %v", err)
			}
		})
	}
}

func TestConformanceSingleFileModel(t *testing.T) {
	dir := conformance(t, "v1.0.0-elliptic-key")
	sig := readFile(t, filepath.Join(dir, "model.sig"))
	res, err := Verify(context.Background(), sig, filepath.Join(dir, "signme-1"), conformanceTrust(t, KeyMethod))
	if err != nil {
		t.Fatal(err)
	}
	if res.ModelName != "signme-1" || res.Resources != 1 {
		t.Errorf("result %+v", res)
	}
	// The directory is not the model the signature is for.
	var me *MismatchError
	if _, err := Verify(context.Background(), sig, dir, conformanceTrust(t, KeyMethod)); !errors.As(err, &me) {
		t.Fatalf("directory for a one-file model: %v", err)
	}
}

func TestConformanceKeylessRefusals(t *testing.T) {
	dir := conformance(t, "v1.1.0-sigstore")
	sig := readFile(t, filepath.Join(dir, "model.sig"))
	ctx := context.Background()
	for name, id := range map[string]Identity{
		"other identity": {SubjectAlternativeName: "someone@example.com", Issuer: "https://sigstore.verify.ibm.com/oauth2"},
		"other issuer":   {SubjectAlternativeName: "stefanb@us.ibm.com", Issuer: "https://accounts.google.com"},
		"regexp miss":    {SubjectAlternativeNameRegexp: `^[a-z]+@example\.com$`, IssuerRegexp: `^https://`},
	} {
		tr := conformanceTrust(t, SigstoreMethod)
		tr.Identity = id
		if _, err := Verify(ctx, sig, dir, tr); !errors.Is(err, ErrSignature) {
			t.Errorf("%s: %v", name, err)
		}
	}
	tr := conformanceTrust(t, SigstoreMethod)
	tr.Identity = Identity{SubjectAlternativeNameRegexp: `^stefanb@us\.ibm\.com$`, IssuerRegexp: `^https://sigstore\.verify\.ibm\.com/`}
	if _, err := Verify(ctx, sig, dir, tr); err != nil {
		t.Errorf("regexp identity: %v", err)
	}

	// No identity, or no issuer: refused before any check.
	tr = conformanceTrust(t, SigstoreMethod)
	tr.Identity = Identity{SubjectAlternativeName: "stefanb@us.ibm.com"}
	if _, err := Verify(ctx, sig, dir, tr); err == nil || errors.Is(err, ErrSignature) {
		t.Errorf("no issuer: %v", err)
	}
	// The trusted root without the Fulcio CAs, the Rekor logs or the CT
	// logs the bundle needs.
	for _, drop := range []string{"certificateAuthorities", "tlogs", "ctlogs"} {
		tr = conformanceTrust(t, SigstoreMethod)
		var m map[string]any
		if err := json.Unmarshal(tr.TrustedRootJSON, &m); err != nil {
			t.Fatal(err)
		}
		delete(m, drop)
		tr.TrustedRootJSON, _ = json.Marshal(m)
		if _, err := Verify(ctx, sig, dir, tr); !errors.Is(err, ErrSignature) {
			t.Errorf("trusted root without %s: %v", drop, err)
		}
	}
	// Keyless trust for a key-method bundle.
	keySig := readFile(t, conformance(t, "v1.1.0-elliptic-key", "model.sig"))
	if _, err := Verify(ctx, keySig, conformance(t, "v1.1.0-elliptic-key"), conformanceTrust(t, SigstoreMethod)); !errors.Is(err, ErrSignature) {
		t.Errorf("key bundle, keyless trust: %v", err)
	}
	// The keyless bundle verified by its certificate alone: its Fulcio
	// chain is not one of these CAs.
	if _, err := Verify(ctx, sig, dir, conformanceTrust(t, CertificateMethod)); !errors.Is(err, ErrSignature) {
		t.Errorf("keyless bundle, certificate trust: %v", err)
	}
}

func TestConformanceWrongKey(t *testing.T) {
	dir := conformance(t, "v1.1.0-elliptic-key")
	sig := readFile(t, filepath.Join(dir, "model.sig"))
	other := Trust{PublicKeyPEM: publicPEM(t, newKey(t))}
	if _, err := Verify(context.Background(), sig, dir, other); !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("hint of another key: %v", err)
	}
	legacy := conformance(t, "v1.0.1-elliptic-key")
	if _, err := Verify(context.Background(), readFile(t, filepath.Join(legacy, "model.sig")), legacy, other, WithIgnorePaths("ignore-me")); !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("legacy key material, another key: %v", err)
	}
}

func TestKeyHintIsModelSigningHint(t *testing.T) {
	// model_signing's hint for its release-test key (the v1.1.0 bundle).
	der, err := parsePublicKeyPEM(readFile(t, conformance(t, "keys", "signing-key-pub.pem")))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := KeyHint(pub); h != "e8450dec4eb99dae995da9af1bc2cc9f76ed669ee2e744f57abba763df3e3f8e" {
		t.Errorf("hint %s", h)
	}
}
