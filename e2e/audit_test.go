package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestAuditSurvivesKill9 changes traffic as fast as the control plane
// answers from four clients, kills the process with SIGKILL mid-stream,
// and restarts it: every change it acknowledged is in the audit log, the
// chain verifies to its head and the checkpoint covers it — no lost
// entry, no unverifiable tail.
func TestAuditSurvivesKill9(t *testing.T) {
	t.Parallel()
	bin := binaries(t)
	m := writeMesh(t)
	cp, token := m.startControlPlane(t, bin)

	var mu sync.Mutex
	acked := map[int64]bool{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 5 * time.Second}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				w := 1 + (i*4+c)%98
				req, _ := http.NewRequest("PUT", "http://"+m.admin+"/api/v1/admin/models/triage/traffic",
					strings.NewReader(fmt.Sprintf(`{"weights":{"v1":%d,"v2":%d}}`, w, 100-w)))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					continue // the process is gone: nothing was acknowledged
				}
				var out struct {
					AuditSeq int64 `json:"audit_seq"`
				}
				if resp.StatusCode == 200 && decode(resp, &out) == nil && out.AuditSeq > 0 {
					mu.Lock()
					acked[out.AuditSeq] = true
					mu.Unlock()
				} else {
					resp.Body.Close()
				}
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	if err := cp.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cp.cmd.Wait()
	close(stop)
	wg.Wait()
	mu.Lock()
	n := len(acked)
	mu.Unlock()
	if n < 10 {
		t.Fatalf("only %d changes acknowledged before the kill", n)
	}

	_, token = m.startControlPlane(t, bin)
	var v struct {
		OK      bool  `json:"ok"`
		Records int64 `json:"records"`
	}
	if code := api(t, "GET", "http://"+m.admin+"/api/v1/admin/audit/verify", token, "", &v); code != 200 || !v.OK {
		t.Fatalf("after kill -9 the chain does not verify: %d %+v", code, v)
	}
	seen := map[int64]bool{}
	for after := int64(0); ; {
		var page struct {
			Records []struct {
				Seq int64 `json:"seq"`
			} `json:"records"`
		}
		api(t, "GET", fmt.Sprintf("http://%s/api/v1/admin/audit?after=%d&limit=1000", m.admin, after), token, "", &page)
		for _, r := range page.Records {
			seen[r.Seq] = true
			after = r.Seq
		}
		if len(page.Records) < 1000 {
			break
		}
	}
	for seq := range acked {
		if !seen[seq] {
			t.Errorf("acknowledged change with audit record %d is gone after kill -9", seq)
		}
	}
	// The checkpoint covers every record, the tail included.
	req, _ := http.NewRequest("GET", "http://"+m.admin+"/api/v1/admin/audit/checkpoint", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body := make([]byte, 4096)
	k, _ := resp.Body.Read(body)
	lines := strings.Split(string(body[:k]), "\n")
	if len(lines) < 3 || lines[1] != fmt.Sprint(v.Records) {
		t.Errorf("checkpoint %q does not cover the %d records", body[:k], v.Records)
	}
	t.Logf("%d changes acknowledged before SIGKILL; %d records after the restart, chain and checkpoint intact", n, v.Records)
}

func decode(resp *http.Response, v any) error {
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}
