package ca

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	vault "github.com/hashicorp/vault/api"
)

// VaultKEK keeps the key-encryption key in Vault's KV v2 secrets engine,
// so the sealed CA on disk is useless without Vault. The key is created
// on first use with check-and-set 0 (create only): two control planes
// starting together cannot each write their own.
type VaultKEK struct {
	Client *vault.Client
	// Mount is the KV v2 mount ("secret"); Path the secret under it
	// ("nexus/ca-kek"); Field the key inside it ("key", base64).
	Mount, Path, Field string
}

// ParseVaultKEKRef splits "MOUNT/PATH[#FIELD]" as the flag takes it.
func ParseVaultKEKRef(ref string) (mount, path, field string, err error) {
	ref, field, _ = strings.Cut(ref, "#")
	if field == "" {
		field = "key"
	}
	mount, path, ok := strings.Cut(ref, "/")
	if !ok || mount == "" || path == "" {
		return "", "", "", fmt.Errorf("vault KEK %q: want MOUNT/PATH[#FIELD], e.g. secret/nexus/ca-kek", ref)
	}
	return mount, path, field, nil
}

// Name implements KEK.
func (v VaultKEK) Name() string {
	return fmt.Sprintf("vault %s KV v2 %s/%s#%s", v.Client.Address(), v.Mount, v.Path, v.Field)
}

// Key implements KEK.
func (v VaultKEK) Key(ctx context.Context) ([]byte, error) {
	kv := v.Client.KVv2(v.Mount)
	s, err := kv.Get(ctx, v.Path)
	if errors.Is(err, vault.ErrSecretNotFound) {
		raw := make([]byte, 32)
		if _, err := rand.Read(raw); err != nil {
			return nil, err
		}
		_, err = kv.Put(ctx, v.Path, map[string]any{v.Field: base64.StdEncoding.EncodeToString(raw)}, vault.WithCheckAndSet(0))
		if err != nil && !strings.Contains(err.Error(), "check-and-set") {
			return nil, fmt.Errorf("%s: create: %w", v.Name(), err)
		}
		// Whoever won the race, the stored key is the key.
		s, err = kv.Get(ctx, v.Path)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", v.Name(), err)
	}
	enc, ok := s.Data[v.Field].(string)
	if !ok {
		return nil, fmt.Errorf("%s: field %q is missing or not a string", v.Name(), v.Field)
	}
	key, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("%s: field %q must be 32 bytes, base64", v.Name(), v.Field)
	}
	return key, nil
}
