package cli_test

import (
	"bytes"
	"context"
	"github.com/secureai-nexus/nexus/controlplane/internal/identity"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secureai-nexus/nexus/controlplane/internal/app"
	"github.com/secureai-nexus/nexus/controlplane/internal/cli"
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

// TestHelpAndArguments: help goes to stdout and exits 0, extra arguments
// are an error, a flag error is printed once with the usage, an
// unreachable control plane says where it was looked for, and counts are
// written in the singular for one.
func TestHelpAndArguments(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}, {"models", "--help"}, {"token", "create", "--help"}} {
		code, out, errOut := run(t, args...)
		if code != 0 || !strings.Contains(out, "Usage:") || errOut != "" {
			t.Errorf("%v: exit %d, stdout %d bytes, stderr %q; want 0 and the usage on stdout", args, code, len(out), errOut)
		}
	}
	if code, _, errOut := run(t, "models", "extra"); code != 1 || !strings.Contains(errOut, "models takes no arguments") {
		t.Errorf("models extra: exit %d, %q", code, errOut)
	}
	code, _, errOut := run(t, "--no-such-flag", "models")
	if code != 2 || strings.Count(errOut, "flag provided but not defined") != 1 || strings.Count(errOut, "Usage:") != 1 {
		t.Errorf("bad flag: exit %d, %q", code, errOut)
	}
	// A port nothing listens on.
	code, _, errOut = run(t, "--server", "http://127.0.0.1:1", "--token-file", os.DevNull, "models")
	if code != 1 || !strings.Contains(errOut, "cannot reach the control plane at http://127.0.0.1:1 (is it running? `make run`)") {
		t.Errorf("unreachable: exit %d, %q", code, errOut)
	}
	code, out, _ := run(t, "validate", exampleMesh)
	if code != 0 || strings.Contains(out, " 1 models") || strings.Contains(out, " 1 services") {
		t.Errorf("validate: exit %d, %q", code, out)
	}
}
