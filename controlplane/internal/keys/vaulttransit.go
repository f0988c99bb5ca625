package keys

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	vault "github.com/hashicorp/vault/api"
)

// VaultTransitKEK wraps data keys with a Vault Transit key: the KEK never
// leaves Vault. With Derived (the default made by Ensure) the wrap's
// associated data is the key-derivation context, so each data key is
// wrapped under its own derived key; without it the associated data goes
// to AES-GCM as associated_data.
type VaultTransitKEK struct {
	Client *vault.Client
	// Mount is the Transit mount ("transit"), Key the key's name.
	Mount, Key string
	// Derived says the key was created with derived=true.
	Derived bool
}

var _ KEK = (*VaultTransitKEK)(nil)

// TransitKeyConfig is the part of a Transit key's configuration Nexus
// sets. Zero fields are left as they are.
type TransitKeyConfig struct {
	// AutoRotatePeriod makes Vault rotate the key on its own (at least 1h).
	AutoRotatePeriod time.Duration
	// MinDecryptionVersion retires older versions: what they wrapped can
	// no longer be unwrapped (rewrap first).
	MinDecryptionVersion int
}

func (v *VaultTransitKEK) mount() string {
	if v.Mount == "" {
		return "transit"
	}
	return strings.Trim(v.Mount, "/")
}

func (v *VaultTransitKEK) path(op string) string {
	return v.mount() + "/" + op + "/" + v.Key
}

// Name implements KEK.
func (v *VaultTransitKEK) Name() string {
	return fmt.Sprintf("vault %s transit %s/keys/%s", v.Client.Address(), v.mount(), v.Key)
}

// Ensure creates the key (aes256-gcm96, derived) if it does not exist and
// applies cfg. An existing key keeps its type; Derived is read from it.
func (v *VaultTransitKEK) Ensure(ctx context.Context, cfg TransitKeyConfig) error {
	info, err := v.read(ctx)
	if err != nil {
		return err
	}
	if info == nil {
		if _, err := v.Client.Logical().WriteWithContext(ctx, v.mount()+"/keys/"+v.Key,
			map[string]any{"type": "aes256-gcm96", "derived": true}); err != nil {
			return fmt.Errorf("%s: create: %w", v.Name(), err)
		}
		if info, err = v.read(ctx); err != nil {
			return err
		}
		if info == nil {
			return fmt.Errorf("%s: key not found after creating it", v.Name())
		}
	}
	v.Derived, _ = info["derived"].(bool)
	return v.Configure(ctx, cfg)
}

// Configure sets the key's rotation period and least decryption version.
func (v *VaultTransitKEK) Configure(ctx context.Context, cfg TransitKeyConfig) error {
	body := map[string]any{}
	if cfg.AutoRotatePeriod > 0 {
		body["auto_rotate_period"] = cfg.AutoRotatePeriod.String()
	}
	if cfg.MinDecryptionVersion > 0 {
		body["min_decryption_version"] = cfg.MinDecryptionVersion
	}
	if len(body) == 0 {
		return nil
	}
	if _, err := v.Client.Logical().WriteWithContext(ctx, v.mount()+"/keys/"+v.Key+"/config", body); err != nil {
		return fmt.Errorf("%s: configure: %w", v.Name(), err)
	}
	return nil
}

// Trim deletes key versions below minAvailable from Vault's storage (they
// must already be below min_decryption_version): wrapped keys under them,
// including in backups of the store, become unrecoverable.
func (v *VaultTransitKEK) Trim(ctx context.Context, minAvailable int) error {
	if _, err := v.Client.Logical().WriteWithContext(ctx, v.mount()+"/keys/"+v.Key+"/trim",
		map[string]any{"min_available_version": minAvailable}); err != nil {
		return fmt.Errorf("%s: trim: %w", v.Name(), err)
	}
	return nil
}

func (v *VaultTransitKEK) read(ctx context.Context) (map[string]any, error) {
	s, err := v.Client.Logical().ReadWithContext(ctx, v.mount()+"/keys/"+v.Key)
	if err != nil {
		return nil, fmt.Errorf("%s: read: %w", v.Name(), err)
	}
	if s == nil || s.Data == nil {
		return nil, nil
	}
	return s.Data, nil
}

// body is a request with the wrap's associated data where the key takes it.
func (v *VaultTransitKEK) body(aad []byte, kv ...string) map[string]any {
	b := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		b[kv[i]] = kv[i+1]
	}
	if v.Derived {
		b["context"] = base64.StdEncoding.EncodeToString(aad)
	} else if len(aad) > 0 {
		b["associated_data"] = base64.StdEncoding.EncodeToString(aad)
	}
	return b
}

