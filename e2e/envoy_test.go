//go:build envoy

// Built only with -tags envoy, which make e2e adds when an Envoy binary is
// found (ENVOY_BIN or PATH), so the default test run never skips.

package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestRealEnvoyAcceptsConfig starts a real Envoy from the bootstrap the
// control plane wrote for model~triage and checks, through the admin API's
// node status, that Envoy connected and ACKed every xDS type without a
// NACK: Envoy itself accepts what Nexus generates.
func TestRealEnvoyAcceptsConfig(t *testing.T) {
	envoy := os.Getenv("ENVOY_BIN")
	if envoy == "" {
		var err error
		if envoy, err = exec.LookPath("envoy"); err != nil {
			t.Fatal("built with -tags envoy but no Envoy: set ENVOY_BIN")
		}
	}
	bin := binaries(t)
	m := writeMesh(t)
	_, token := m.startControlPlane(t, bin)
	boot := filepath.Join(m.dir, "data", "envoy", "model~triage.json")
	start(t, envoy, "--config-path", boot, "--base-id", "7301", "--log-level", "warning")

	var nodes struct {
		Nodes []struct {
			ID        string                    `json:"id"`
			Connected bool                      `json:"connected"`
			Published map[string]string         `json:"published"`
			Acked     map[string]string         `json:"acked"`
			Nacked    map[string]map[string]any `json:"nacked"`
		} `json:"nodes"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		api(t, "GET", "http://"+m.admin+"/api/v1/admin/nodes", token, "", &nodes)
		n := nodes.Nodes[0]
		if len(n.Nacked) > 0 {
			b, _ := json.Marshal(n.Nacked)
			t.Fatalf("Envoy rejected Nexus config: %s", b)
		}
		synced := n.Connected
		for _, typ := range []string{"listeners", "clusters"} {
			synced = synced && n.Acked[typ] == n.Published[typ]
		}
		if synced {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Envoy did not ACK listeners and clusters within 30s: %+v", n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
