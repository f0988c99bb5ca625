package keys

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/atomicfile"
)

// KEK wraps data keys. Wrapped keys name the KEK version that wrapped
// them, so a rotated KEK still unwraps older ones until they are rewrapped
// or the old version is retired.
type KEK interface {
	// Name says where the KEK lives (no secret).
	Name() string
	Wrap(ctx context.Context, dek, aad []byte) ([]byte, error)
	Unwrap(ctx context.Context, wrapped, aad []byte) ([]byte, error)
	// Rotate makes a new version current; older ones still unwrap.
	Rotate(ctx context.Context) error
	// Current is the version new wraps use and when it was made.
	Current(ctx context.Context) (KEKVersion, error)
	// Rewrap moves a wrapped key to the current version without the
	// plaintext DEK leaving the KEK where the backend allows it.
	Rewrap(ctx context.Context, wrapped, aad []byte) ([]byte, error)
	// WrappedVersion reads the version a wrapped key names.
	WrappedVersion(wrapped []byte) (int, error)
}

// KEKVersion is a KEK version and its creation time.
type KEKVersion struct {
	Version   int       `json:"version"`
	CreatedAt time.Time `json:"created_at"`
}

// LocalKEK keeps versioned 256-bit KEKs in a keyring file (0600, replaced
// atomically), created on first use. It serves a single control plane in
// development; production keeps the KEK in Vault Transit.
type LocalKEK struct {
	Path string
	Now  func() time.Time

	mu   sync.Mutex
	ring *localRing
}

var _ KEK = (*LocalKEK)(nil)

type localRing struct {
	Versions []localVersion `json:"versions"`
}

type localVersion struct {
	Version   int       `json:"version"`
	Key       []byte    `json:"key"`
	CreatedAt time.Time `json:"created_at"`
}

const localPrefix = "nexus-local:v"

// Name implements KEK.
func (k *LocalKEK) Name() string { return "local keyring " + k.Path }

func (k *LocalKEK) now() time.Time {
	if k.Now != nil {
		return k.Now()
	}
	return time.Now()
}

// load reads the keyring, creating it with one version if it is missing.
// Callers hold mu.
func (k *LocalKEK) load() (*localRing, error) {
	if k.ring != nil {
		return k.ring, nil
	}
	raw, err := os.ReadFile(k.Path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		ring := &localRing{}
		if err := k.addVersion(ring); err != nil {
			return nil, err
		}
		k.ring = ring
		return ring, nil
	case err != nil:
		return nil, fmt.Errorf("%s: %w", k.Name(), err)
	}
	if st, err := os.Stat(k.Path); err == nil && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s: mode %v lets others read the keys; chmod 600 it", k.Name(), st.Mode().Perm())
	}
	var ring localRing
	if err := json.Unmarshal(raw, &ring); err != nil {
		return nil, fmt.Errorf("%s is corrupt: %w", k.Name(), err)
	}
	if len(ring.Versions) == 0 {
		return nil, fmt.Errorf("%s holds no key versions", k.Name())
	}
	for i, v := range ring.Versions {
		if v.Version != i+1 || len(v.Key) != 32 {
			return nil, fmt.Errorf("%s is corrupt at version %d", k.Name(), i+1)
		}
	}
	k.ring = &ring
	return k.ring, nil
}

// addVersion appends a fresh key and writes the file before the version
// is used: a key is never used that is not on disk.
func (k *LocalKEK) addVersion(ring *localRing) error {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	next := append(ring.Versions[:len(ring.Versions):len(ring.Versions)],
		localVersion{Version: len(ring.Versions) + 1, Key: key, CreatedAt: k.now().UTC()})
	raw, err := json.MarshalIndent(localRing{Versions: next}, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(k.Path, raw, 0o600); err != nil {
		return fmt.Errorf("%s: write: %w", k.Name(), err)
	}
	ring.Versions = next
	return nil
}

// Wrap implements KEK.
func (k *LocalKEK) Wrap(_ context.Context, dek, aad []byte) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	ring, err := k.load()
	if err != nil {
		return nil, err
	}
	return k.wrap(ring.Versions[len(ring.Versions)-1], dek, aad)
}

func (k *LocalKEK) wrap(v localVersion, dek, aad []byte) ([]byte, error) {
	aead, err := newGCM(v.Key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, nonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	ct := aead.Seal(nonce, nonce, dek, aad)
	return []byte(localPrefix + strconv.Itoa(v.Version) + ":" + base64.StdEncoding.EncodeToString(ct)), nil
}

// Unwrap implements KEK.
func (k *LocalKEK) Unwrap(_ context.Context, wrapped, aad []byte) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	ring, err := k.load()
	if err != nil {
		return nil, err
	}
	return k.unwrap(ring, wrapped, aad)
}

func (k *LocalKEK) unwrap(ring *localRing, wrapped, aad []byte) ([]byte, error) {
	ver, body, err := splitLocal(wrapped)
	if err != nil {
		return nil, err
	}
	if ver > len(ring.Versions) {
		return nil, fmt.Errorf("%s has no version %d", k.Name(), ver)
	}
	ct, err := base64.StdEncoding.DecodeString(body)
	if err != nil || len(ct) < nonceSize+tagSize {
		return nil, errors.New("wrapped data key is malformed")
	}
	aead, err := newGCM(ring.Versions[ver-1].Key)
	if err != nil {
		return nil, err
	}
	dek, err := aead.Open(nil, ct[:nonceSize], ct[nonceSize:], aad)
	if err != nil {
		return nil, errors.New("wrapped data key does not unwrap: wrong key version or context")
	}
	return dek, nil
}

func splitLocal(wrapped []byte) (int, string, error) {
	rest, ok := strings.CutPrefix(string(wrapped), localPrefix)
	if !ok {
		return 0, "", errors.New("wrapped data key was not wrapped by a local keyring")
	}
	vs, body, ok := strings.Cut(rest, ":")
	ver, err := strconv.Atoi(vs)
	if !ok || err != nil || ver < 1 {
		return 0, "", errors.New("wrapped data key names no valid version")
	}
	return ver, body, nil
}

// WrappedVersion implements KEK.
func (k *LocalKEK) WrappedVersion(wrapped []byte) (int, error) {
	v, _, err := splitLocal(wrapped)
	return v, err
}

// Rotate implements KEK.
func (k *LocalKEK) Rotate(_ context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	ring, err := k.load()
	if err != nil {
		return err
	}
	return k.addVersion(ring)
}

// Current implements KEK.
func (k *LocalKEK) Current(_ context.Context) (KEKVersion, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	ring, err := k.load()
	if err != nil {
		return KEKVersion{}, err
	}
	v := ring.Versions[len(ring.Versions)-1]
	return KEKVersion{Version: v.Version, CreatedAt: v.CreatedAt}, nil
}

// Rewrap implements KEK.
func (k *LocalKEK) Rewrap(_ context.Context, wrapped, aad []byte) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	ring, err := k.load()
	if err != nil {
		return nil, err
	}
	dek, err := k.unwrap(ring, wrapped, aad)
	if err != nil {
		return nil, err
	}
	defer clear(dek)
	return k.wrap(ring.Versions[len(ring.Versions)-1], dek, aad)
}
