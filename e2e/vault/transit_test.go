//go:build vault

package vault

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/hashicorp/vault/builtin/logical/transit"
	vaulthttp "github.com/hashicorp/vault/http"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/hashicorp/vault/vault"
)

// transitCluster is Vault's in-process test core with the Transit
// secrets engine mounted at transit/.
func transitCluster(t *testing.T) (*vault.TestCluster, *api.Client) {
	t.Helper()
	cluster := vault.NewTestCluster(t, &vault.CoreConfig{
		LogicalBackends: map[string]logical.Factory{"transit": transit.Factory},
	}, &vault.TestClusterOptions{HandlerFunc: vaulthttp.Handler, NumCores: 1})
	cluster.Start()
	t.Cleanup(cluster.Cleanup)
	client := cluster.Cores[0].Client
	if err := client.Sys().Mount("transit", &api.MountInput{Type: "transit"}); err != nil {
		t.Fatal(err)
	}
	return cluster, client
}

func vaultEnv(cluster *vault.TestCluster, client *api.Client) []string {
	return append(os.Environ(), "VAULT_ADDR="+client.Address(), "VAULT_TOKEN="+cluster.RootToken, "VAULT_CACERT="+cluster.CACertPEMFile)
}

// TestKeysPackageAgainstTransit runs the keys package's Transit tests
// (wrap and unwrap with a derivation context, rotation, rewrap,
// min_decryption_version and trim retiring old versions, crypto-shredding)
// against this Vault. They live beside the code, in the controlplane
// module, behind the vaulttransit tag, because keys is internal to it.
func TestKeysPackageAgainstTransit(t *testing.T) {
	cluster, client := transitCluster(t)
	cmd := exec.Command("go", "test", "-tags", "vaulttransit", "-count=1", "-run", "^TestVaultTransit", "-v", "./internal/keys/")
	cmd.Dir = "../../controlplane"
	cmd.Env = vaultEnv(cluster, client)
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("keys Transit tests: %v", err)
	}
	if !strings.Contains(string(out), "--- PASS: TestVaultTransitKEK") {
		t.Fatal("the Transit tests did not run")
	}
}

// TestControlPlaneWrapsDataKeysWithTransit starts the control plane with
// --kek-vault-transit: it creates the key (derived, with the rotation
// period as auto_rotate_period), reports it, and rotates it on request.
func TestControlPlaneWrapsDataKeysWithTransit(t *testing.T) {
	cluster, client := transitCluster(t)
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+"/", "./cmd/nexus-controlplane")
	build.Dir = "../../controlplane"
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	data := t.TempDir()
	admin := "127.0.0.1:" + freePort(t)
	cmd := exec.Command(filepath.Join(bin, "nexus-controlplane"), "--config", "../../examples/mesh.yaml", "--data-dir", data,
		"--xds-addr", "127.0.0.1:"+freePort(t), "--admin-addr", admin, "--kek-vault-transit", "transit/nexus-data", "--kek-rotation", "4h")
	cmd.Env = vaultEnv(cluster, client)
	log := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() }()
	tokPath := filepath.Join(data, "admin.token")
	call := func(method, path string) (int, map[string]any) {
		t.Helper()
		tok, _ := os.ReadFile(tokPath)
		req, _ := http.NewRequest(method, "http://"+admin+path, nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	deadline := time.Now().Add(30 * time.Second)
	var code int
	var inv map[string]any
	for time.Now().Before(deadline) {
		if code, inv = call("GET", "/api/v1/admin/keys"); code == 200 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code != 200 {
		t.Fatalf("control plane did not serve /keys (%d):\n%s", code, log.String())
	}
	kek := inv["kek"].(map[string]any)
	if !strings.Contains(kek["name"].(string), "transit/keys/nexus-data") || kek["version"].(float64) != 1 {
		t.Errorf("kek = %v", kek)
	}
	if _, err := os.Stat(filepath.Join(data, "keys", "kek.json")); err == nil {
		t.Error("a local keyring was written although the KEK is in Vault")
	}
	key, err := client.Logical().Read("transit/keys/nexus-data")
	if err != nil || key == nil {
		t.Fatalf("no Transit key: %v", err)
	}
	if key.Data["derived"] != true {
		t.Errorf("key is not derived: %v", key.Data)
	}
	if p, _ := key.Data["auto_rotate_period"].(json.Number); p.String() != "14400" {
		t.Errorf("auto_rotate_period = %v, want 14400 (4h)", key.Data["auto_rotate_period"])
	}
	code, rot := call("POST", "/api/v1/admin/keys/rotate")
	if code != 200 || rot["to_version"].(float64) != 2 {
		t.Fatalf("rotate = %d %v\n%s", code, rot, log.String())
	}
	key, _ = client.Logical().Read("transit/keys/nexus-data")
	if v, _ := key.Data["latest_version"].(json.Number); v.String() != "2" {
		t.Errorf("Vault's latest_version = %v after rotation, want 2", key.Data["latest_version"])
	}
}
