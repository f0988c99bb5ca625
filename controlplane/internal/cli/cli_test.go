package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/secureai-nexus/nexus/controlplane/internal/app"
	"github.com/secureai-nexus/nexus/controlplane/internal/cli"
	"github.com/secureai-nexus/nexus/controlplane/internal/identity"
)

const exampleMesh = "../../../examples/mesh.yaml"

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestAgainstRunningControlPlane(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan app.Ready, 1)
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), app.Config{
			MeshFile: exampleMesh, DataDir: t.TempDir(), XDSAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0",
		}, ready)
	}()
	r := <-ready
	defer func() { cancel(); <-done }()
	flags := []string{"--server", "http://" + r.AdminAddr, "--token-file", r.AdminTokenPath}
	t.Setenv("NEXUS_AUDIT_CHECKPOINT", filepath.Join(t.TempDir(), "checkpoint"))

	tests := []struct {
		args     []string
		code     int
		contains []string
	}{
		{[]string{"models"}, 0, []string{"MODEL", "triage  v1", "90", "127.0.0.1:8001"}},
		{[]string{"traffic", "triage", "v1=60", "v2=40"}, 0, []string{"triage  v2       40", "applied (audit record 1)"}},
		{[]string{"traffic", "triage", "v1=60", "v2=40"}, 0, []string{"unchanged"}},
		{[]string{"traffic", "triage", "v1=60", "v2=30"}, 1, []string{"weights: sum to 90; they must sum to 100 (400 invalid_argument)"}},
		{[]string{"traffic", "triage", "v1"}, 1, []string{`"v1" is not VERSION=WEIGHT`}},
		{[]string{"traffic", "nope", "v1=100"}, 1, []string{`no model named "nope" (404 model_not_found)`}},
		{[]string{"proxy-status"}, 0, []string{"model~triage", "service~frontdesk", "NOT CONNECTED"}},
		{[]string{"audit"}, 0, []string{"token:local-admin", "traffic.set", `{"v1":60,"v2":40}`}},
		{[]string{"audit", "verify"}, 0, []string{"audit chain OK: 1 record,", "checkpoint OK: 1 record (the first seen)"}},
		{[]string{"audit", "--after", "0"}, 0, []string{"traffic.set"}},
		{[]string{"rollout", "status", "triage"}, 1, []string{"404"}},
		// A flag after the positional argument, as kubectl takes it.
		{[]string{"token", "create", "spiffe://nexus.local/ns/clinic/sa/frontdesk", "--ttl", "5m"}, 0, nil},
		{[]string{"access-review", "-o", "json"}, 0, []string{`"principals"`}},
		{[]string{"frobnicate"}, 1, []string{`unknown command "frobnicate"`}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, out, errs := run(t, append(flags, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errs)
			}
			for _, c := range tt.contains {
				if !strings.Contains(out+errs, c) {
					t.Errorf("output does not contain %q:\n%s%s", c, out, errs)
				}
			}
		})
	}
	if code, _, errs := run(t, "--server", "http://"+r.AdminAddr, "--token-file", filepath.Join(t.TempDir(), "none"), "models"); code != 1 || !strings.Contains(errs, "no token") {
		t.Errorf("missing token: %d %s", code, errs)
	}
	t.Setenv("NEXUS_TOKEN", "wrong")
	if code, _, errs := run(t, append(flags, "models")...); code != 1 || !strings.Contains(errs, "401") {
		t.Errorf("wrong token: %d %s", code, errs)
	}
}

