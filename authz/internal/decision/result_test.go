package decision_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/secureai-nexus/nexus/authz/internal/decision"
)

func TestInterpret(t *testing.T) {
	tests := []struct {
		name    string
		v       any
		allowed bool
		status  int
		err     string
	}{
		{"true", true, true, 403, ""},
		{"false", false, false, 403, ""},
		{"object allow", map[string]any{"allowed": true}, true, 403, ""},
		{"object deny with status", map[string]any{"allowed": false, "http_status": json.Number("401")}, false, 401, ""},
		{"missing allowed", map[string]any{"headers": map[string]any{}}, false, 0, `no "allowed" key`},
		{"allowed not bool", map[string]any{"allowed": "true"}, false, 0, `"allowed" must be a boolean, got string`},
		{"status not number", map[string]any{"allowed": false, "http_status": "401"}, false, 0, `"http_status" must be a number`},
		{"status not HTTP", map[string]any{"allowed": false, "http_status": json.Number("999")}, false, 0, "not an HTTP status"},
		{"header value not string", map[string]any{"allowed": true, "headers": map[string]any{"x": json.Number("1")}}, false, 0, `value for "x" must be a string`},
		{"headers list", map[string]any{"allowed": true, "headers": []any{map[string]any{"a": "1"}, map[string]any{"a": "2"}}}, true, 403, ""},
		{"body not string", map[string]any{"allowed": false, "body": map[string]any{}}, false, 0, `"body" must be a string`},
		{"remove not list", map[string]any{"allowed": true, "request_headers_to_remove": "x"}, false, 0, "must be a list of strings"},
		{"number", json.Number("1"), false, 0, "must be a boolean or an object"},
		{"null", nil, false, 0, "got null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := decision.Interpret(tt.v)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Allowed != tt.allowed || r.HTTPStatus != tt.status {
				t.Errorf("result = %+v", r)
			}
		})
	}
	r, _ := decision.Interpret(map[string]any{"allowed": false, "reasons": []any{"a", "b"}})
	if r.Reason != "a; b" {
		t.Errorf("reason = %q", r.Reason)
	}
}
