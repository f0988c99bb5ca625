package app_test

import (
	"path/filepath"
	"testing"

	"github.com/secureai-nexus/nexus/controlplane/internal/app"
)

// TestRegisterVersionThroughTheAPI: a version registered through the
// admin API is served at weight 0, refused traffic until validated, and
// kept across a restart.
func TestRegisterVersionThroughTheAPI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	c := startApp(t, app.Config{DataDir: dir})
	base := "/api/v1/admin/models/triage/versions"
	for body, field := range map[string]string{
		`{"name":"v4"}`:                                  "endpoints",
		`{"name":"v4","endpoints":["nohost"]}`:           "endpoints[0]",
		`{"name":"-bad","endpoints":["127.0.0.1:8004"]}`: "name",
		`{"name":"v4","endpoints":["127.0.0.1:8004"],"spiffe_id":"spiffe://other.td/x"}`: "spiffe_id",
	} {
		var e struct{ Error struct{ Field string } }
		if code := c.call(t, "POST", base, body, &e); code != 400 || e.Error.Field != field {
			t.Errorf("%s: %d %+v, want 400 naming %s", body, code, e, field)
		}
	}
	var v struct {
		Name, State string
		Weight      int
	}
	if code := c.call(t, "POST", base, `{"name":"v4","artifact":"/models/triage/v4","endpoints":["127.0.0.1:8004"]}`, &v); code != 201 || v.State != "registered" || v.Weight != 0 {
		t.Fatalf("register: %d %+v", code, v)
	}
	if code := c.call(t, "POST", base, `{"name":"v4","endpoints":["127.0.0.1:8004"]}`, nil); code != 409 {
		t.Errorf("registered twice: %d", code)
	}
	if code := c.call(t, "PUT", "/api/v1/admin/models/triage/traffic", `{"weights":{"v1":80,"v2":10,"v4":10}}`, nil); code != 409 {
		t.Errorf("traffic to a registered version: %d, want 409", code)
	}
	c.stop()
	c = startApp(t, app.Config{DataDir: dir})
	var list struct {
		Versions []struct{ Name, State, Artifact string }
	}
	c.call(t, "GET", base, "", &list)
	found := false
	for _, x := range list.Versions {
		if x.Name == "v4" && x.State == "registered" && x.Artifact == "/models/triage/v4" {
			found = true
		}
	}
	if !found {
		t.Fatalf("after a restart: %+v", list.Versions)
	}
	if w := c.weights(t); w["v4"] != 0 {
		t.Errorf("weights %v", w)
	}
}
