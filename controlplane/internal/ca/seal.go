package ca

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/secureai-nexus/nexus/controlplane/internal/atomicfile"
)

// KEK supplies the key-encryption key that seals the CA's keys at rest:
// a local 0600 file by default, Vault KV v2 in production.
type KEK interface {
	// Key returns the 32-byte AES-256 key.
	Key(ctx context.Context) ([]byte, error)
	// Name says where the key lives, for logs and errors.
	Name() string
}

// sealMagic starts every sealed file so a wrong file is named as such
// instead of failing as a bad ciphertext.
var sealMagic = []byte("nexus-ca-sealed-v1\n")

// Seal encrypts plaintext with AES-256-GCM under kek; aad binds the
// ciphertext to its purpose (here, the trust domain).
func Seal(kek, plaintext, aad []byte) ([]byte, error) {
	aead, err := newAEAD(kek)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	out := append(append([]byte{}, sealMagic...), nonce...)
	return aead.Seal(out, nonce, plaintext, aad), nil
}

// ErrUnseal means a sealed file could not be opened: wrong key, wrong
// trust domain, or a file that was changed.
var ErrUnseal = errors.New("cannot unseal: wrong key-encryption key, or the file was altered")

// Unseal reverses Seal.
func Unseal(kek, sealed, aad []byte) ([]byte, error) {
	if !bytes.HasPrefix(sealed, sealMagic) {
		return nil, errors.New("unseal: not a sealed Nexus CA file")
	}
	aead, err := newAEAD(kek)
	if err != nil {
		return nil, err
	}
	body := sealed[len(sealMagic):]
	if len(body) < aead.NonceSize()+aead.Overhead() {
		return nil, errors.New("unseal: file is truncated")
	}
	plain, err := aead.Open(nil, body[:aead.NonceSize()], body[aead.NonceSize():], aad)
	if err != nil {
		return nil, ErrUnseal
	}
	return plain, nil
}

func newAEAD(kek []byte) (cipher.AEAD, error) {
	if len(kek) != 32 {
		return nil, fmt.Errorf("key-encryption key is %d bytes, want 32 (AES-256)", len(kek))
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// FileKEK is a key-encryption key in a local file, created on first use.
// A file readable by anyone but its owner is refused.
type FileKEK struct{ Path string }

// Name implements KEK.
func (f FileKEK) Name() string { return "file " + f.Path }

// Key implements KEK.
func (f FileKEK) Key(context.Context) ([]byte, error) {
	st, err := os.Stat(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		if err := atomicfile.Write(f.Path, key, 0o600); err != nil {
			return nil, fmt.Errorf("create key-encryption key: %w", err)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("key-encryption key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("key-encryption key %s has mode %04o: it must be readable by its owner only (chmod 600)", f.Path, st.Mode().Perm())
	}
	key, err := os.ReadFile(f.Path)
	if err != nil {
		return nil, fmt.Errorf("key-encryption key: %w", err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("key-encryption key %s is %d bytes, want 32", f.Path, len(key))
	}
	return key, nil
}

// LoadOrCreate opens the sealed CA at path, or creates a CA and seals it
// there when the file does not exist yet.
func LoadOrCreate(ctx context.Context, path string, kek KEK, td spiffeid.TrustDomain, opts Options) (c *CA, created bool, err error) {
	key, err := kek.Key(ctx)
	if err != nil {
		return nil, false, err
	}
	aad := []byte(td.IDString())
	sealed, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		c, err := New(td, opts)
		if err != nil {
			return nil, false, err
		}
		if err := saveWithKey(c, path, key); err != nil {
			return nil, false, err
		}
		return c, true, nil
	case err != nil:
		return nil, false, fmt.Errorf("read CA %s: %w", path, err)
	}
	plain, err := Unseal(key, sealed, aad)
	if err != nil {
		return nil, false, fmt.Errorf("CA %s with key-encryption key from %s: %w", path, kek.Name(), err)
	}
	c, err = Restore(td, plain, opts)
	if err != nil {
		return nil, false, fmt.Errorf("CA %s: %w", path, err)
	}
	return c, false, nil
}

// Save seals the CA's state to path, replacing it atomically.
func Save(ctx context.Context, c *CA, path string, kek KEK) error {
	key, err := kek.Key(ctx)
	if err != nil {
		return err
	}
	return saveWithKey(c, path, key)
}

func saveWithKey(c *CA, path string, key []byte) error {
	plain, err := c.MarshalState()
	if err != nil {
		return err
	}
	sealed, err := Seal(key, plain, []byte(c.td.IDString()))
	if err != nil {
		return err
	}
	return atomicfile.Write(path, sealed, 0o600)
}
