package keys_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/keys"
)

var killBase = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

const killKeys = 300

// TestKillDuringDestruction kills (SIGKILL) a process while it destroys
// hundreds of data keys. Afterwards every key is either intact (its data
// opens) or destroyed with its audit record and wrapped key overwritten;
// the audit chain verifies.
func TestKillDuringDestruction(t *testing.T) {
	if dir := os.Getenv("NEXUS_KEYS_KILL_DIR"); dir != "" {
		killChild(t, dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillDuringDestruction$", "-test.count=1")
	cmd.Env = append(os.Environ(), "NEXUS_KEYS_KILL_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	ready := false
	for sc.Scan() {
		if strings.Contains(sc.Text(), "SWEEPING") {
			ready = true
			break
		}
	}
	if !ready {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatal("child never started sweeping")
	}
	time.Sleep(time.Duration(5+rand.IntN(40)) * time.Millisecond)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	var sealed [][]byte
	raw, err := os.ReadFile(filepath.Join(dir, "sealed.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &sealed); err != nil {
		t.Fatal(err)
	}
	// Opened at the time of sealing, so nothing is merely past retention.
	e := openEnv(t, dir, &clock{t: killBase})
	ctx := context.Background()
	destroyedByOpen := map[string]bool{}
	for i, s := range sealed {
		e.clock.Set(killBase.Add(time.Duration(i) * time.Hour))
		_, err := e.ring.Open(ctx, inference, s)
		switch {
		case err == nil:
		case errors.Is(err, keys.ErrDestroyed):
			destroyedByOpen[keyOf(t, s)] = true
		default:
			t.Fatalf("key %s is neither intact nor destroyed: %v", keyOf(t, s), err)
		}
	}
	rows, err := e.st.Query(ctx, `SELECT id, wrapped, destroyed_at IS NOT NULL FROM data_keys`)
	if err != nil {
		t.Fatal(err)
	}
	destroyedRows := map[string]bool{}
	for rows.Next() {
		var id string
		var w []byte
		var destroyed bool
		if err := rows.Scan(&id, &w, &destroyed); err != nil {
			t.Fatal(err)
		}
		if destroyed {
			destroyedRows[id] = true
			if strings.Trim(string(w), "\x00") != "" {
				t.Errorf("destroyed key %s keeps its wrapped key", id)
			}
		}
	}
	rows.Close()
	v, err := e.st.VerifyAudit(ctx)
	if err != nil || !v.OK {
		t.Fatalf("audit chain after kill: %+v, %v", v, err)
	}
	recs, err := e.st.Audit(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	audited := map[string]bool{}
	for _, r := range recs {
		if r.Action != "keys.dek.destroy" {
			continue
		}
		var after struct{ Keys []struct{ ID string } }
		_ = json.Unmarshal(r.After, &after)
		for _, k := range after.Keys {
			audited[k.ID] = true
		}
	}
	if len(destroyedRows) != len(destroyedByOpen) || len(audited) != len(destroyedRows) {
		t.Fatalf("destroyed: %d by the table, %d by Open, %d audited", len(destroyedRows), len(destroyedByOpen), len(audited))
	}
	for id := range destroyedRows {
		if !destroyedByOpen[id] || !audited[id] {
			t.Errorf("key %s: destroyed in the table, open says %v, audited %v", id, destroyedByOpen[id], audited[id])
		}
	}
	t.Logf("killed after %d of %d destructions", len(destroyedRows), killKeys)
	// The sweep that was cut off finishes on the next start.
	e.clock.Set(killBase.Add(1000 * time.Hour))
	res, err := e.ring.Sweep(ctx)
	if err != nil || len(res.Destroyed)+len(destroyedRows) != killKeys {
		t.Fatalf("sweep after restart = %d destroyed, %v; want the remaining %d", len(res.Destroyed), err, killKeys-len(destroyedRows))
	}
}

func killChild(t *testing.T, dir string) {
	c := &clock{t: killBase}
	e := openEnv(t, dir, c)
	ctx := context.Background()
	var sealed [][]byte
	for range killKeys {
		s, err := e.ring.Seal(ctx, inference, []byte("row"))
		if err != nil {
			t.Fatal(err)
		}
		sealed = append(sealed, s)
		c.Add(time.Hour)
	}
	raw, _ := json.Marshal(sealed)
	if err := os.WriteFile(filepath.Join(dir, "sealed.json"), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	c.Add(1000 * time.Hour)
	fmt.Println("SWEEPING")
	if _, err := e.ring.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	// Not killed in time: wait to be.
	time.Sleep(time.Minute)
}
