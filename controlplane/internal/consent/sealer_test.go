package consent_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"sync"
)

// gcmSealer is a small stand-in for keys.SubjectSealer: one AES-256-GCM
// key per subject, the purpose bound as associated data, and forgetting a
// subject drops its key.
type gcmSealer struct {
	mu     sync.Mutex
	keys   map[string][]byte
	forgot []string
}

func newSealer() *gcmSealer { return &gcmSealer{keys: map[string][]byte{}} }

var errForgotten = errors.New("subject's key was destroyed")

func (s *gcmSealer) aead(subject string, create bool) (cipher.AEAD, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[subject]
	if !ok {
		if !create {
			return nil, errForgotten
		}
		k = make([]byte, 32)
		_, _ = rand.Read(k)
		s.keys[subject] = k
	}
	b, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

func (s *gcmSealer) Seal(_ context.Context, subject, purpose string, plaintext []byte) ([]byte, error) {
	a, err := s.aead(subject, true)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, a.NonceSize())
	_, _ = rand.Read(nonce)
	return a.Seal(nonce, nonce, plaintext, []byte(purpose)), nil
}

func (s *gcmSealer) Open(_ context.Context, subject, purpose string, sealed []byte) ([]byte, error) {
	a, err := s.aead(subject, false)
	if err != nil {
		return nil, err
	}
	if len(sealed) < a.NonceSize() {
		return nil, errors.New("sealed data is too short")
	}
	return a.Open(nil, sealed[:a.NonceSize()], sealed[a.NonceSize():], []byte(purpose))
}

func (s *gcmSealer) ForgetSubject(_ context.Context, subject string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.keys, subject)
	s.forgot = append(s.forgot, subject)
	return nil
}
