package admin

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// Principal is who made an admin request; it is what the audit log records.
type Principal struct {
	Subject string
	Method  string
}

func (p Principal) String() string { return p.Method + ":" + p.Subject }

// Authenticator decides who sent a request.
type Authenticator interface {
	Authenticate(r *http.Request) (Principal, error)
}

// ErrUnauthenticated is returned for a missing or invalid credential.
var ErrUnauthenticated = errors.New("unauthenticated")

func bearer(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", fmt.Errorf("%w: send Authorization: Bearer <token>", ErrUnauthenticated)
	}
	return strings.TrimSpace(tok), nil
}

// TokenAuth accepts one static token: the loopback dev mode's admin token,
// or the consent bundle's read-only token.
type TokenAuth struct {
	token string
	// subject names the principal (default local-admin).
	subject string
}

// LoadOrCreateScopedToken is LoadOrCreateToken for a token that opens one
// endpoint only — nexus-authz's for the consent bundle (token:consent-bundle,
// accepted by BundleAuth) or for leasing decision-log keys
// (token:key-lease, accepted by LeaseAuth) — naming subject as its
// principal in the audit log.
func LoadOrCreateScopedToken(path, subject string) (*TokenAuth, error) {
	a, err := LoadOrCreateToken(path)
	if err != nil {
		return nil, err
	}
	a.subject = subject
	return a, nil
}

// LoadOrCreateToken reads the admin token from path, creating it with a
// fresh random value and 0600 permissions if it does not exist.
func LoadOrCreateToken(path string) (*TokenAuth, error) {
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		tok := strings.TrimSpace(string(b))
		if len(tok) < 32 {
			return nil, fmt.Errorf("admin token in %s is shorter than 32 characters", path)
		}
		if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("admin token %s is readable by others (mode %v); chmod 600 it", path, st.Mode().Perm())
		}
		return &TokenAuth{token: tok}, nil
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("read admin token: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	tok := hex.EncodeToString(raw)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create admin token: %w", err)
	}
	if _, err := f.WriteString(tok + "\n"); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return &TokenAuth{token: tok}, nil
}

// Authenticate implements Authenticator.
func (a *TokenAuth) Authenticate(r *http.Request) (Principal, error) {
	tok, err := bearer(r)
	if err != nil {
		return Principal{}, err
	}
	if subtle.ConstantTimeCompare([]byte(tok), []byte(a.token)) != 1 {
		return Principal{}, fmt.Errorf("%w: wrong admin token", ErrUnauthenticated)
	}
	sub := a.subject
	if sub == "" {
		sub = "local-admin"
	}
	return Principal{Subject: sub, Method: "token"}, nil
}

// OIDCAuth verifies bearer JWTs from an OpenID provider: signature by the
// issuer's JWKS (found through discovery), issuer, audience and expiry.
type OIDCAuth struct {
	verifier *oidc.IDTokenVerifier
	claim    string
}

// OIDCConfig configures OIDCAuth.
type OIDCConfig struct {
	Issuer string
	// Audience is the client id tokens must be minted for.
	Audience string
	// SubjectClaim names the claim recorded as the actor; default "sub".
	SubjectClaim string
	// Now is the verification clock (tests); default time.Now.
	Now func() time.Time
	// HTTPClient fetches discovery and keys; default http.DefaultClient.
	HTTPClient *http.Client
}

// NewOIDC discovers the issuer's configuration. It fails if the issuer is
// unreachable or its discovery document names a different issuer.
func NewOIDC(ctx context.Context, cfg OIDCConfig) (*OIDCAuth, error) {
	if cfg.Audience == "" {
		return nil, errors.New("oidc: an audience (client id) is required, so tokens for other apps are refused")
	}
	if cfg.HTTPClient != nil {
		ctx = oidc.ClientContext(ctx, cfg.HTTPClient)
	}
	p, err := oidc.NewProvider(ctx, cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("oidc discovery for %s: %w", cfg.Issuer, err)
	}
	claim := cfg.SubjectClaim
	if claim == "" {
		claim = "sub"
	}
	return &OIDCAuth{
		verifier: p.Verifier(&oidc.Config{ClientID: cfg.Audience, Now: cfg.Now}),
		claim:    claim,
	}, nil
}

// Authenticate implements Authenticator.
func (a *OIDCAuth) Authenticate(r *http.Request) (Principal, error) {
	raw, err := bearer(r)
	if err != nil {
		return Principal{}, err
	}
	tok, err := a.verifier.Verify(r.Context(), raw)
	if err != nil {
		var expired *oidc.TokenExpiredError
		if errors.As(err, &expired) {
			return Principal{}, fmt.Errorf("%w: token expired at %s", ErrUnauthenticated, expired.Expiry.UTC().Format(time.RFC3339))
		}
		return Principal{}, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return Principal{}, fmt.Errorf("%w: unreadable claims: %v", ErrUnauthenticated, err)
	}
	sub, _ := claims[a.claim].(string)
	if sub == "" {
		return Principal{}, fmt.Errorf("%w: token has no %q claim", ErrUnauthenticated, a.claim)
	}
	return Principal{Subject: sub, Method: "oidc"}, nil
}

// SPIFFEAuth accepts the SVID the client presented in the TLS handshake;
// the handshake itself already refused any SPIFFE id not allowed, so this
// only names the principal for the audit log.
type SPIFFEAuth struct{}

// Authenticate implements Authenticator.
func (SPIFFEAuth) Authenticate(r *http.Request) (Principal, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return Principal{}, fmt.Errorf("%w: this listener needs a client X.509-SVID", ErrUnauthenticated)
	}
	id, err := x509svid.IDFromCert(r.TLS.PeerCertificates[0])
	if err != nil {
		return Principal{}, fmt.Errorf("%w: client certificate: %v", ErrUnauthenticated, err)
	}
	return Principal{Subject: id.String(), Method: "spiffe"}, nil
}
