package oms

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func publicPEM(t testing.TB, k crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func sign(t testing.TB, dir string, k crypto.Signer, opts Options) []byte {
	t.Helper()
	b, err := Sign(dir, k, opts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func verifyKey(dir string, bundle []byte, k crypto.Signer, opts ...VerifyOption) (Result, error) {
	der, _ := x509.MarshalPKIXPublicKey(k.Public())
	return Verify(context.Background(), bundle, dir, Trust{PublicKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})}, opts...)
}

// editBundle decodes a bundle's JSON, lets f change it, and encodes it.
func editBundle(t *testing.T, b []byte, f func(map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func envelope(m map[string]any) map[string]any { return m["dsseEnvelope"].(map[string]any) }

func payloadOf(t *testing.T, b []byte) []byte {
	t.Helper()
	var p []byte
	editBundle(t, b, func(m map[string]any) {
		var err error
		if p, err = base64.StdEncoding.DecodeString(envelope(m)["payload"].(string)); err != nil {
			t.Fatal(err)
		}
	})
	return p
}

func wantMismatch(t *testing.T, err error, missing, changed, unlisted []string) {
	t.Helper()
	var me *MismatchError
	if !errors.As(err, &me) {
		t.Fatalf("want a mismatch, got %v", err)
	}
	if !slices.Equal(me.Missing, missing) || !slices.Equal(me.Changed, changed) || !slices.Equal(me.Unlisted, unlisted) {
		t.Fatalf("mismatch %+v, want missing %v changed %v unlisted %v", me, missing, changed, unlisted)
	}
	for _, n := range slices.Concat(missing, changed, unlisted) {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("error %q does not name %s", err, n)
		}
	}
}

var sample = map[string]string{"weights/part-1.safetensors": "aaaa", "weights/part-2.safetensors": "bbbbbbbbbb", "config.json": `{"n":1}`, "tokenizer.json": "{}"}

func TestSignVerifyKey(t *testing.T) {
	for _, opts := range []Options{{}, {Method: MethodShards, ShardSize: 3}, {HashType: HashBLAKE2b}, {Method: MethodShards, HashType: HashBLAKE2b, ShardSize: 4}} {
		t.Run(opts.Method+opts.HashType, func(t *testing.T) {
			dir := writeModel(t, sample)
			k := newKey(t)
			b := sign(t, dir, k, opts)
			m := mustManifest(t, dir, opts)
			res, err := verifyKey(dir, b, k)
			if err != nil {
				t.Fatal(err)
			}
			hint, _ := KeyHint(k.Public())
			if res.RootDigest != m.RootDigestHex() || res.KeyHint != hint || res.Signer != "key "+hint || res.Method != KeyMethod || res.Resources != len(m.Resources) || res.ModelName != "model" {
				t.Errorf("result %+v", res)
			}
			if res.Serialization.Method != m.Serialization.Method || res.Serialization.ShardSize != m.Serialization.ShardSize {
				t.Errorf("serialization %+v", res.Serialization)
			}

			// The signature written into the model verifies in place.
			if err := os.WriteFile(filepath.Join(dir, "model.sig"), b, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := verifyKey(dir, b, k); err != nil {
				t.Fatalf("in place: %v", err)
			}

			// A changed byte, a removed file, an added file.
			if err := os.WriteFile(filepath.Join(dir, "weights", "part-2.safetensors"), []byte("bbbbbbbbbB"), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err = verifyKey(dir, b, k)
			wantMismatch(t, err, nil, []string{"weights/part-2.safetensors"}, nil)
			if err := os.Remove(filepath.Join(dir, "config.json")); err != nil {
				t.Fatal(err)
			}
			_, err = verifyKey(dir, b, k)
			wantMismatch(t, err, []string{"config.json"}, []string{"weights/part-2.safetensors"}, nil)
			if err := os.WriteFile(filepath.Join(dir, "weights", "backdoor.pkl"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err = verifyKey(dir, b, k)
			wantMismatch(t, err, []string{"config.json"}, []string{"weights/part-2.safetensors"}, []string{"weights/backdoor.pkl"})
		})
	}
}

func TestVerifyEachChangeAlone(t *testing.T) {
	k := newKey(t)
	for name, c := range map[string]struct {
		change                     func(dir string) error
		missing, changed, unlisted []string
	}{
		"changed byte": {func(d string) error { return os.WriteFile(filepath.Join(d, "tokenizer.json"), []byte("{ "), 0o644) }, nil, []string{"tokenizer.json"}, nil},
		"removed":      {func(d string) error { return os.Remove(filepath.Join(d, "weights", "part-1.safetensors")) }, []string{"weights/part-1.safetensors"}, nil, nil},
		"added":        {func(d string) error { return os.WriteFile(filepath.Join(d, "extra.bin"), []byte("x"), 0o644) }, nil, nil, []string{"extra.bin"}},
		"renamed": {func(d string) error {
			return os.Rename(filepath.Join(d, "config.json"), filepath.Join(d, "config.json.bak"))
		}, []string{"config.json"}, nil, []string{"config.json.bak"}},
		"grown shard file": {func(d string) error {
			return os.WriteFile(filepath.Join(d, "weights", "part-1.safetensors"), []byte("aaaaa"), 0o644)
		}, nil, []string{"weights/part-1.safetensors"}, nil},
	} {
		for _, method := range []string{MethodFiles, MethodShards} {
			t.Run(name+"/"+method, func(t *testing.T) {
				dir := writeModel(t, sample)
				opts := Options{Method: method}
				if method == MethodShards {
					opts.ShardSize = 4
				}
				b := sign(t, dir, k, opts)
				if err := c.change(dir); err != nil {
					t.Fatal(err)
				}
				_, err := verifyKey(dir, b, k)
				wantMismatch(t, err, c.missing, c.changed, c.unlisted)
			})
		}
	}
}

// An empty file is a resource for the files method; the shards method
// lists no shards for it (as the reference implementation), so an empty
// file added to a model signed by shards goes unseen.
func TestVerifyEmptyFileAdded(t *testing.T) {
	k := newKey(t)
	for method, want := range map[string][]string{MethodFiles: {"__init__.py"}, MethodShards: nil} {
		dir := writeModel(t, sample)
		b := sign(t, dir, k, Options{Method: method})
		if err := os.WriteFile(filepath.Join(dir, "__init__.py"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := verifyKey(dir, b, k)
		if want == nil {
			if err != nil {
				t.Errorf("%s: %v", method, err)
			}
			continue
		}
		wantMismatch(t, err, nil, nil, want)
	}
}

func TestVerifyKeyTypes(t *testing.T) {
	dir := writeModel(t, sample)
	var signers []crypto.Signer
	for _, c := range []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		signers = append(signers, k)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signers = append(signers, ed)
	for _, k := range signers {
		b := sign(t, dir, k, Options{})
		if _, err := verifyKey(dir, b, k); err != nil {
			t.Errorf("%T: %v", k.Public(), err)
		}
	}
	// One key's bundle under another key of the same type.
	if _, err := verifyKey(dir, sign(t, dir, signers[1], Options{}), signers[2]); !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("other key: %v", err)
	}
}

func TestVerifyWrongKey(t *testing.T) {
	dir := writeModel(t, sample)
	k1, k2 := newKey(t), newKey(t)
	b := sign(t, dir, k1, Options{})
	_, err := verifyKey(dir, b, k2)
	if !errors.Is(err, ErrKeyMismatch) || !errors.Is(err, ErrSignature) {
		t.Fatalf("wrong key: %v", err)
	}
	// The bundle relabelled with k2's hint: the signature itself fails.
	hint2, _ := KeyHint(k2.Public())
	relabelled := editBundle(t, b, func(m map[string]any) {
		m["verificationMaterial"].(map[string]any)["publicKey"] = map[string]any{"hint": hint2}
	})
	if _, err := verifyKey(dir, relabelled, k2); !errors.Is(err, ErrSignature) || errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("relabelled: %v", err)
	}
	// Other hints that name k1: its DER hash, and none at all.
	der, _ := x509.MarshalPKIXPublicKey(k1.Public())
	for _, hint := range []string{derHint(der), ""} {
		b2 := editBundle(t, b, func(m map[string]any) {
			m["verificationMaterial"].(map[string]any)["publicKey"] = map[string]any{"hint": hint}
		})
		if _, err := verifyKey(dir, b2, k1); err != nil {
			t.Errorf("hint %q: %v", hint, err)
		}
	}
}

func TestVerifyTamperedBundle(t *testing.T) {
	dir := writeModel(t, sample)
	k := newKey(t)
	b := sign(t, dir, k, Options{})
	payload := payloadOf(t, b)
	for i := range []int{0, 1, 2} {
		pos := []int{0, len(payload) / 2, len(payload) - 1}[i]
		flipped := editBundle(t, b, func(m map[string]any) {
			p := slices.Clone(payload)
			p[pos] ^= 0x01
			envelope(m)["payload"] = base64.StdEncoding.EncodeToString(p)
		})
		if _, err := verifyKey(dir, flipped, k); !errors.Is(err, ErrSignature) {
			t.Errorf("payload byte %d flipped: %v", pos, err)
		}
	}
	for name, f := range map[string]func(map[string]any){
		"signature flipped": func(m map[string]any) {
			sigs := envelope(m)["signatures"].([]any)
			s, _ := base64.StdEncoding.DecodeString(sigs[0].(map[string]any)["sig"].(string))
			s[len(s)/2] ^= 0x80
			sigs[0].(map[string]any)["sig"] = base64.StdEncoding.EncodeToString(s)
		},
		"payload type": func(m map[string]any) { envelope(m)["payloadType"] = "application/json" },
		"two signatures": func(m map[string]any) {
			e := envelope(m)
			e["signatures"] = append(e["signatures"].([]any), e["signatures"].([]any)[0])
		},
		"no signature": func(m map[string]any) { envelope(m)["signatures"] = []any{} },
		"media type":   func(m map[string]any) { m["mediaType"] = "application/vnd.dev.sigstore.bundle.v0.9+json" },
		"no envelope": func(m map[string]any) {
			delete(m, "dsseEnvelope")
			m["messageSignature"] = map[string]any{"messageDigest": map[string]any{"algorithm": "SHA2_256", "digest": base64.StdEncoding.EncodeToString(make([]byte, 32))}, "signature": "AAAA"}
		},
		"unknown field": func(m map[string]any) { m["extra"] = true },
	} {
		if _, err := verifyKey(dir, editBundle(t, b, f), k); !errors.Is(err, ErrSignature) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := verifyKey(dir, []byte("not json"), k); !errors.Is(err, ErrSignature) {
		t.Errorf("garbage: %v", err)
	}
}

// A statement whose resources are right but not in canonical order signs
// and parses, but its root digest is not the directory's.
func TestVerifyNonCanonicalOrder(t *testing.T) {
	dir := writeModel(t, sample)
	k := newKey(t)
	m := mustManifest(t, dir, Options{})
	slices.Reverse(m.Resources)
	m.RootDigest = rootDigest(m.Resources)
	hint, _ := KeyHint(k.Public())
	b, err := signManifest(m, k, keyVM(hint))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifyKey(dir, b, k); !errors.Is(err, ErrStatement) || !strings.Contains(err.Error(), "canonical order") {
		t.Fatalf("got %v", err)
	}
	// And one whose subject is not the root of its resources.
	m = mustManifest(t, dir, Options{})
	m.RootDigest = make([]byte, 32)
	if b, err = signManifest(m, k, keyVM(hint)); err != nil {
		t.Fatal(err)
	}
	if _, err := verifyKey(dir, b, k); !errors.Is(err, ErrStatement) {
		t.Fatalf("bad subject: %v", err)
	}
}

func TestVerifyUsesSignedSerialization(t *testing.T) {
	dir := writeModel(t, sample)
	symlink(t, "config.json", filepath.Join(dir, "config-link.json"))
	if err := os.MkdirAll(filepath.Join(dir, "runs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "runs", "log"), []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}
	k := newKey(t)
	opts := Options{Method: MethodShards, ShardSize: 5, AllowSymlinks: true, IgnorePaths: []string{"runs"}, SignatureFile: "sig/model.oms"}
	b := sign(t, dir, k, opts)
	// Unsigned changes under the signed ignore paths do not matter.
	if err := os.WriteFile(filepath.Join(dir, "runs", "log"), []byte("2"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "sig"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sig", "model.oms"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := verifyKey(dir, b, k)
	if err != nil {
		t.Fatal(err)
	}
	if s := res.Serialization; s.Method != MethodShards || s.ShardSize != 5 || !s.AllowSymlinks || !slices.Contains(s.IgnorePaths, "runs") {
		t.Errorf("serialization %+v", s)
	}
	// The link's target changes: the link's shards change with it.
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"n":2}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = verifyKey(dir, b, k)
	wantMismatch(t, err, nil, []string{"config-link.json", "config.json"}, nil)
}

func TestVerifySymlinkPolicyFromSignature(t *testing.T) {
	dir := writeModel(t, sample)
	k := newKey(t)
	b := sign(t, dir, k, Options{})
	// Signed without symlinks: a link added later is refused, by name.
	symlink(t, "config.json", filepath.Join(dir, "sneaky"))
	_, err := verifyKey(dir, b, k)
	var pe *PathError
	if !errors.Is(err, ErrSymlink) || !errors.As(err, &pe) || pe.Path != "sneaky" {
		t.Fatalf("got %v", err)
	}
}

func TestVerifyIgnoreOptions(t *testing.T) {
	dir := writeModel(t, sample)
	k := newKey(t)
	b := sign(t, dir, k, Options{})
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("unsigned"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := verifyKey(dir, b, k)
	wantMismatch(t, err, nil, nil, []string{"README.md"})
	if _, err := verifyKey(dir, b, k, WithIgnorePaths("README.md")); err != nil {
		t.Fatal(err)
	}
	// Ignoring a signed file makes it missing.
	_, err = verifyKey(dir, b, k, WithIgnorePaths("README.md", "weights"))
	wantMismatch(t, err, []string{"weights/part-1.safetensors", "weights/part-2.safetensors"}, nil, nil)
	if _, err := verifyKey(dir, b, k, WithIgnorePaths("../x")); err == nil {
		t.Error("escaping ignore path accepted")
	}
	// The signature somewhere else in the directory.
	if err := os.WriteFile(filepath.Join(dir, "model.oms"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = verifyKey(dir, b, k, WithIgnorePaths("README.md"))
	wantMismatch(t, err, nil, nil, []string{"model.oms"})
	if _, err := verifyKey(dir, b, k, WithIgnorePaths("README.md"), WithSignatureFile("model.oms")); err != nil {
		t.Fatal(err)
	}
}

func TestVerifySignedGitPaths(t *testing.T) {
	dir := writeModel(t, map[string]string{"w": "w", ".gitattributes": "*.bin filter=lfs"})
	k := newKey(t)
	b := sign(t, dir, k, Options{IncludeGitPaths: true})
	// The default exclusion yields to the signed file.
	if _, err := verifyKey(dir, b, k); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".gitattributes"), []byte("*.bin -filter"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := verifyKey(dir, b, k)
	wantMismatch(t, err, nil, []string{".gitattributes"}, nil)
	// Unsigned git paths stay excluded.
	dir = writeModel(t, map[string]string{"w": "w"})
	b = sign(t, dir, k, Options{})
	if err := os.MkdirAll(filepath.Join(dir, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".git", "HEAD"), []byte("ref"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := verifyKey(dir, b, k); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyEmptyModel(t *testing.T) {
	dir := writeModel(t, map[string]string{})
	k := newKey(t)
	b := sign(t, dir, k, Options{})
	res, err := verifyKey(dir, b, k)
	if err != nil || res.Resources != 0 || res.RootDigest != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Fatalf("%+v %v", res, err)
	}
	if !strings.Contains(string(payloadOf(t, b)), `"resources": []`) {
		t.Errorf("payload %s", payloadOf(t, b))
	}
	if err := os.WriteFile(filepath.Join(dir, "new"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = verifyKey(dir, b, k)
	wantMismatch(t, err, nil, nil, []string{"new"})
}

func TestVerifyCancelled(t *testing.T) {
	dir := writeModel(t, sample)
	k := newKey(t)
	b := sign(t, dir, k, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Verify(ctx, b, dir, Trust{PublicKeyPEM: publicPEM(t, k)}); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}

func TestTrustSelection(t *testing.T) {
	dir := writeModel(t, sample)
	k := newKey(t)
	b := sign(t, dir, k, Options{})
	ctx := context.Background()
	_, err := Verify(ctx, b, dir, Trust{})
	if err == nil || !strings.Contains(err.Error(), "trusted root") {
		t.Errorf("no trust: %v", err)
	}
	// Keyless with an identity but no trusted root: refused, clearly.
	_, err = Verify(ctx, b, dir, Trust{Identity: Identity{SubjectAlternativeName: "a@example.com", Issuer: "https://issuer.example"}})
	if err == nil || !strings.Contains(err.Error(), "keyless verification needs a trusted root") {
		t.Errorf("keyless without root: %v", err)
	}
	if _, err := Verify(ctx, b, dir, Trust{PublicKeyPEM: publicPEM(t, k), TrustedRootJSON: []byte("{}")}); err == nil || !strings.Contains(err.Error(), "more than one") {
		t.Errorf("two methods: %v", err)
	}
	if _, err := Verify(ctx, b, dir, Trust{PublicKeyPEM: []byte("nope")}); err == nil {
		t.Error("bad key PEM accepted")
	}
	if _, err := Verify(ctx, b, dir, Trust{CACertificatesPEM: []byte("nope")}); err == nil {
		t.Error("bad CA PEM accepted")
	}
	// A trusted root that does not parse.
	_, err = Verify(ctx, b, dir, Trust{TrustedRootJSON: []byte("{"), Identity: Identity{SubjectAlternativeName: "a", Issuer: "b"}})
	if err == nil {
		t.Error("bad trusted root accepted")
	}
}

// testCA is a root and an intermediate that issue code-signing leaves.
type testCA struct {
	root, inter       *x509.Certificate
	rootKey, interKey *ecdsa.PrivateKey
}

var serial int64

func issue(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
	t.Helper()
	serial++
	tmpl.SerialNumber = big.NewInt(serial)
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newTestCA(t testing.TB, name string) testCA {
	t.Helper()
	now := time.Now()
	ca := testCA{rootKey: newKey(t), interKey: newKey(t)}
	ca.root = issue(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: name + " root"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}, nil, ca.rootKey.Public(), ca.rootKey)
	ca.inter = issue(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: name + " intermediate"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}, ca.root, ca.interKey.Public(), ca.rootKey)
	return ca
}

type leafOpt func(*x509.Certificate)

func (ca testCA) leaf(t testing.TB, k crypto.Signer, opts ...leafOpt) *x509.Certificate {
	t.Helper()
	now := time.Now()
	tmpl := &x509.Certificate{
		Subject: pkix.Name{CommonName: "model signer", Organization: []string{"SecureAI"}}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		EmailAddresses: []string{"release@secureai.example"},
	}
	for _, o := range opts {
		o(tmpl)
	}
	return issue(t, tmpl, ca.inter, k.Public(), ca.interKey)
}

func certPEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

func TestSignVerifyCertificate(t *testing.T) {
	dir := writeModel(t, sample)
	ca, other := newTestCA(t, "nexus"), newTestCA(t, "other")
	k := newKey(t)
	leaf := ca.leaf(t, k)
	b, err := SignWithCertificate(dir, k, []*x509.Certificate{leaf, ca.inter}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := Verify(ctx, b, dir, Trust{CACertificatesPEM: certPEM(ca.root)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Method != CertificateMethod || res.CertificateSubject != "CN=model signer,O=SecureAI" || res.SubjectAlternativeName != "release@secureai.example" || res.Signer != "release@secureai.example" {
		t.Errorf("result %+v", res)
	}
	// The intermediate as the anchor works too; another CA does not.
	if _, err := Verify(ctx, b, dir, Trust{CACertificatesPEM: certPEM(ca.inter)}); err != nil {
		t.Errorf("intermediate anchor: %v", err)
	}
	if _, err := Verify(ctx, b, dir, Trust{CACertificatesPEM: certPEM(other.root)}); !errors.Is(err, ErrSignature) {
		t.Errorf("other CA: %v", err)
	}
	if _, err := Verify(ctx, b, dir, Trust{CACertificatesPEM: certPEM(other.root, ca.root)}); err != nil {
		t.Errorf("one of several CAs: %v", err)
	}
	// Identity: the SAN, when asked for.
	if _, err := Verify(ctx, b, dir, Trust{CACertificatesPEM: certPEM(ca.root), Identity: Identity{SubjectAlternativeName: "release@secureai.example"}}); err != nil {
		t.Errorf("identity: %v", err)
	}
	if _, err := Verify(ctx, b, dir, Trust{CACertificatesPEM: certPEM(ca.root), Identity: Identity{SubjectAlternativeNameRegexp: `^intern@`}}); !errors.Is(err, ErrSignature) {
		t.Errorf("other identity: %v", err)
	}
	// Key trust for a certificate bundle, and the reverse.
	if _, err := verifyKey(dir, b, k); !errors.Is(err, ErrSignature) {
		t.Errorf("certificate bundle, key trust: %v", err)
	}
	if _, err := Verify(ctx, sign(t, dir, k, Options{}), dir, Trust{CACertificatesPEM: certPEM(ca.root)}); !errors.Is(err, ErrSignature) {
		t.Errorf("key bundle, certificate trust: %v", err)
	}
	// The directory is still checked.
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Verify(ctx, b, dir, Trust{CACertificatesPEM: certPEM(ca.root)})
	wantMismatch(t, err, nil, []string{"config.json"}, nil)
}

func TestCertificateChainShapes(t *testing.T) {
	dir := writeModel(t, sample)
	ca := newTestCA(t, "nexus")
	k := newKey(t)
	ctx := context.Background()
	trust := Trust{CACertificatesPEM: certPEM(ca.root)}
	signWith := func(chain ...*x509.Certificate) []byte {
		t.Helper()
		b, err := SignWithCertificate(dir, k, chain, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	leaf := ca.leaf(t, k)
	// The root in the bundle too, as model_signing writes it.
	if _, err := Verify(ctx, signWith(leaf, ca.inter, ca.root), dir, trust); err != nil {
		t.Errorf("chain with root: %v", err)
	}
	// Without the intermediate the leaf does not chain to the root.
	if _, err := Verify(ctx, signWith(leaf), dir, trust); !errors.Is(err, ErrSignature) {
		t.Errorf("no intermediate: %v", err)
	}
	for name, o := range map[string]leafOpt{
		"expired": func(c *x509.Certificate) {
			c.NotBefore, c.NotAfter = time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour)
		},
		"server auth only":   func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} },
		"no digital sig use": func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageKeyEncipherment },
	} {
		if _, err := Verify(ctx, signWith(ca.leaf(t, k, o), ca.inter), dir, trust); !errors.Is(err, ErrSignature) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A certificate for another key than the signer's.
	if _, err := SignWithCertificate(dir, k, []*x509.Certificate{ca.leaf(t, newKey(t))}, Options{}); err == nil {
		t.Error("certificate for another key accepted")
	}
	if _, err := SignWithCertificate(dir, k, nil, Options{}); err == nil {
		t.Error("no certificate accepted")
	}
	// A bundle whose chain is replaced by another CA's certificate for
	// the same key: the signature still verifies, the chain does not.
	other := newTestCA(t, "other")
	swapped := editBundle(t, signWith(leaf, ca.inter), func(m map[string]any) {
		m["verificationMaterial"] = map[string]any{"x509CertificateChain": map[string]any{"certificates": []any{
			map[string]any{"rawBytes": base64.StdEncoding.EncodeToString(other.leaf(t, k).Raw)},
			map[string]any{"rawBytes": base64.StdEncoding.EncodeToString(other.inter.Raw)},
		}}}
	})
	if _, err := Verify(ctx, swapped, dir, trust); !errors.Is(err, ErrSignature) {
		t.Errorf("swapped chain: %v", err)
	}
	if _, err := Verify(ctx, swapped, dir, Trust{CACertificatesPEM: certPEM(other.root)}); err != nil {
		t.Errorf("swapped chain, its own CA: %v", err)
	}
}

func TestSignRefusesKeys(t *testing.T) {
	dir := writeModel(t, sample)
	k, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Sign(dir, k, Options{}); err == nil {
		t.Error("P-224 accepted")
	}
	if _, err := Sign(dir, newKey(t), Options{Method: "bogus"}); err == nil {
		t.Error("bad options accepted")
	}
}
