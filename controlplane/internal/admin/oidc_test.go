package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"

	"github.com/secureai-nexus/nexus/controlplane/internal/admin"
)

const (
	clientID     = "nexus-admin"
	clientSecret = "s3cret"
	redirectURI  = "http://127.0.0.1:1/callback"
)

// provider runs zitadel's example OpenID provider in-process on loopback
// and returns its issuer URL.
func provider(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + lis.Addr().String()
	st := storage.NewStorageWithClients(storage.NewUserStore(issuer), map[string]*storage.Client{
		clientID: storage.WebClient(clientID, clientSecret, redirectURI),
	})
	srv := &http.Server{Handler: exampleop.SetupServer(issuer, st, nil, false), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(func() { srv.Close() })
	return issuer
}

// login runs the authorization code flow as a browser would — authorize,
// the provider's login form, the callback, the token endpoint — and returns
// the ID token the provider signed.
func login(t *testing.T, issuer string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), redirectURI) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	q := url.Values{"client_id": {clientID}, "redirect_uri": {redirectURI}, "response_type": {"code"}, "scope": {"openid profile email"}, "state": {"st"}, "nonce": {"n"}}
	resp, err := c.Get(issuer + "/auth?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	authReq := resp.Request.URL.Query().Get("authRequestID")
	if authReq == "" {
		t.Fatalf("authorize did not lead to the login page: %s (%d)", resp.Request.URL, resp.StatusCode)
	}
	host := strings.TrimPrefix(issuer, "http://")
	user, _, _ := strings.Cut(host, ":")
	resp, err = c.PostForm(issuer+"/login/username", url.Values{"username": {"test-user@" + user}, "password": {"verysecure"}, "id": {authReq}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("login did not redirect with a code: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "redirect_uri": {redirectURI}}
	req, _ := http.NewRequest("POST", issuer+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, clientSecret)
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		IDToken string `json:"id_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.IDToken == "" {
		t.Fatalf("token endpoint: %d %v", resp.StatusCode, err)
	}
	return tok.IDToken
}

func authWith(t *testing.T, a admin.Authenticator, token string) (admin.Principal, error) {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), "GET", "/api/v1/admin/models", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	return a.Authenticate(req)
}

// TestOIDCAgainstRealProvider verifies tokens from zitadel's OpenID
// provider with go-oidc through discovery and JWKS.
func TestOIDCAgainstRealProvider(t *testing.T) {
	issuer := provider(t)
	other := provider(t)
	token := login(t, issuer)
	foreign := login(t, other)
	ctx := context.Background()

	tests := []struct {
		name    string
		cfg     admin.OIDCConfig
		token   string
		wantSub string
		wantErr string
	}{
		{"valid", admin.OIDCConfig{Issuer: issuer, Audience: clientID}, token, "id1", ""},
		{"wrong audience", admin.OIDCConfig{Issuer: issuer, Audience: "some-other-app"}, token, "", "audience"},
		{"expired", admin.OIDCConfig{Issuer: issuer, Audience: clientID, Now: func() time.Time { return time.Now().Add(24 * time.Hour) }}, token, "", "token expired"},
		// Another issuer's token is not signed by a key in this issuer's JWKS.
		{"wrong issuer", admin.OIDCConfig{Issuer: issuer, Audience: clientID}, foreign, "", "signature"},
		{"garbage", admin.OIDCConfig{Issuer: issuer, Audience: clientID}, "not.a.jwt", "", "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := admin.NewOIDC(ctx, tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			p, err := authWith(t, a, tt.token)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if p.Subject != tt.wantSub || p.Method != "oidc" {
					t.Errorf("principal = %+v", p)
				}
				return
			}
			if err == nil || !errors.Is(err, admin.ErrUnauthenticated) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want unauthenticated mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestOIDCDiscoveryFailureIsReported(t *testing.T) {
	lis, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := lis.Addr().String()
	lis.Close()
	_, err := admin.NewOIDC(context.Background(), admin.OIDCConfig{Issuer: "http://" + addr, Audience: clientID})
	if err == nil || !strings.Contains(err.Error(), "oidc discovery") {
		t.Fatalf("err = %v", err)
	}
}

// TestAdminAPIWithOIDC: a traffic change made with a provider's token is
// audited under the token's subject.
func TestAdminAPIWithOIDC(t *testing.T) {
	issuer := provider(t)
	token := login(t, issuer)
	s := newStack(t, t.TempDir())
	a, err := admin.NewOIDC(context.Background(), admin.OIDCConfig{Issuer: issuer, Audience: clientID})
	if err != nil {
		t.Fatal(err)
	}
	s.swapAuth(t, a)
	s.token = token
	if code, body := s.do(t, "PUT", "/api/v1/admin/models/triage/traffic", `{"weights":{"v1":80,"v2":20}}`); code != 200 {
		t.Fatal(code, body)
	}
	_, body := s.do(t, "GET", "/api/v1/admin/audit", "")
	if actor := body["records"].([]any)[0].(map[string]any)["actor"]; actor != "oidc:id1" {
		t.Errorf("actor = %v", actor)
	}
}
