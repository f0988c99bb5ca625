package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/audit"
	"github.com/secureai-nexus/nexus/controlplane/internal/store"
)

func entry(i int, w map[string]uint32) audit.Entry {
	after, _ := json.Marshal(w)
	return audit.Entry{Time: time.Now(), Actor: "test", Action: "traffic.set", Target: "models/triage", After: after}
}

func TestSQLiteTrafficAndAuditSurviveRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := store.OpenSQLite(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i <= 10; i++ {
		w := map[string]uint32{"v1": uint32(100 - 10*i), "v2": uint32(10 * i)}
		if _, err := s.SetTraffic(ctx, "triage", w, entry(i, w)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Append(ctx, audit.Entry{Time: time.Now(), Actor: "test", Action: "note", Target: "mesh"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dir + "/nexus.db")
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("database file mode = %v, %v; want 0600", st.Mode(), err)
	}

	s, err = store.OpenSQLite(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tr, err := s.Traffic(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tr["triage"]["v1"] != 0 || tr["triage"]["v2"] != 100 {
		t.Errorf("traffic after restart = %v", tr)
	}
	recs, err := s.Audit(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 12 || recs[0].Seq != 1 || recs[11].Action != "note" {
		t.Fatalf("audit = %d records", len(recs))
	}
	page, err := s.Audit(ctx, 10, 100)
	if err != nil || len(page) != 2 || page[0].Seq != 11 {
		t.Fatalf("page after 10 = %v, %v", page, err)
	}
	v, err := s.VerifyAudit(ctx)
	if err != nil || !v.OK || v.Records != 12 || v.Head != recs[11].Hash {
		t.Fatalf("verify = %+v, %v", v, err)
	}
}

// TestSQLiteDetectsTampering edits a stored record behind the store's back.
func TestSQLiteDetectsTampering(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := store.OpenSQLite(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < 4; i++ {
		if _, err := s.Append(ctx, audit.Entry{Time: time.Now(), Actor: "alice", Action: "a", Target: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Exec(ctx, `UPDATE audit SET actor = 'mallory' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	v, err := s.VerifyAudit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v.OK || v.BrokenAt != 2 {
		t.Fatalf("tampering not detected: %+v", v)
	}
	if err := s.Exec(ctx, `DELETE FROM audit WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.VerifyAudit(ctx); v.OK || v.BrokenAt != 2 {
		t.Fatalf("deletion not detected: %+v", v)
	}
}

const crashEnv = "NEXUS_STORE_CRASH_DIR"

// TestCrashWriter is the child of TestKillMidWrite: it writes until killed.
func TestCrashWriter(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		return // only meaningful as TestKillMidWrite's child process
	}
	ctx := context.Background()
	s, err := store.OpenSQLite(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		w := map[string]uint32{"v1": uint32(i % 101), "v2": uint32(100 - i%101)}
		if _, err := s.SetTraffic(ctx, "triage", w, entry(i, w)); err != nil {
			t.Fatal(err)
		}
		fmt.Println("wrote", i)
	}
}

// TestKillMidWrite kills a writing process with SIGKILL and checks that the
// store reopens with an intact chain whose last record matches the stored
// weights: no change without its record.
func TestKillMidWrite(t *testing.T) {
	dir := t.TempDir()
	for round := 0; round < 3; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashWriter$", "-test.v")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// The writer never pauses between writes, so the kill lands inside
		// one whatever the count; 400 a round grow the chain across rounds.
		buf := make([]byte, 4096)
		seen := 0
		for seen < 400 {
			n, err := out.Read(buf)
			if err != nil {
				t.Fatalf("writer ended early: %v", err)
			}
			for _, c := range buf[:n] {
				if c == '\n' {
					seen++
				}
			}
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()

		ctx := context.Background()
		s, err := store.OpenSQLite(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		v, err := s.VerifyAudit(ctx)
		if err != nil || !v.OK {
			t.Fatalf("round %d: chain after kill -9: %+v, %v", round, v, err)
		}
		recs, err := s.Audit(ctx, v.Records-1, 1)
		if err != nil || len(recs) != 1 {
			t.Fatal(err)
		}
		var last map[string]uint32
		if err := json.Unmarshal(recs[0].After, &last); err != nil {
			t.Fatal(err)
		}
		tr, err := s.Traffic(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(tr["triage"]) != fmt.Sprint(last) {
			t.Fatalf("round %d: stored weights %v differ from the last audit record %v", round, tr["triage"], last)
		}
		s.Close()
	}
}
