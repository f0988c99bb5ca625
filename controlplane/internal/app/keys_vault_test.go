//go:build vaulttransit

package app_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	vault "github.com/hashicorp/vault/api"

	"github.com/secureai-nexus/nexus/controlplane/internal/app"
)

// TestRunWithVaultTransit starts the control plane with
// --kek-vault-transit against a real Vault with Transit at transit/
// (VAULT_ADDR, VAULT_TOKEN, VAULT_CACERT): it creates the key derived with
// the rotation period as auto_rotate_period, writes no local keyring, and
// rotates the key on request.
func TestRunWithVaultTransit(t *testing.T) {
	if os.Getenv("VAULT_ADDR") == "" {
		t.Fatal("VAULT_ADDR is not set: this test needs a Vault with Transit mounted at transit/")
	}
	client, err := vault.NewClient(vault.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "nexus-app-" + hex.EncodeToString(b)
	dir := t.TempDir()
	ctx := context.Background()
	r := startApp(t, app.Config{DataDir: dir,
		Keys: app.KeysConfig{VaultTransit: "transit/" + name, KEKRotation: 4 * time.Hour}}).ready
	if _, err := os.Stat(filepath.Join(dir, "keys", "kek.json")); err == nil {
		t.Error("a local keyring was written although the KEK is in Vault")
	}
	key, err := client.Logical().Read("transit/keys/" + name)
	if err != nil || key == nil {
		t.Fatalf("no Transit key: %v", err)
	}
	if key.Data["derived"] != true {
		t.Errorf("key is not derived: %v", key.Data)
	}
	if p, _ := key.Data["auto_rotate_period"].(json.Number); p.String() != "14400" {
		t.Errorf("auto_rotate_period = %v, want 14400 (4h)", key.Data["auto_rotate_period"])
	}
	tok, _ := os.ReadFile(r.AdminTokenPath)
	req, _ := http.NewRequest("POST", "http://"+r.AdminAddr+"/api/v1/admin/keys/rotate", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var rot struct {
		To int `json:"to_version"`
	}
	err = json.NewDecoder(resp.Body).Decode(&rot)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || rot.To != 2 {
		t.Fatalf("rotate = %d %+v %v", resp.StatusCode, rot, err)
	}
	inv, err := r.Keys.Inventory(ctx)
	if err != nil || inv.KEK.Version != 2 || !strings.Contains(inv.KEK.Name, "transit/keys/"+name) {
		t.Fatalf("inventory KEK = %+v, %v", inv.KEK, err)
	}
}