func TestValidateAndBootstrap(t *testing.T) {
	code, out, errs := run(t, "validate", exampleMesh)
	if code != 0 || !strings.Contains(out, "valid: 1 model, 1 service, 2 sidecar nodes") {
		t.Fatalf("%d %s %s", code, out, errs)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("trustDomain: x\nmodels: []\npiiGuard: {wasm: a}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := run(t, "validate", bad); code != 1 || !strings.Contains(errs, "models: at least one model is required") {
		t.Errorf("%d %s", code, errs)
	}
	dataDir := t.TempDir()
	if code, _, errs := run(t, "--data-dir", dataDir, "bootstrap", exampleMesh, "model~triage"); code != 1 || !strings.Contains(errs, "start the control plane") {
		t.Errorf("bootstrap without a node credential: %d %s", code, errs)
	}
	if _, err := identity.NodeCredentials(dataDir, []string{"model~triage"}); err != nil {
		t.Fatal(err)
	}
	tok, _ := identity.ReadNodeCredential(dataDir, "model~triage")
	code, out, _ = run(t, "--data-dir", dataDir, "bootstrap", exampleMesh, "model~triage")
	if code != 0 || !strings.Contains(out, `"id": "model~triage"`) || !strings.Contains(out, `"nexus_xds"`) ||
		!strings.Contains(out, "Bearer "+tok) || !strings.Contains(out, filepath.Join(dataDir, "sds", "bundle.json")) {
		t.Errorf("%d %s", code, out)
	}
	if code, _, errs := run(t, "--data-dir", dataDir, "bootstrap", exampleMesh, "model~nope"); code != 1 || !strings.Contains(errs, "model~triage, service~frontdesk") {
		t.Errorf("%d %s", code, errs)
	}
}

// TestHelpAndArguments: help goes to stdout and exits 0 — a command's
// own usage and flags for `CMD --help`, every command's for `help`; a
// command called wrongly (a flag error, an argument too many or too few,
// a required flag missing) exits 2 with the error printed once and the
// command's usage on stderr, before anything runs: the control plane
// these calls point at is never asked.
func TestHelpAndArguments(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "not here", http.StatusTeapot)
	}))
	defer srv.Close()
	t.Setenv("NEXUS_TOKEN", "test")
	t.Setenv("NEXUS_AUDIT_CHECKPOINT", filepath.Join(t.TempDir(), "checkpoint"))
	global := []string{"nexusctl — operate a SecureAI Nexus control plane", "nexusctl [flags] proxy-status", "Flags (before the command):", "--spiffe-socket string"}

	tests := []struct {
		args []string
		code int
		// errLine is printed exactly once (code 2); want are in the
		// output too; absent are not.
		errLine      string
		want, absent []string
	}{
		// Help: nexusctl's own.
		{args: []string{"help"}, want: global},
		{args: []string{"--help"}, want: global},
		{args: []string{"-h"}, want: global},
		{args: []string{"-help"}, want: global},
		// Help: a command's own usage and flags, wherever -h is.
		{args: []string{"agent", "--help"}, want: []string{"Usage:\n  nexusctl agent --join-token-file F --socket S", "--trust-domain string", "--socket string", `(default "nexus.local")`}, absent: global},
		{args: []string{"agent", "-h"}, want: []string{"--trust-domain"}, absent: global},
		{args: []string{"models", "--help"}, want: []string{"list models, versions and weights", "Usage:\n  nexusctl [flags] models\n"}, absent: global},
		{args: []string{"audit", "--help"}, want: []string{"nexusctl [flags] audit [--after N]", "--after int", "Commands:\n  nexusctl [flags] audit verify"}, absent: global},
		{args: []string{"audit", "verify", "-h"}, want: []string{"--checkpoint-file string"}, absent: []string{"--after"}},
		{args: []string{"token", "create", "--help"}, want: []string{"nexusctl [flags] token create SPIFFE_ID [--ttl 10m]", "--ttl duration", "(default 10m0s)"}},
		{args: []string{"token", "create", "spiffe://nexus.local/x", "--help"}, want: []string{"--ttl duration"}},
		{args: []string{"compliance", "report", "--help"}, want: []string{"--framework string", "--format string", "-o string"}},
		{args: []string{"traffic", "triage", "--help"}, want: []string{"nexusctl [flags] traffic MODEL VERSION=WEIGHT"}},
		{args: []string{"rollout", "start", "-h"}, want: []string{"--steps string", "--interval duration"}},
		{args: []string{"model", "sign", "--help"}, want: []string{"--key string", "--out string"}, absent: []string{"global flags"}},
		{args: []string{"help", "agent"}, want: []string{"--trust-domain"}, absent: global},
		{args: []string{"help", "audit", "verify"}, want: []string{"--checkpoint-file"}},
		{args: []string{"token", "--help"}, want: []string{"nexusctl [flags] token create", "nexusctl [flags] token revoke TOKEN"}, absent: global},
		{args: []string{"help", "rollout"}, want: []string{"nexusctl [flags] rollout pause MODEL"}},

		// A flag error: once, then the command's usage and flags.
		{args: []string{"--no-such-flag", "models"}, code: 2, errLine: "nexusctl: flag provided but not defined: -no-such-flag", want: global},
		{args: []string{"agent", "--bogus"}, code: 2, errLine: "nexusctl agent: flag provided but not defined: -bogus", want: []string{"nexusctl agent --join-token-file F", "--trust-domain string"}, absent: global},
		{args: []string{"audit", "--bogus"}, code: 2, errLine: "nexusctl audit: flag provided but not defined: -bogus", want: []string{"nexusctl [flags] audit [--after N]", "--after int"}, absent: global},
		{args: []string{"audit", "--after", "x"}, code: 2, errLine: `nexusctl audit: invalid value "x" for flag -after: parse error`, want: []string{"--after int"}},
		{args: []string{"audit", "verify", "--bogus"}, code: 2, errLine: "nexusctl audit verify: flag provided but not defined: -bogus", want: []string{"--checkpoint-file"}},
		{args: []string{"token", "create", "--bogus"}, code: 2, errLine: "nexusctl token create: flag provided but not defined: -bogus", want: []string{"nexusctl [flags] token create SPIFFE_ID", "--ttl duration"}},
		{args: []string{"token", "create", "spiffe://nexus.local/x", "--ttl", "soon"}, code: 2, errLine: `nexusctl token create: invalid value "soon" for flag -ttl`, want: []string{"--ttl duration"}},
		{args: []string{"compliance", "report", "--bogus"}, code: 2, errLine: "nexusctl compliance report: flag provided but not defined: -bogus", want: []string{"nexusctl [flags] compliance report --framework", "--framework string"}},
		{args: []string{"access-review", "--bogus"}, code: 2, errLine: "nexusctl access-review: flag provided but not defined: -bogus", want: []string{"-o string"}},
		{args: []string{"rollout", "start", "triage", "v2", "--interval", "often"}, code: 2, errLine: `nexusctl rollout start: invalid value "often" for flag -interval`, want: []string{"--steps string"}},
		{args: []string{"model", "sign", "dir", "--bogus"}, code: 2, errLine: "nexusctl model sign: flag provided but not defined: -bogus", want: []string{"--key string"}},
		{args: []string{"models", "--bogus"}, code: 2, errLine: "nexusctl models: flag provided but not defined: -bogus", want: []string{"nexusctl [flags] models"}},

		// Arguments too many or too few.
		{args: []string{"audit", "extra"}, code: 2, errLine: `nexusctl audit: unexpected argument "extra"`, want: []string{"nexusctl [flags] audit [--after N]"}},
		{args: []string{"audit", "verify", "extra"}, code: 2, errLine: `nexusctl audit verify: unexpected argument "extra"`, want: []string{"nexusctl [flags] audit verify"}, absent: []string{"audit chain"}},
		{args: []string{"audit", "--after", "3", "extra"}, code: 2, errLine: `nexusctl audit: unexpected argument "extra"`},
		{args: []string{"models", "extra"}, code: 2, errLine: `nexusctl models: unexpected argument "extra"`, want: []string{"nexusctl [flags] models"}},
		{args: []string{"models", "--", "--help"}, code: 2, errLine: `nexusctl models: unexpected argument "--help"`},
		{args: []string{"proxy-status", "a", "b"}, code: 2, errLine: `nexusctl proxy-status: unexpected arguments "a" "b"`},
		{args: []string{"access-review", "-o", "json", "extra"}, code: 2, errLine: `nexusctl access-review: unexpected argument "extra"`},
		{args: []string{"traffic", "triage"}, code: 2, errLine: "nexusctl traffic: want MODEL VERSION=WEIGHT [VERSION=WEIGHT…], got 1 argument"},
		{args: []string{"rollout", "status"}, code: 2, errLine: "nexusctl rollout status: want MODEL, got 0 arguments"},
		{args: []string{"rollout", "abort", "triage", "extra"}, code: 2, errLine: `nexusctl rollout abort: unexpected argument "extra"`},
		{args: []string{"rollout", "start", "triage"}, code: 2, errLine: "nexusctl rollout start: want MODEL VERSION, got 1 argument", want: []string{"--steps"}},
		{args: []string{"rollout", "start", "triage", "v2", "v3", "--steps", "5,100"}, code: 2, errLine: `nexusctl rollout start: unexpected argument "v3"`},
		{args: []string{"validate"}, code: 2, errLine: "nexusctl validate: want MESH_FILE, got 0 arguments", absent: []string{"global flags"}},
		{args: []string{"validate", exampleMesh, "extra"}, code: 2, errLine: `nexusctl validate: unexpected argument "extra"`, absent: []string{"valid:"}},
		{args: []string{"bootstrap", exampleMesh}, code: 2, errLine: "nexusctl bootstrap: want MESH_FILE NODE_ID, got 1 argument"},
		{args: []string{"token", "create"}, code: 2, errLine: "nexusctl token create: want SPIFFE_ID, got 0 arguments"},
		{args: []string{"token", "create", "spiffe://nexus.local/x", "extra", "--ttl", "5m"}, code: 2, errLine: `nexusctl token create: unexpected argument "extra"`},
		{args: []string{"token", "revoke", "a", "b"}, code: 2, errLine: `nexusctl token revoke: unexpected argument "b"`},
		{args: []string{"compliance", "report", "--framework", "soc2", "extra"}, code: 2, errLine: `nexusctl compliance report: unexpected argument "extra"`},
		{args: []string{"ca", "rotate-root", "now"}, code: 2, errLine: `nexusctl ca rotate-root: unexpected argument "now"`},
		{args: []string{"model", "sign", "a", "b", "--key", "k.pem"}, code: 2, errLine: `nexusctl model sign: unexpected argument "b"`},
		{args: []string{"agent", "--socket", "s.sock", "extra"}, code: 2, errLine: `nexusctl agent: unexpected argument "extra"`},

		// A required flag missing.
		{args: []string{"compliance", "report"}, code: 2, errLine: "nexusctl compliance report: --framework is required", want: []string{"--framework string"}},
		{args: []string{"agent"}, code: 2, errLine: "nexusctl agent: --socket is required", want: []string{"--socket string"}},
		{args: []string{"model", "sign", "dir"}, code: 2, errLine: "nexusctl model sign: --key is required", want: []string{"--key string"}},

		// A command group without one of its commands.
		{args: []string{"token"}, code: 2, errLine: "nexusctl token: missing command: want `token create` or `token revoke`", want: []string{"nexusctl [flags] token revoke TOKEN"}, absent: global},
		{args: []string{"rollout", "frob", "triage"}, code: 2, errLine: "nexusctl rollout: unknown command \"frob\": want `rollout start`, `rollout status`", want: []string{"nexusctl [flags] rollout resume MODEL"}},
		{args: []string{"compliance", "audit"}, code: 2, errLine: "nexusctl compliance: unknown command \"audit\": want `compliance report`"},
		{args: []string{"token", "--bogus"}, code: 2, errLine: "nexusctl token: flag provided but not defined: -bogus"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			before := hits.Load()
			code, out, errOut := run(t, append([]string{"--server", srv.URL}, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errOut)
			}
			if n := hits.Load() - before; n != 0 {
				t.Errorf("the control plane was called %d times", n)
			}
			usage, other := out, errOut
			if tt.code != 0 {
				usage, other = errOut, out
				if n := strings.Count(errOut, tt.errLine); n != 1 || !strings.HasPrefix(errOut, tt.errLine) {
					t.Errorf("stderr starts with / has %q %d times, want it first and once:\n%s", tt.errLine, n, errOut)
				}
			}
			if other != "" {
				t.Errorf("the other stream is not empty: %q", other)
			}
			if strings.Count(usage, "Usage:") != 1 || strings.Contains(usage, "Usage of") || strings.Contains(usage, "(s)") {
				t.Errorf("want one usage, no \"Usage of\", no \"(s)\":\n%s", usage)
			}
			for _, w := range tt.want {
				if !strings.Contains(usage, w) {
					t.Errorf("no %q in:\n%s", w, usage)
				}
			}
			for _, a := range tt.absent {
				if strings.Contains(usage, a) {
					t.Errorf("%q in:\n%s", a, usage)
				}
			}
		})
	}

	if code, _, errOut := run(t, "frobnicate"); code != 1 || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Errorf("frobnicate: exit %d, %q", code, errOut)
	}
	if code, _, errOut := run(t, "help", "frobnicate"); code != 1 || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Errorf("help frobnicate: exit %d, %q", code, errOut)
	}
	// A port nothing listens on.
	code, _, errOut := run(t, "--server", "http://127.0.0.1:1", "--token-file", os.DevNull, "models")
	if code != 1 || !strings.Contains(errOut, "cannot reach the control plane at http://127.0.0.1:1 (is it running? `make run`)") {
		t.Errorf("unreachable: exit %d, %q", code, errOut)
	}
}

