package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestParseRun: opa-envoy-plugin's command lines, as its docs and Helm
// charts start it, give the same server.
func TestParseRun(t *testing.T) {
	dir := t.TempDir()
	cfgFile := writeFile(t, dir, "config.yaml", `
plugins:
  envoy_ext_authz_grpc:
    addr: 127.0.0.1:9191
    path: istio/authz/allow
    dry-run: true
    skip-request-body-parse: true
    enable-reflection: true
    grpc-max-recv-msg-size: 1048576
decision_logs:
  console: true
labels:
  app: bookinfo
`)
	policies := t.TempDir()

	_, _, err := parseRun([]string{"--server", "--config-file=" + cfgFile, "--addr", "localhost:18181", policies, "--ignore-me-not"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "ignore-me-not") {
		t.Fatalf("unknown flag: %v", err)
	}

	if _, _, err = parseRun([]string{"--server"}, io.Discard); err == nil {
		t.Fatal("no policies and no bundles accepted")
	}

	_, cfg, err := parseRun([]string{"-s", "-c", cfgFile, policies, "--addr", "localhost:18181", "--log-level", "debug", "--decision-cache-size", "0", "--set", "labels.team=clinic"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "127.0.0.1:9191" || cfg.HTTPAddr != "localhost:18181" || cfg.Query != "data.istio.authz.allow" ||
		!cfg.DryRun || !cfg.SkipRequestBodyParse || !cfg.EnableReflection || cfg.GRPCMaxRecvMsgSize != 1<<20 ||
		len(cfg.PolicyPaths) != 1 || cfg.PolicyPaths[0] != policies || cfg.DecisionCacheSize != 0 ||
		cfg.DecisionLog != "stdout" || !cfg.DecisionLogOPAFormat || cfg.Labels["app"] != "bookinfo" || cfg.Labels["team"] != "clinic" {
		t.Errorf("config = %+v", cfg)
	}
	// --decision-log on the command line wins over the console.
	_, cfg, err = parseRun([]string{"--server", "--config-file", cfgFile, "--decision-log", filepath.Join(dir, "d.log"), policies}, io.Discard)
	if err != nil || cfg.DecisionLog != filepath.Join(dir, "d.log") {
		t.Errorf("explicit decision log: %v %q", err, cfg.DecisionLog)
	}
	// Without decision_logs in the file nothing is logged, as in opa-envoy-plugin.
	plain := writeFile(t, dir, "plain.yaml", "plugins:\n  envoy_ext_authz_grpc:\n    addr: 127.0.0.1:9191\n")
	_, cfg, err = parseRun([]string{"--server", "--config-file", plain, policies}, io.Discard)
	if err != nil || cfg.DecisionLog != "off" || cfg.Query != "data.envoy.authz.allow" {
		t.Errorf("defaults: %v %+v", err, cfg)
	}

	// opa-envoy-plugin's own quick start: a ConfigMap mount and --ignore.
	rego := writeFile(t, policies, "policy.rego", "package envoy.authz\n\ndefault allow := false\n")
	_, cfg, err = parseRun([]string{"--server", "--config-file", plain, "--ignore=.*", rego}, io.Discard)
	if err != nil || cfg.PolicyPathsAsBundles || len(cfg.Ignore) != 1 || cfg.Ignore[0] != ".*" || len(cfg.PolicyPaths) != 1 {
		t.Errorf("quick start command line: %v %+v", err, cfg)
	}
	if _, cfg, err = parseRun([]string{"--server", "-c", plain, "-b", policies}, io.Discard); err != nil || !cfg.PolicyPathsAsBundles {
		t.Errorf("--bundle: %v %+v", err, cfg)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--config-file", plain, policies}, "pass --server"},
		{[]string{"--server", "--tls-cert-file", "x.pem", policies}, "--tls-cert-file is not supported"},
		{[]string{"--server", "--h2c", "--config-file", plain, policies}, "--h2c is not supported"},
		{[]string{"--server", "--config-file", writeFile(t, dir, "manual.yaml", "services: {s: {url: 'http://127.0.0.1:1'}}\nbundles: {authz: {trigger: manual}}\nplugins: {envoy_ext_authz_grpc: {addr: '127.0.0.1:9191'}}\n")}, "bundles.authz.trigger: manual is not supported"},
		{[]string{"--server", "--config-file", writeFile(t, dir, "scheme.yaml", "plugins: {envoy_ext_authz_grpc: {addr: 'http://127.0.0.1:9191'}}\n"), policies}, `scheme must be grpc or unix, not "http"`},
		{[]string{"--server", "--log-level", "loud", "--config-file", plain, policies}, `--log-level "loud"`},
		// opa-envoy-plugin's default address listens on every interface.
		{[]string{"--server", policies}, `plugins.envoy_ext_authz_grpc.addr ":9191" is not a loopback address`},
		{[]string{"--server", "--config-file", writeFile(t, dir, "typo.yaml", "plugins:\n  envoy_ext_authz_grpc:\n    dry_run: true\n"), policies}, `dry_run`},
	} {
		if _, _, err := parseRun(tt.args, io.Discard); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: err = %v, want %q", tt.args, err, tt.want)
		}
	}
}
