package app_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secureai-nexus/nexus/controlplane/internal/app"
	"github.com/secureai-nexus/nexus/controlplane/internal/audit"
	"github.com/secureai-nexus/nexus/controlplane/internal/cli"
)

// TestAuditCheckpointsAndProofs: the admin API's signed checkpoint, its
// inclusion and consistency proofs checked against what they claim, and
// `nexusctl audit verify` keeping the last checkpoint it saw and refusing
// a log that does not extend it.
func TestAuditCheckpointsAndProofs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	c := startApp(t, app.Config{DataDir: dir})
	for _, w := range []string{`{"weights":{"v1":50,"v2":50}}`, `{"weights":{"v1":70,"v2":30}}`} {
		if code := c.call(t, "PUT", "/api/v1/admin/models/triage/traffic", w, nil); code != 200 {
			t.Fatalf("PUT traffic: %d", code)
		}
	}
	verifier := []byte(strings.TrimSpace(string(c.text(t, "/api/v1/admin/audit/verifier"))))
	signed := c.text(t, "/api/v1/admin/audit/checkpoint")
	cp, err := audit.OpenCheckpoint(signed, string(verifier))
	if err != nil {
		t.Fatalf("checkpoint: %v\n%s", err, signed)
	}
	if cp.Size < 2 || !strings.HasSuffix(cp.Origin, "/nexus/audit") {
		t.Fatalf("checkpoint %+v", cp)
	}
	// Every record is in the checkpoint's tree.
	var recs struct{ Records []audit.Record }
	c.call(t, "GET", "/api/v1/admin/audit?limit=1000", "", &recs)
	for i, r := range recs.Records {
		var p struct {
			LeafHash []byte `json:"leaf_hash"`
			Hashes   [][]byte
		}
		c.call(t, "GET", "/api/v1/admin/audit/proof/inclusion?index="+itoa(i)+"&size="+itoa(int(cp.Size)), "", &p)
		leaf := audit.RecordLeaf(r)
		if !bytes.Equal(p.LeafHash, leaf[:]) {
			t.Fatalf("record %d: leaf %x, the API says %x", r.Seq, leaf, p.LeafHash)
		}
		if err := audit.VerifyInclusion(leaf, int64(i), cp.Size, cp.Root, toHashes(p.Hashes)); err != nil {
			t.Fatalf("record %d: %v", r.Seq, err)
		}
	}
	var e struct{ Error struct{ Field string } }
	if code := c.call(t, "GET", "/api/v1/admin/audit/proof/inclusion?index=99&size=3", "", &e); code != 400 || e.Error.Field != "index" {
		t.Errorf("inclusion past the tree: %d %+v", code, e)
	}

	// nexusctl keeps the checkpoint, then proves the next one extends it.
	state := filepath.Join(t.TempDir(), "checkpoint")
	t.Setenv("NEXUS_AUDIT_CHECKPOINT", state)
	t.Setenv("NEXUS_TOKEN", c.token)
	verify := func() (string, int) {
		var out, errb bytes.Buffer
		code := cli.Run(context.Background(), []string{"--server", c.addr, "audit", "verify"}, &out, &errb)
		return out.String() + errb.String(), code
	}
	if out, code := verify(); code != 0 || !strings.Contains(out, "pinned the checkpoint key") || !strings.Contains(out, "(the first seen)") {
		t.Fatalf("first verify: %d %s", code, out)
	}
	c.call(t, "PUT", "/api/v1/admin/models/triage/traffic", `{"weights":{"v1":90,"v2":10}}`, nil)
	if out, code := verify(); code != 0 || !strings.Contains(out, "extends the last one seen") {
		t.Fatalf("second verify: %d %s", code, out)
	}
	// A saved checkpoint the log does not extend (a rewritten history,
	// signed with the log's own key): refused.
	signer, err := audit.LoadOrCreateSigner(filepath.Join(dir, "audit-checkpoint.key"), cp.Origin)
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := signer.Sign(audit.Checkpoint{Origin: cp.Origin, Size: 2, Root: audit.LeafHash([]byte("another history"))})
	_ = os.WriteFile(state, []byte(string(verifier)+"\n"+string(forged)), 0o600)
	if out, code := verify(); code == 0 || !strings.Contains(out, "does not extend the checkpoint last seen") {
		t.Fatalf("forked log: %d %s", code, out)
	}
}

func toHashes(b [][]byte) []audit.Hash {
	out := make([]audit.Hash, len(b))
	for i := range b {
		copy(out[i][:], b[i])
	}
	return out
}