// TestValidateCounts: validate counts models, services, nodes and
// problems in the singular for one and the plural otherwise, never "(s)".
func TestValidateCounts(t *testing.T) {
	example, err := os.ReadFile(exampleMesh)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, "validate", exampleMesh)
	if code != 0 || !strings.Contains(out, "valid: 1 model, 1 service, 2 sidecar nodes") || strings.Contains(out, "(s)") {
		t.Errorf("validate: exit %d, %q %q", code, out, errOut)
	}
	for _, tt := range []struct {
		unknown int
		want    string
	}{
		{1, ": 1 problem:\n"},
		{2, ": 2 problems:\n"},
		{17, ": 17 problems:\n"},
	} {
		t.Run(tt.want, func(t *testing.T) {
			doc := bytes.NewBuffer(bytes.Clone(example))
			for i := range tt.unknown {
				fmt.Fprintf(doc, "unknownKey%d: 1\n", i)
			}
			file := filepath.Join(t.TempDir(), "mesh.yaml")
			if err := os.WriteFile(file, doc.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			code, out, errOut := run(t, "validate", file)
			if code != 1 || out != "" || !strings.Contains(errOut, tt.want) || strings.Contains(errOut, "(s)") ||
				strings.Count(errOut, ": unknown field") != tt.unknown {
				t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant %q", code, out, errOut, tt.want)
			}
		})
	}
}
