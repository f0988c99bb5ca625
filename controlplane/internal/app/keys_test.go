package app_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/app"
)

// The control plane starts its keyring (local KEK by default), serves the
// key endpoints and hands compliance checks the key evidence.
func TestRunServesDataKeys(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	r := startApp(t, app.Config{DataDir: dir,
		Keys: app.KeysConfig{Retention: []string{"inference=12h/1h", "capture=48h/6h"}, SweepInterval: 50 * time.Millisecond}}).ready
	st, err := os.Stat(filepath.Join(dir, "keys", "kek.json"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("local keyring: %v, %v; want a 0600 file", st, err)
	}
	inv, err := r.Keys.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if inv.KEK.Version != 1 || inv.KEK.RotationAgeSecond < 0 || inv.KEK.RotationAgeSecond > 60 {
		t.Errorf("KEK = %+v", inv.KEK)
	}
	classes := map[string]time.Duration{}
	for _, c := range inv.Classes {
		classes[c.Name] = c.Retention
	}
	if classes["inference"] != 12*time.Hour || classes["capture"] != 48*time.Hour || classes["logs"] != 720*time.Hour {
		t.Errorf("classes = %v", classes)
	}
	tok, _ := os.ReadFile(r.AdminTokenPath)
	req, _ := http.NewRequest("GET", "http://"+r.AdminAddr+"/api/v1/admin/keys", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		KEK struct{ Version int } `json:"kek"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 || body.KEK.Version != 1 {
		t.Fatalf("GET /keys = %d %+v %v", resp.StatusCode, body, err)
	}
}

func TestRunRefusesBadRetention(t *testing.T) {
	for _, tt := range []struct{ spec, want string }{
		{"inference", "want CLASS=DURATION"},
		{"subject=24h", "kept until each subject's erasure"},
		{"logs=1.5d", "want whole days"},
	} {
		cfg := app.Config{MeshFile: exampleMesh, DataDir: t.TempDir(), XDSAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0",
			Keys: app.KeysConfig{Retention: []string{tt.spec}}}
		err := app.Run(context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil)), cfg, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("--retention %s: err = %v, want %q", tt.spec, err, tt.want)
		}
	}
	cfg := app.Config{MeshFile: exampleMesh, DataDir: t.TempDir(), XDSAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0",
		Keys: app.KeysConfig{VaultTransit: "transit/a/b"}}
	if err := app.Run(context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil)), cfg, nil); err == nil || !strings.Contains(err.Error(), "[MOUNT/]KEY") {
		t.Errorf("bad transit ref: %v", err)
	}
}
