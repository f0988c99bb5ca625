//go:build vault

// Package vault runs the control plane's Vault KV v2 key-encryption-key
// path against Vault's own in-process test core (a Vault server cannot be
// installed here). It is its own module so Vault's dependency tree stays
// out of every other module's go.mod; make e2e runs it.
package vault

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	kv "github.com/hashicorp/vault-plugin-secrets-kv"
	"github.com/hashicorp/vault/api"
	vaulthttp "github.com/hashicorp/vault/http"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/hashicorp/vault/vault"
)

func TestControlPlaneSealsItsCAWithAVaultKey(t *testing.T) {
	cluster := vault.NewTestCluster(t, &vault.CoreConfig{
		LogicalBackends: map[string]logical.Factory{"kv": kv.Factory},
	}, &vault.TestClusterOptions{HandlerFunc: vaulthttp.Handler, NumCores: 1})
	cluster.Start()
	defer cluster.Cleanup()
	client := cluster.Cores[0].Client
	// The test core has KV v1 at secret/; the key lives in a KV v2 mount.
	if err := client.Sys().Mount("nexus", &api.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}); err != nil {
		t.Fatal(err)
	}

	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+"/", "./cmd/nexus-controlplane")
	build.Dir = "../../controlplane"
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	data := t.TempDir()
	env := append(os.Environ(), "VAULT_ADDR="+client.Address(), "VAULT_TOKEN="+cluster.RootToken, "VAULT_CACERT="+cluster.CACertPEMFile)
	run := func() (*exec.Cmd, *lockedBuffer, string) {
		admin := "127.0.0.1:" + freePort(t)
		cmd := exec.Command(filepath.Join(bin, "nexus-controlplane"), "--config", "../../examples/mesh.yaml", "--data-dir", data,
			"--xds-addr", "127.0.0.1:"+freePort(t), "--admin-addr", admin, "--ca-kek-vault", "nexus/controlplane/ca-kek")
		cmd.Env = env
		log := &lockedBuffer{}
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, log, admin
	}
	waitUp := func(cmd *exec.Cmd, log *lockedBuffer, admin string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if resp, err := http.Get("http://" + admin + "/api/v1/openapi.json"); err == nil {
				resp.Body.Close()
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		_ = cmd.Process.Kill()
		t.Fatalf("control plane did not start:\n%s", log.String())
	}
	stop := func(cmd *exec.Cmd) { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() }

	cmd, log, admin := run()
	waitUp(cmd, log, admin)
	stop(cmd)
	if _, err := os.Stat(filepath.Join(data, "ca.kek")); err == nil {
		t.Error("a local key file was written although the key lives in Vault")
	}
	first, err := os.ReadFile(filepath.Join(data, "bundle.pem"))
	if err != nil {
		t.Fatal(err)
	}
	secret, err := client.KVv2("nexus").Get(t.Context(), "controlplane/ca-kek")
	if err != nil || secret.Data["key"] == nil {
		t.Fatalf("no key in Vault: %v", err)
	}

	// A restart unseals the same CA with the key from Vault.
	cmd, log, admin = run()
	waitUp(cmd, log, admin)
	stop(cmd)
	again, _ := os.ReadFile(filepath.Join(data, "bundle.pem"))
	if !bytes.Equal(first, again) {
		t.Fatal("restart with the Vault key produced another CA")
	}

	// With another key in Vault the sealed CA stays sealed.
	if _, err := client.KVv2("nexus").Put(t.Context(), "controlplane/ca-kek", map[string]any{"key": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}); err != nil {
		t.Fatal(err)
	}
	cmd, log, _ = run()
	err = cmd.Wait()
	if err == nil || !strings.Contains(log.String(), "cannot unseal") {
		t.Fatalf("started with the wrong key: %v\n%s", err, log.String())
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }
