package oms

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseStatement: untrusted statements never panic, and whatever
// parses encodes and parses back to the same thing.
func FuzzParseStatement(f *testing.F) {
	f.Add(validStatement(nil))
	f.Add(shardStatement("f:0:4", "f:4:8", "f:8:10"))
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v1","predicateType":"https://model_signing/signature/v1.0","subject":[{"name":"x","digest":{"sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}}],"predicate":{"serialization":{"method":"files","hash_type":"sha256","allow_symlinks":true},"resources":[]}}`))
	// model_signing's own statements.
	dirs, _ := filepath.Glob(filepath.Join(os.Getenv("NEXUS_OMS_CONFORMANCE_DIR"), "v*"))
	for _, d := range dirs {
		var b struct {
			DSSEEnvelope struct {
				Payload string `json:"payload"`
			} `json:"dsseEnvelope"`
		}
		raw, err := os.ReadFile(filepath.Join(d, "model.sig"))
		if err != nil || json.Unmarshal(raw, &b) != nil {
			continue
		}
		if p, err := base64.StdEncoding.DecodeString(b.DSSEEnvelope.Payload); err == nil {
			f.Add(p)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := ParseStatement(data)
		if err != nil {
			if !errors.Is(err, ErrStatement) {
				t.Fatalf("error not ErrStatement: %v", err)
			}
			return
		}
		m := ModelManifest{ModelName: st.ModelName, Serialization: st.Serialization, Resources: st.Resources, RootDigest: st.RootDigest}
		enc, err := encodeStatement(m)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		again, err := ParseStatement(enc)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", enc, err)
		}
		if again.ModelName != st.ModelName || !bytes.Equal(again.RootDigest, st.RootDigest) || len(again.Resources) != len(st.Resources) ||
			again.Serialization.Method != st.Serialization.Method || again.Serialization.ShardSize != st.Serialization.ShardSize {
			t.Fatalf("round trip changed %+v to %+v", st, again)
		}
		for i := range st.Resources {
			if again.Resources[i].Name != st.Resources[i].Name || !bytes.Equal(again.Resources[i].Digest, st.Resources[i].Digest) {
				t.Fatalf("resource %d: %+v → %+v", i, st.Resources[i], again.Resources[i])
			}
		}
	})
}

// FuzzVerifyBundle: untrusted bundles never panic the verifier, and one
// that verifies matches the model.
func FuzzVerifyBundle(f *testing.F) {
	dir := writeModel(f, map[string]string{"a": "1", "b/c": "22"})
	k := newKey(f)
	ca := newTestCA(f, "fuzz")
	leaf := ca.leaf(f, k)
	keyTrust := Trust{PublicKeyPEM: publicPEM(f, k)}
	caTrust := Trust{CACertificatesPEM: certPEM(ca.root)}
	f.Add(sign(f, dir, k, Options{}))
	f.Add(sign(f, dir, k, Options{Method: MethodShards, ShardSize: 1}))
	cb, err := SignWithCertificate(dir, k, []*x509.Certificate{leaf, ca.inter, ca.root}, Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(cb)
	// The older key material form, with this key.
	der, _ := x509.MarshalPKIXPublicKey(k.Public())
	var legacy map[string]any
	if err := json.Unmarshal(sign(f, dir, k, Options{}), &legacy); err != nil {
		f.Fatal(err)
	}
	legacy["verificationMaterial"] = map[string]any{"publicKey": map[string]any{
		"rawBytes": base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), "keyDetails": "PKIX_ECDSA_P256_SHA_256",
	}}
	lb, _ := json.Marshal(legacy)
	f.Add(lb)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, tr := range []Trust{keyTrust, caTrust} {
			res, err := Verify(context.Background(), data, dir, tr)
			if err != nil {
				continue
			}
			s := res.Serialization
			m, err := Manifest(dir, Options{Method: s.Method, HashType: s.HashType, ShardSize: s.ShardSize, AllowSymlinks: s.AllowSymlinks, IgnorePaths: s.IgnorePaths})
			if err != nil || res.RootDigest != m.RootDigestHex() {
				t.Fatalf("verified with root %s, model root %s (%v)", res.RootDigest, m.RootDigestHex(), err)
			}
		}
	})
}
