package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/secureai-nexus/nexus/authz/internal/sealer"
)

// unsealLog prints, for each decision-log line with a sealed_input, its
// masked values opened with the data key read back from the control
// plane (an admin's act, audited there), or why they cannot be: a key
// destroyed with its retention bucket leaves them unreadable for good.
func unsealLog(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("nexus-authz unseal-log", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", "http://127.0.0.1:18080", "control plane admin API")
	tokenFile := fs.String("token-file", ".data/controlplane/admin.token", "admin token file ($NEXUS_TOKEN wins if set)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: nexus-authz unseal-log [--server URL] [--token-file F] FILE [FILE…]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	token := os.Getenv("NEXUS_TOKEN")
	if token == "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			fmt.Fprintln(stderr, "unseal-log:", err)
			return 2
		}
		token = strings.TrimSpace(string(b))
	}
	keys := map[string]*sealer.Lease{}
	gone := map[string]string{}
	client := &http.Client{Timeout: 10 * time.Second}
	key := func(id string) (*sealer.Lease, string) {
		if l, ok := keys[id]; ok {
			return l, ""
		}
		if why, ok := gone[id]; ok {
			return nil, why
		}
		l, why, err := readKey(ctx, client, *server, token, id)
		if err != nil {
			why = err.Error()
		}
		if l == nil {
			gone[id] = why
			return nil, why
		}
		keys[id] = l
		return l, ""
	}
	enc := json.NewEncoder(stdout)
	failed := false
	for _, name := range fs.Args() {
		f, err := os.Open(filepath.Clean(name))
		if err != nil {
			fmt.Fprintln(stderr, "unseal-log:", err)
			return 1
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64*1024), 64<<20)
		for n := 1; sc.Scan(); n++ {
			var line struct {
				DecisionID string `json:"decision_id"`
				Sealed     *struct {
					Key  string `json:"key"`
					Data []byte `json:"data"`
				} `json:"sealed_input"`
			}
			if json.Unmarshal(sc.Bytes(), &line) != nil || line.Sealed == nil {
				continue
			}
			out := map[string]any{"file": name, "line": n, "decision_id": line.DecisionID, "key": line.Sealed.Key}
			if l, why := key(line.Sealed.Key); l == nil {
				out["error"] = why
			} else if pt, err := sealer.Open(*l, line.DecisionID, line.Sealed.Data); err != nil {
				out["error"], failed = err.Error(), true
			} else {
				out["masked_values"] = json.RawMessage(pt)
			}
			_ = enc.Encode(out)
		}
		f.Close()
		if err := sc.Err(); err != nil {
			fmt.Fprintf(stderr, "unseal-log: %s: %v\n", name, err)
			return 1
		}
	}
	if failed {
		return 1
	}
	return 0
}

// readKey reads a leased key back; a destroyed one is (nil, why, nil).
func readKey(ctx context.Context, client *http.Client, server, token, id string) (*sealer.Lease, string, error) {
	u, err := url.JoinPath(server, "/api/v1/admin/keys/leases", url.PathEscape(id))
	if err != nil {
		return nil, "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("cannot reach the control plane at %s: %w", server, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch resp.StatusCode {
	case http.StatusOK:
		var l sealer.Lease
		if err := json.Unmarshal(raw, &l); err != nil {
			return nil, "", err
		}
		return &l, "", nil
	case http.StatusGone:
		return nil, "the data key was destroyed with its retention bucket: these values are unreadable", nil
	case http.StatusNotFound:
		return nil, "no such data key in this control plane's keyring", nil
	}
	var e struct {
		Error struct{ Message string } `json:"error"`
	}
	_ = json.Unmarshal(raw, &e)
	return nil, "", errors.New(resp.Status + ": " + e.Error.Message)
}
