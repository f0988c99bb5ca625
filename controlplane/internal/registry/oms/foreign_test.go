package oms

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestForeignVerifier runs npm's @sigstore/verify (through
// testdata/sigstore-verify.cjs) on bundles Sign made: a second,
// independent implementation of the bundle, DSSE and key-hint formats, and
// of the OMS re-hash. It needs node and the package installed outside the
// repository: NEXUS_SIGSTORE_VERIFY_DIR names it (make test sets it);
// unset, the test installs it itself with scripts/sigstore-verify.sh, into
// the same cache outside the repository. It never skips.
func TestForeignVerifier(t *testing.T) {
	modDir := os.Getenv("NEXUS_SIGSTORE_VERIFY_DIR")
	if modDir == "" {
		out, err := exec.Command("../../../../scripts/sigstore-verify.sh").Output()
		if err != nil {
			t.Fatalf("NEXUS_SIGSTORE_VERIFY_DIR is not set and scripts/sigstore-verify.sh could not install npm's @sigstore/verify (it needs npm: apt-get install npm): %v", err)
		}
		modDir = strings.TrimSpace(string(out))
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("NEXUS_SIGSTORE_VERIFY_DIR is set but node is not on PATH: %v", err)
	}
	if _, err := os.Stat(filepath.Join(modDir, "node_modules", "@sigstore", "verify")); err != nil {
		t.Fatalf("NEXUS_SIGSTORE_VERIFY_DIR=%s has no node_modules/@sigstore/verify: %v", modDir, err)
	}
	script, err := filepath.Abs(filepath.Join("testdata", "sigstore-verify.cjs"))
	if err != nil {
		t.Fatal(err)
	}

	type verdict struct {
		OK        bool   `json:"ok"`
		Error     string `json:"error"`
		Hint      string `json:"hint"`
		Root      string `json:"root"`
		Resources int    `json:"resources"`
		Rehashed  int    `json:"rehashed"`
	}
	run := func(t *testing.T, bundle []byte, k crypto.Signer, model string) verdict {
		t.Helper()
		tmp := t.TempDir()
		bp, kp := filepath.Join(tmp, "model.sig"), filepath.Join(tmp, "key.pub")
		if err := os.WriteFile(bp, bundle, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(kp, publicPEM(t, k), 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{script, bp, kp}
		if model != "" {
			args = append(args, model)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, node, args...)
		cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(modDir, "node_modules"))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, _ := cmd.Output()
		var v verdict
		if err := json.Unmarshal(bytes.TrimSpace(out), &v); err != nil {
			t.Fatalf("node printed %q (stderr %q): %v", out, stderr.String(), err)
		}
		return v
	}

	p256, p384 := newKey(t), mustECDSA(t, elliptic.P384())
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"weights/a.safetensors": "0123456789", "config.json": `{"x":1}`, "é/ü.bin": "unicode", "a.b": "1", "a/b": "2", "empty": ""}
	for _, c := range []struct {
		name string
		key  crypto.Signer
		opts Options
	}{
		{"P-256 files", p256, Options{}},
		{"P-256 shards", p256, Options{Method: MethodShards, ShardSize: 3}},
		{"Ed25519 files", ed, Options{}},
		{"P-256 symlinks", p256, Options{AllowSymlinks: true, IgnorePaths: []string{"a.b"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := writeModel(t, files)
			if c.opts.AllowSymlinks {
				symlink(t, "config.json", filepath.Join(dir, "link.json"))
			}
			b := sign(t, dir, c.key, c.opts)
			m := mustManifest(t, dir, c.opts)
			v := run(t, b, c.key, dir)
			hint, _ := KeyHint(c.key.Public())
			if !v.OK || v.Hint != hint || v.Root != m.RootDigestHex() || v.Resources != len(m.Resources) || v.Rehashed != len(m.Resources) {
				t.Fatalf("foreign verifier: %+v (want hint %s root %s, %d resources)", v, hint, m.RootDigestHex(), len(m.Resources))
			}
			// It refuses what we refuse.
			if v := run(t, b, newKey(t), ""); v.OK {
				t.Errorf("other key accepted: %+v", v)
			}
			if v := run(t, flipPayload(t, b), c.key, ""); v.OK {
				t.Errorf("flipped payload accepted: %+v", v)
			}
			if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"x":2}`), 0o644); err != nil {
				t.Fatal(err)
			}
			if v := run(t, b, c.key, dir); v.OK || !strings.Contains(v.Error, "changed config.json") {
				t.Errorf("changed model: %+v", v)
			}
		})
	}

	// P-384: model_signing (and so this package) signs over SHA-384, as
	// the key details PKIX_ECDSA_P384_SHA_384 say; @sigstore/verify 4.1.3
	// verifies a DSSE signature with node's crypto.verify and no digest
	// name, which for ECDSA means SHA-256 whatever the curve, so it refuses
	// such a bundle: ours and model_signing's own alike.
	t.Run("P-384", func(t *testing.T) {
		dir := writeModel(t, files)
		b := sign(t, dir, p384, Options{})
		v := run(t, b, p384, dir)
		t.Logf("our P-384 bundle under @sigstore/verify: %+v", v)
		if v.OK {
			t.Log("@sigstore/verify now accepts P-384/SHA-384 DSSE bundles")
		} else if !strings.Contains(v.Error, "SIGNATURE_ERROR") {
			t.Fatalf("P-384 refused for another reason: %+v", v)
		}
		if _, err := verifyKey(dir, b, p384); err != nil {
			t.Fatalf("our own verifier: %v", err)
		}
	})
}

func mustECDSA(t *testing.T, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func flipPayload(t *testing.T, b []byte) []byte {
	t.Helper()
	p := payloadOf(t, b)
	return editBundle(t, b, func(m map[string]any) {
		q := bytes.Clone(p)
		q[len(q)/3] ^= 0x01
		envelope(m)["payload"] = base64.StdEncoding.EncodeToString(q)
	})
}
