package keys

import "context"

// SubjectSealer seals a data subject's records (consent records, exports)
// under the subject's own DEK, so erasing the subject makes all of them
// unreadable at once. subject is the subject's keyed hash, never a raw
// identifier.
type SubjectSealer struct {
	keys  *Keyring
	actor string
}

// SubjectSealer returns a sealer that audits erasures as actor.
func (k *Keyring) SubjectSealer(actor string) *SubjectSealer {
	return &SubjectSealer{keys: k, actor: actor}
}

// Seal encrypts plaintext for subject and purpose.
func (s *SubjectSealer) Seal(ctx context.Context, subject, purpose string, plaintext []byte) ([]byte, error) {
	return s.keys.Seal(ctx, Context{Purpose: purpose, Class: ClassSubject, Subject: subject}, plaintext)
}

// Open decrypts what Seal sealed for the same subject and purpose.
func (s *SubjectSealer) Open(ctx context.Context, subject, purpose string, sealed []byte) ([]byte, error) {
	return s.keys.Open(ctx, Context{Purpose: purpose, Class: ClassSubject, Subject: subject}, sealed)
}

// ForgetSubject destroys the subject's DEKs unless a legal hold keeps
// them (then the error wraps ErrHeld).
func (s *SubjectSealer) ForgetSubject(ctx context.Context, subject string) error {
	_, err := s.keys.ForgetSubject(ctx, subject, s.actor)
	return err
}