func (v *VaultTransitKEK) write(ctx context.Context, op string, body map[string]any, field string) (string, error) {
	s, err := v.Client.Logical().WriteWithContext(ctx, v.path(op), body)
	if err != nil {
		return "", fmt.Errorf("%s: %s: %w", v.Name(), op, err)
	}
	if s == nil {
		return "", fmt.Errorf("%s: %s: empty answer", v.Name(), op)
	}
	out, ok := s.Data[field].(string)
	if !ok || out == "" {
		return "", fmt.Errorf("%s: %s: answer has no %s", v.Name(), op, field)
	}
	return out, nil
}

// Wrap implements KEK.
func (v *VaultTransitKEK) Wrap(ctx context.Context, dek, aad []byte) ([]byte, error) {
	ct, err := v.write(ctx, "encrypt", v.body(aad, "plaintext", base64.StdEncoding.EncodeToString(dek)), "ciphertext")
	return []byte(ct), err
}

// Unwrap implements KEK.
func (v *VaultTransitKEK) Unwrap(ctx context.Context, wrapped, aad []byte) ([]byte, error) {
	pt, err := v.write(ctx, "decrypt", v.body(aad, "ciphertext", string(wrapped)), "plaintext")
	if err != nil {
		return nil, err
	}
	dek, err := base64.StdEncoding.DecodeString(pt)
	if err != nil {
		return nil, fmt.Errorf("%s: decrypt: plaintext is not base64", v.Name())
	}
	return dek, nil
}

// Rewrap implements KEK: with a derived key Vault decrypts and
// re-encrypts inside itself. Transit's rewrap takes no associated data,
// so a non-derived key's wrap is unwrapped and wrapped again here.
func (v *VaultTransitKEK) Rewrap(ctx context.Context, wrapped, aad []byte) ([]byte, error) {
	if !v.Derived && len(aad) > 0 {
		dek, err := v.Unwrap(ctx, wrapped, aad)
		if err != nil {
			return nil, err
		}
		defer clear(dek)
		return v.Wrap(ctx, dek, aad)
	}
	ct, err := v.write(ctx, "rewrap", v.body(aad, "ciphertext", string(wrapped)), "ciphertext")
	return []byte(ct), err
}

// Rotate implements KEK.
func (v *VaultTransitKEK) Rotate(ctx context.Context) error {
	if _, err := v.Client.Logical().WriteWithContext(ctx, v.mount()+"/keys/"+v.Key+"/rotate", nil); err != nil {
		return fmt.Errorf("%s: rotate: %w", v.Name(), err)
	}
	return nil
}

// Current implements KEK.
func (v *VaultTransitKEK) Current(ctx context.Context) (KEKVersion, error) {
	info, err := v.read(ctx)
	if err != nil {
		return KEKVersion{}, err
	}
	if info == nil {
		return KEKVersion{}, fmt.Errorf("%s: no such key", v.Name())
	}
	latest, err := intOf(info["latest_version"])
	if err != nil {
		return KEKVersion{}, fmt.Errorf("%s: latest_version: %w", v.Name(), err)
	}
	out := KEKVersion{Version: latest}
	keys, _ := info["keys"].(map[string]any)
	// Symmetric keys list each version's creation as Unix seconds;
	// asymmetric ones as an object with creation_time.
	switch t := keys[strconv.Itoa(latest)].(type) {
	case json.Number:
		if sec, err := t.Int64(); err == nil {
			out.CreatedAt = time.Unix(sec, 0).UTC()
		}
	case float64:
		out.CreatedAt = time.Unix(int64(t), 0).UTC()
	case map[string]any:
		if s, ok := t["creation_time"].(string); ok {
			out.CreatedAt, _ = time.Parse(time.RFC3339Nano, s)
		}
	}
	if out.CreatedAt.IsZero() {
		return KEKVersion{}, fmt.Errorf("%s: version %d has no creation time", v.Name(), latest)
	}
	return out, nil
}

// MinDecryptionVersion reads the key's least decryptable version.
func (v *VaultTransitKEK) MinDecryptionVersion(ctx context.Context) (int, error) {
	info, err := v.read(ctx)
	if err != nil {
		return 0, err
	}
	if info == nil {
		return 0, fmt.Errorf("%s: no such key", v.Name())
	}
	return intOf(info["min_decryption_version"])
}

// WrappedVersion implements KEK: Transit ciphertexts read "vault:vN:…".
func (v *VaultTransitKEK) WrappedVersion(wrapped []byte) (int, error) {
	rest, ok := strings.CutPrefix(string(wrapped), "vault:v")
	if !ok {
		return 0, errors.New("wrapped data key is not a Vault Transit ciphertext")
	}
	vs, _, ok := strings.Cut(rest, ":")
	n, err := strconv.Atoi(vs)
	if !ok || err != nil || n < 1 {
		return 0, errors.New("wrapped data key names no valid Transit version")
	}
	return n, nil
}

func intOf(x any) (int, error) {
	switch n := x.(type) {
	case json.Number:
		i, err := n.Int64()
		return int(i), err
	case float64:
		return int(n), nil
	case int:
		return n, nil
	}
	return 0, fmt.Errorf("not a number: %v", x)
}
