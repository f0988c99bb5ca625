package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/secureai-nexus/nexus/authz/internal/policy"
)

// TestDataAPIGuards: off a loopback listener, or addressed to a host that
// is not loopback (a rebinding name), the data API evaluates nothing.
func TestDataAPIGuards(t *testing.T) {
	evaluated := false
	current := func() *policy.Set { evaluated = true; return nil }
	for _, tt := range []struct {
		loopback bool
		host     string
		code     int
	}{
		{false, "127.0.0.1:8181", 403},
		{true, "attacker.example:8181", 403},
		{true, "127.0.0.1.nip.io", 403},
		{true, "localhost:8181", 503}, // allowed through; nothing loaded
		{true, "[::1]:8181", 503},
		{true, "127.0.0.1", 503},
	} {
		evaluated = false
		d := &dataAPI{current: current, maxBytes: 1 << 10, timeout: time.Second, loopback: tt.loopback, newID: func() string { return "id" }}
		req := httptest.NewRequest(http.MethodPost, "/v1/data/envoy/authz/allow", strings.NewReader(`{"input": {}}`))
		req.Host = tt.host
		rec := httptest.NewRecorder()
		d.ServeHTTP(rec, req)
		if rec.Code != tt.code || (tt.code == 403 && evaluated) {
			t.Errorf("loopback=%v host=%q: %d %s (evaluated %v), want %d", tt.loopback, tt.host, rec.Code, rec.Body, evaluated, tt.code)
		}
	}
}

func TestExtAuthzAddr(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:9191":         "127.0.0.1:9191",
		":9191":                  ":9191",
		"grpc://127.0.0.1:9191":  "127.0.0.1:9191",
		"grpc://localhost:9191/": "localhost:9191",
		"GRPC://127.0.0.1:9191":  "127.0.0.1:9191",
		"unix:///run/authz.sock": "unix:///run/authz.sock",
		"http://127.0.0.1:9191":  "",
	} {
		got, err := extAuthzAddr(in)
		if (want == "") != (err != nil) || got != want {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
}
