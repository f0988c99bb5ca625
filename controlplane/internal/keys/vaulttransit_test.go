//go:build vaulttransit

package keys_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"

	vault "github.com/hashicorp/vault/api"

	"github.com/secureai-nexus/nexus/controlplane/internal/keys"
	"github.com/secureai-nexus/nexus/controlplane/internal/store"
)

// These run against a real Vault (or OpenBao) with Transit mounted at
// transit/ (VAULT_ADDR, VAULT_TOKEN, VAULT_CACERT), with -tags
// vaulttransit. They are not in e2e/vault: Vault v1.21.4's builtin
// Transit backend needs a newer sdk than its test core builds with, and
// no published sdk serves both.

func transitKEK(t *testing.T) (*keys.VaultTransitKEK, *vault.Client) {
	t.Helper()
	if os.Getenv("VAULT_ADDR") == "" {
		t.Fatal("VAULT_ADDR is not set: these need a Vault with Transit mounted at transit/")
	}
	client, err := vault.NewClient(vault.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return &keys.VaultTransitKEK{Client: client, Mount: "transit", Key: "nexus-test-" + hex.EncodeToString(b)}, client
}

func TestVaultTransitKEK(t *testing.T) {
	ctx := context.Background()
	kek, client := transitKEK(t)
	if err := kek.Ensure(ctx, keys.TransitKeyConfig{AutoRotatePeriod: 4 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	info, err := client.Logical().Read("transit/keys/" + kek.Key)
	if err != nil || info.Data["derived"] != true || info.Data["auto_rotate_period"].(json.Number).String() != "14400" {
		t.Fatalf("key config = %v, %v", info.Data, err)
	}
	if !kek.Derived {
		t.Fatal("Ensure did not record the key as derived")
	}

	// Wrap and unwrap with a derivation context; another context fails.
	dek := bytes.Repeat([]byte{7}, 32)
	w1, err := kek.Wrap(ctx, dek, []byte("ctx-a"))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := kek.WrappedVersion(w1); err != nil || v != 1 {
		t.Fatalf("wrapped version = %d, %v", v, err)
	}
	if got, err := kek.Unwrap(ctx, w1, []byte("ctx-a")); err != nil || !bytes.Equal(got, dek) {
		t.Fatalf("unwrap = %x, %v", got, err)
	}
	if _, err := kek.Unwrap(ctx, w1, []byte("ctx-b")); err == nil {
		t.Fatal("unwrapped under another context")
	}

	// A keyring over it: seal, rotate (rewrap), and the data still opens
	// after a restart.
	dir := t.TempDir()
	st, err := store.OpenSQLite(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c := &clock{t: time.Now().UTC()}
	ring, err := keys.New(ctx, keys.Options{Tables: st, KEK: kek, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := ring.Seal(ctx, inference, []byte("inference capture"))
	if err != nil {
		t.Fatal(err)
	}
	subject := ring.SubjectSealer("dpo")
	consent, err := subject.Seal(ctx, subj, "consent", []byte("consent record"))
	if err != nil {
		t.Fatal(err)
	}
	rot, err := ring.RotateKEK(ctx, "admin")
	if err != nil || rot.From != 1 || rot.To != 2 || rot.Rewrapped != 2 {
		t.Fatalf("rotate = %+v, %v", rot, err)
	}
	cur, err := kek.Current(ctx)
	if err != nil || cur.Version != 2 || time.Since(cur.CreatedAt) > time.Minute {
		t.Fatalf("current = %+v, %v", cur, err)
	}
	// Rewrap outside a rotation moves an old wrap to the newest version.
	w2, err := kek.Rewrap(ctx, w1, []byte("ctx-a"))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := kek.WrappedVersion(w2); v != 2 {
		t.Fatalf("rewrapped to v%d, want v2", v)
	}

	// Retire version 1: what only it wrapped is gone, what was rewrapped
	// still opens, from a fresh keyring (nothing cached).
	if err := kek.Configure(ctx, keys.TransitKeyConfig{MinDecryptionVersion: 2}); err != nil {
		t.Fatal(err)
	}
	if m, err := kek.MinDecryptionVersion(ctx); err != nil || m != 2 {
		t.Fatalf("min_decryption_version = %d, %v", m, err)
	}
	if _, err := kek.Unwrap(ctx, w1, []byte("ctx-a")); err == nil {
		t.Fatal("a v1 wrap still unwraps below min_decryption_version")
	}
	if got, err := kek.Unwrap(ctx, w2, []byte("ctx-a")); err != nil || !bytes.Equal(got, dek) {
		t.Fatalf("the rewrapped key: %v", err)
	}
	if err := kek.Trim(ctx, 2); err != nil {
		t.Fatal(err)
	}
	again, err := keys.New(ctx, keys.Options{Tables: st, KEK: kek, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := again.Open(ctx, inference, sealed); err != nil || string(pt) != "inference capture" {
		t.Fatalf("data unreadable after rotation and retirement of v1: %v", err)
	}
	if pt, err := again.SubjectSealer("dpo").Open(ctx, subj, "consent", consent); err != nil || string(pt) != "consent record" {
		t.Fatalf("subject data unreadable: %v", err)
	}

	// Crypto-shredding with Transit: erasure and retention.
	if err := again.SubjectSealer("dpo").ForgetSubject(ctx, subj); err != nil {
		t.Fatal(err)
	}
	if _, err := again.SubjectSealer("dpo").Open(ctx, subj, "consent", consent); !errors.Is(err, keys.ErrDestroyed) {
		t.Fatalf("erased subject: %v, want ErrDestroyed", err)
	}
	c.Add(26 * time.Hour)
	if res, err := again.Sweep(ctx); err != nil || len(res.Destroyed) != 1 {
		t.Fatalf("sweep = %+v, %v", res, err)
	}
	if _, err := again.Open(ctx, inference, sealed); !errors.Is(err, keys.ErrDestroyed) {
		t.Fatalf("expired data: %v, want ErrDestroyed", err)
	}
}

// TestVaultTransitAssociatedData: a key made without derivation binds the
// wrap's context as AES-GCM associated data instead.
func TestVaultTransitAssociatedData(t *testing.T) {
	ctx := context.Background()
	kek, client := transitKEK(t)
	if _, err := client.Logical().Write("transit/keys/"+kek.Key, map[string]any{"type": "aes256-gcm96"}); err != nil {
		t.Fatal(err)
	}
	if err := kek.Ensure(ctx, keys.TransitKeyConfig{}); err != nil {
		t.Fatal(err)
	}
	if kek.Derived {
		t.Fatal("a non-derived key read as derived")
	}
	dek := bytes.Repeat([]byte{9}, 32)
	w, err := kek.Wrap(ctx, dek, []byte("aad-a"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := kek.Unwrap(ctx, w, []byte("aad-a")); err != nil || !bytes.Equal(got, dek) {
		t.Fatalf("unwrap = %v", err)
	}
	if _, err := kek.Unwrap(ctx, w, []byte("aad-b")); err == nil {
		t.Fatal("unwrapped under other associated data")
	}
	if err := kek.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	w2, err := kek.Rewrap(ctx, w, []byte("aad-a"))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := kek.WrappedVersion(w2); v != 2 {
		t.Fatalf("rewrapped to v%d, want v2", v)
	}
	if got, err := kek.Unwrap(ctx, w2, []byte("aad-a")); err != nil || !bytes.Equal(got, dek) {
		t.Fatalf("unwrap the rewrapped key: %v", err)
	}
}
