package consent

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// SubjectID is the keyed hash a data subject appears as in rows, audit
// entries and policy data: HMAC-SHA256 under the subject key, truncated
// to 128 bits, hex. nexus-authz computes the same value from the verified
// JWT sub with the same key (NEXUS_TELEMETRY_SUBJECT_KEY), so its input
// carries it as input.nexus.subject and spans as enduser.pseudo.id.
func SubjectID(key []byte, sub string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(sub))
	return hex.EncodeToString(mac.Sum(nil)[:16])
}

// Sealer encrypts what names a data subject under keys kept per subject,
// so that forgetting the subject's keys makes every sealed copy — backups
// included — unreadable (crypto-shredding). Its subject argument is the
// subject's keyed hash (SubjectID), never the raw id: the key store holds
// no personal data either. purpose is bound to the ciphertext.
// keys.SubjectSealer implements it.
type Sealer interface {
	Seal(ctx context.Context, subject, purpose string, plaintext []byte) ([]byte, error)
	Open(ctx context.Context, subject, purpose string, sealed []byte) ([]byte, error)
	ForgetSubject(ctx context.Context, subject string) error
}

// sealPurpose is the associated purpose of a sealed consent record.
const sealPurpose = "consent-record"
