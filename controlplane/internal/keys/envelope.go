// Package keys keeps what Nexus stores encrypted at rest: AES-256-GCM data
// keys (DEKs) per retention class and time bucket or per data subject,
// wrapped by a key-encryption key (KEK) held in a local keyring file or in
// Vault Transit. Data expires by destroying its DEK (crypto-shredding);
// legal holds block that, and every destruction is audited.
package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
)

// Context is what sealed data is for. It is bound to the ciphertext as
// GCM associated data and never stored with it: opening under another
// purpose, class or subject fails.
type Context struct {
	Purpose string
	Class   string
	// Subject is the keyed hash of the data subject, for class "subject".
	Subject string
}

// envelopeVersion 1: magic "NXK", version byte, DEK id length (1 byte),
// DEK id, 12-byte nonce, ciphertext and 16-byte tag.
const (
	envelopeMagic   = "NXK"
	envelopeVersion = 1
	nonceSize       = 12
	tagSize         = 16
	maxIDLen        = 64
)

// Errors Open reports.
var (
	ErrMalformed  = errors.New("sealed data is malformed")
	ErrUnknownKey = errors.New("sealed data names a data key that does not exist")
	ErrDestroyed  = errors.New("the data key was destroyed: the data is unreadable")
	ErrContext    = errors.New("sealed data does not open under this context (purpose, class or subject) or was altered")
)

// envelope is a parsed sealed blob.
type envelope struct {
	keyID  string
	header []byte // everything before the nonce, bound as associated data
	nonce  []byte
	body   []byte // ciphertext and tag
}

// parseEnvelope splits a sealed blob without trusting it: every length is
// checked before it is used.
func parseEnvelope(b []byte) (envelope, error) {
	if len(b) < len(envelopeMagic)+2 || string(b[:len(envelopeMagic)]) != envelopeMagic {
		return envelope{}, fmt.Errorf("%w: no envelope header", ErrMalformed)
	}
	p := len(envelopeMagic)
	if v := b[p]; v != envelopeVersion {
		return envelope{}, fmt.Errorf("%w: envelope version %d, this build reads %d", ErrMalformed, v, envelopeVersion)
	}
	p++
	n := int(b[p])
	p++
	if n == 0 || n > maxIDLen {
		return envelope{}, fmt.Errorf("%w: data key id length %d", ErrMalformed, n)
	}
	if len(b) < p+n+nonceSize+tagSize {
		return envelope{}, fmt.Errorf("%w: %d bytes is too short", ErrMalformed, len(b))
	}
	id := string(b[p : p+n])
	if !validID(id) {
		return envelope{}, fmt.Errorf("%w: bad data key id", ErrMalformed)
	}
	p += n
	return envelope{keyID: id, header: b[:p], nonce: b[p : p+nonceSize], body: b[p+nonceSize:]}, nil
}

func validID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for _, c := range []byte(id) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// associatedData binds the envelope header and the context, each field
// length-prefixed so ("ab","c") and ("a","bc") differ.
func associatedData(header []byte, c Context) []byte {
	out := make([]byte, 0, len(header)+len(c.Purpose)+len(c.Class)+len(c.Subject)+16)
	out = append(out, header...)
	for _, f := range []string{c.Purpose, c.Class, c.Subject} {
		out = binary.AppendUvarint(out, uint64(len(f)))
		out = append(out, f...)
	}
	return out
}

func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("data key is %d bytes, want 32 (AES-256)", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// sealWith encrypts plaintext under aead (the DEK named id) with a fresh
// random nonce.
func sealWith(aead cipher.AEAD, id string, c Context, plaintext []byte) ([]byte, error) {
	if !validID(id) {
		return nil, fmt.Errorf("bad data key id %q", id)
	}
	hlen := len(envelopeMagic) + 2 + len(id)
	out := make([]byte, hlen+nonceSize, hlen+nonceSize+len(plaintext)+tagSize)
	copy(out, envelopeMagic)
	out[len(envelopeMagic)] = envelopeVersion
	out[len(envelopeMagic)+1] = byte(len(id))
	copy(out[len(envelopeMagic)+2:], id)
	nonce := out[hlen : hlen+nonceSize]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	return aead.Seal(out, nonce, plaintext, associatedData(out[:hlen], c)), nil
}

func openWith(aead cipher.AEAD, env envelope, c Context) ([]byte, error) {
	pt, err := aead.Open(nil, env.nonce, env.body, associatedData(env.header, c))
	if err != nil {
		return nil, ErrContext
	}
	return pt, nil
}
