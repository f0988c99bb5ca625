// Package sealer keeps the decision-log values nexus-authz's masks hide,
// encrypted: AES-256-GCM under a data key leased from the control plane's
// keyring (POST /api/v1/admin/keys/leases, class logs by default), which
// the keyring destroys with its retention bucket — after that no one can
// read them. The key is renewed before its lease ends, off the decision
// path; without a valid key the values are dropped, never written in the
// clear.
package sealer

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/secureai-nexus/nexus/authz/internal/decisionlog"
)

// Purpose is what the leased keys seal, bound into every ciphertext.
const Purpose = "decision-log"

// Lease is a data key as the control plane leases it.
type Lease struct {
	ID       string    `json:"id"`
	Key      []byte    `json:"key"`
	Class    string    `json:"class"`
	NotAfter time.Time `json:"not_after"`
}

// AAD binds a ciphertext to its key, class and decision: a sealed input
// moved to another line does not open.
func AAD(class, keyID, decisionID string) []byte {
	return []byte("nexus-authz/" + Purpose + "\x00" + class + "\x00" + keyID + "\x00" + decisionID)
}

// Seal encrypts plaintext under l: a 12-byte nonce, then the ciphertext
// and tag.
func Seal(l Lease, decisionID string, plaintext []byte) ([]byte, error) {
	aead, err := gcm(l.Key)
	if err != nil {
		return nil, err
	}
	return sealWith(aead, l, decisionID, plaintext)
}

func sealWith(aead cipher.AEAD, l Lease, decisionID string, plaintext []byte) ([]byte, error) {
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, plaintext, AAD(l.Class, l.ID, decisionID)), nil
}

// Open reverses Seal.
func Open(l Lease, decisionID string, sealed []byte) ([]byte, error) {
	aead, err := gcm(l.Key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.NonceSize()+aead.Overhead() {
		return nil, errors.New("sealed input is too short")
	}
	pt, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], AAD(l.Class, l.ID, decisionID))
	if err != nil {
		return nil, errors.New("sealed input does not open under its key (altered, or moved from another line)")
	}
	return pt, nil
}

func gcm(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("data key has %d bytes, want 32 (AES-256)", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Leaser keeps a current lease from the control plane.
type Leaser struct {
	// URL is the control plane's admin API base; Token nexus-authz's
	// key-lease token; Class the retention class (default logs).
	URL, Token, Class string
	Client            *http.Client
	Log               *slog.Logger
	Now               func() time.Time

	mu   sync.Mutex
	cur  *Lease
	aead cipher.AEAD
}

// renewBefore is how long before a lease ends a new one is fetched.
const renewBefore = 2 * time.Minute

// Seal implements decisionlog.Sealer with the current lease.
func (s *Leaser) Seal(decisionID string, plaintext []byte) (decisionlog.SealedInput, bool) {
	s.mu.Lock()
	l, aead := s.cur, s.aead
	s.mu.Unlock()
	if l == nil || !s.now().Before(l.NotAfter) {
		return decisionlog.SealedInput{}, false
	}
	data, err := sealWith(aead, *l, decisionID, plaintext)
	if err != nil {
		return decisionlog.SealedInput{}, false
	}
	return decisionlog.SealedInput{Key: l.ID, Data: data}, true
}

// Use puts a lease in place, as Renew does with one it fetched.
func (s *Leaser) Use(l Lease) error {
	aead, err := gcm(l.Key)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil {
		clear(s.cur.Key)
	}
	s.cur, s.aead = &l, aead
	return nil
}

// Current returns the lease in use (nil before the first).
func (s *Leaser) Current() *Lease {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// Renew fetches a lease when there is none or the current one ends soon.
func (s *Leaser) Renew(ctx context.Context) error {
	s.mu.Lock()
	cur := s.cur
	s.mu.Unlock()
	if cur != nil && s.now().Add(renewBefore).Before(cur.NotAfter) {
		return nil
	}
	l, err := s.fetch(ctx)
	if err != nil {
		return err
	}
	return s.Use(l)
}

// Run renews the lease until ctx ends: every 10 s while it fails,
// otherwise when it nears its end.
func (s *Leaser) Run(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	lastErr := ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		next := 30 * time.Second
		if err := s.Renew(ctx); err != nil {
			if err.Error() != lastErr {
				s.Log.Error("cannot lease a decision-log data key: masked values are dropped, not kept", "error", err)
			}
			lastErr, next = err.Error(), 10*time.Second
		} else if lastErr != "" {
			s.Log.Info("decision-log data key leased again")
			lastErr = ""
		}
		t.Reset(next)
	}
}

func (s *Leaser) fetch(ctx context.Context) (Lease, error) {
	u, err := url.JoinPath(s.URL, "/api/v1/admin/keys/leases")
	if err != nil {
		return Lease{}, err
	}
	class := s.Class
	if class == "" {
		class = "logs"
	}
	body, _ := json.Marshal(map[string]string{"class": class, "purpose": Purpose})
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return Lease{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.Token)
	client := s.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return Lease{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return Lease{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return Lease{}, fmt.Errorf("lease from %s: %s: %s", u, resp.Status, bytes.TrimSpace(raw))
	}
	var l Lease
	if err := json.Unmarshal(raw, &l); err != nil {
		return Lease{}, fmt.Errorf("lease from %s: %w", u, err)
	}
	if len(l.Key) != 32 || l.ID == "" || !s.now().Before(l.NotAfter) {
		return Lease{}, fmt.Errorf("lease from %s is not a usable AES-256 key with a future end", u)
	}
	return l, nil
}

func (s *Leaser) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}
