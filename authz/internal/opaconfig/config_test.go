package opaconfig

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/plugins"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func parse(t *testing.T, src string, opts Options) *Config {
	t.Helper()
	if opts.LookupEnv == nil {
		opts.LookupEnv = env(nil)
	}
	cfg, err := Parse("cfg.yaml", []byte(src), opts)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return cfg
}

// A complete opa-envoy-plugin style config, as its docs show one.
const fullConfig = `
services:
  acme:
    url: https://bundles.example.com/v1/
    headers:
      X-Tenant: blue
    response_header_timeout_seconds: 5
    tls:
      ca_cert: /etc/ca.pem
      system_ca_required: true
    credentials:
      bearer:
        token_path: /var/run/token
        scheme: Token
  logs:
    url: http://logs.example.com
    allow_insecure_tls: true
labels:
  app: gateway
  region: west
keys:
  global:
    algorithm: HS256
    key: secret
    scope: write
bundles:
  authz:
    service: acme
    resource: bundles/authz.tar.gz
    polling:
      min_delay_seconds: 10
      max_delay_seconds: 20
      long_polling_timeout_seconds: 30
    signing:
      keyid: global
      scope: write
      exclude_files: ["*.md"]
decision_logs:
  service: logs
  partition_name: edge
  mask_decision: /system/log/mask2
  reporting:
    min_delay_seconds: 1
    max_delay_seconds: 2
    upload_size_limit_bytes: 1048576
    buffer_size_limit_bytes: 8388608
status:
  service: acme
default_decision: /http/example/authz/allow
plugins:
  envoy_ext_authz_grpc:
    addr: 127.0.0.1:9000
    path: istio/authz/allow
    dry-run: true
    enable-reflection: true
    skip-request-body-parse: true
    proto-descriptor: /etc/desc.pb
    grpc-max-recv-msg-size: 1000
    grpc-max-send-msg-size: 2000
    enable-performance-metrics: true
    grpc-request-duration-seconds-buckets: [0.001, 0.01, 1]
`

func TestParseFullConfig(t *testing.T) {
	cfg := parse(t, fullConfig, Options{})
	if cfg.File != "cfg.yaml" {
		t.Errorf("File = %q", cfg.File)
	}
	if !slices.Equal(cfg.ServiceNames, []string{"acme", "logs"}) {
		t.Errorf("ServiceNames = %v", cfg.ServiceNames)
	}
	acme := cfg.Services["acme"]
	wantAcme := &Service{
		Name: "acme", URL: "https://bundles.example.com/v1/", Headers: map[string]string{"X-Tenant": "blue"},
		ResponseHeaderTimeoutSeconds: 5, CACert: "/etc/ca.pem", SystemCARequired: true,
		Credentials: "bearer", Bearer: &BearerCredentials{TokenPath: "/var/run/token", Scheme: "Token"},
		raw: acme.raw,
	}
	if !reflect.DeepEqual(acme, wantAcme) {
		t.Errorf("acme = %+v\nwant %+v", acme, wantAcme)
	}
	if l := cfg.Services["logs"]; !l.AllowInsecureTLS || l.ResponseHeaderTimeoutSeconds != 10 || l.Credentials != "" {
		t.Errorf("logs = %+v", l)
	}
	if k := cfg.Keys["global"]; k == nil || k.Algorithm != "HS256" || k.Key != "secret" || k.Scope != "write" {
		t.Errorf("keys = %+v", cfg.Keys)
	}
	wantBundle := &Bundle{
		Name: "authz", Service: "acme", Resource: "bundles/authz.tar.gz", Trigger: plugins.TriggerPeriodic,
		Polling:        Polling{MinDelaySeconds: 10, MaxDelaySeconds: 20, LongPollingTimeoutSeconds: 30},
		Signing:        &Signing{KeyID: "global", Scope: "write", ExcludeFiles: []string{"*.md"}},
		SizeLimitBytes: 1 << 30,
	}
	if b := cfg.Bundles["authz"]; !reflect.DeepEqual(b, wantBundle) {
		t.Errorf("bundle = %+v\nwant %+v", b, wantBundle)
	}
	wantLogs := &DecisionLogs{
		Service: "logs", PartitionName: "edge", Resource: "/logs/edge", MaskDecision: "/system/log/mask2",
		Reporting: Reporting{MinDelaySeconds: 1, MaxDelaySeconds: 2, UploadSizeLimitBytes: 1 << 20, BufferSizeLimitBytes: 8 << 20},
	}
	if !reflect.DeepEqual(cfg.DecisionLogs, wantLogs) {
		t.Errorf("decision_logs = %+v\nwant %+v", cfg.DecisionLogs, wantLogs)
	}
	if !reflect.DeepEqual(cfg.Status, &Status{Service: "acme"}) {
		t.Errorf("status = %+v", cfg.Status)
	}
	if !reflect.DeepEqual(cfg.Labels, map[string]string{"app": "gateway", "region": "west"}) {
		t.Errorf("labels = %v", cfg.Labels)
	}
	if cfg.DefaultDecision != "/http/example/authz/allow" || cfg.DefaultAuthorizationDecision != "/system/authz/allow" {
		t.Errorf("default decisions = %q, %q", cfg.DefaultDecision, cfg.DefaultAuthorizationDecision)
	}
	wantEA := ExtAuthz{
		Addr: "127.0.0.1:9000", Path: "istio/authz/allow", DryRun: true, EnableReflection: true,
		SkipRequestBodyParse: true, ProtoDescriptor: "/etc/desc.pb", GRPCMaxRecvMsgSize: 1000, GRPCMaxSendMsgSize: 2000,
		EnablePerformanceMetrics: true, GRPCRequestDurationSecondsBuckets: []float64{0.001, 0.01, 1},
		Decision: "data.istio.authz.allow",
	}
	if !cfg.ExtAuthzConfigured || !reflect.DeepEqual(cfg.ExtAuthz, wantEA) {
		t.Errorf("ext authz = %+v\nwant %+v", cfg.ExtAuthz, wantEA)
	}
	if want := []string{"default_decision is accepted for compatibility and not used: nexus-authz answers only the ext_authz decision (plugins.envoy_ext_authz_grpc.path)"}; !slices.Equal(cfg.Warnings, want) {
		t.Errorf("warnings = %q", cfg.Warnings)
	}

	// OPA's rest package builds the client from the same config.
	cl, err := cfg.RESTClient("acme")
	if err != nil {
		t.Fatal(err)
	}
	if cl.Service() != "acme" || cl.Config().URL != "https://bundles.example.com/v1" || cl.Config().Credentials.Bearer.TokenPath != "/var/run/token" {
		t.Errorf("rest config = %+v", cl.Config())
	}
	if _, err := cfg.RESTClient("nope"); err == nil {
		t.Error("RESTClient for an unknown service succeeded")
	}
	vc, err := cfg.VerificationConfig(cfg.Bundles["authz"])
	if err != nil || vc.KeyID != "global" || vc.Scope != "write" || !vc.SignatureRequired() || vc.PublicKeys["global"] == nil {
		t.Errorf("verification config = %+v, %v", vc, err)
	}
	dc, err := cfg.Bundles["authz"].DownloadConfig()
	if err != nil || *dc.Polling.MinDelaySeconds != 10 || *dc.Polling.LongPollingTimeoutSeconds != 30 || *dc.Trigger != plugins.TriggerPeriodic {
		t.Errorf("download config = %+v, %v", dc, err)
	}
}

func TestParseDefaults(t *testing.T) {
	cfg := parse(t, "", Options{})
	want := ExtAuthz{
		Addr: ":9191", Path: "envoy/authz/allow", GRPCMaxRecvMsgSize: 4 << 20, GRPCMaxSendMsgSize: 1<<31 - 1,
		GRPCRequestDurationSecondsBuckets: []float64{1e-6, 5e-6, 1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 3e-3, 5e-3, 0.1, 1},
		Decision:                          "data.envoy.authz.allow",
	}
	if cfg.ExtAuthzConfigured || !reflect.DeepEqual(cfg.ExtAuthz, want) {
		t.Errorf("ext authz = %+v", cfg.ExtAuthz)
	}
	if cfg.DecisionLogs != nil || cfg.Status != nil || len(cfg.Bundles) != 0 || len(cfg.Warnings) != 0 {
		t.Errorf("cfg = %+v", cfg)
	}
	if cfg.DefaultDecision != "/system/main" || cfg.DefaultAuthorizationDecision != "/system/authz/allow" {
		t.Errorf("default decisions = %q, %q", cfg.DefaultDecision, cfg.DefaultAuthorizationDecision)
	}

	// An empty plugin section gets opa-envoy-plugin's defaults too.
	cfg = parse(t, "plugins:\n  envoy_ext_authz_grpc: {}\n", Options{})
	if !cfg.ExtAuthzConfigured || !reflect.DeepEqual(cfg.ExtAuthz, want) {
		t.Errorf("empty section: %+v", cfg.ExtAuthz)
	}
}

func TestParseSectionDefaults(t *testing.T) {
	cfg := parse(t, `
services:
  - name: first
    url: https://a.example
  - name: second
    url: https://b.example
bundles:
  authz: {}
  other:
    service: second
    persist: true
decision_logs: {}
status:
  console: true
`, Options{})
	if !slices.Equal(cfg.ServiceNames, []string{"first", "second"}) {
		t.Errorf("ServiceNames = %v", cfg.ServiceNames)
	}
	b := cfg.Bundles["authz"]
	if b.Service != "first" || b.Resource != "bundles/authz" || b.Polling != (Polling{MinDelaySeconds: 60, MaxDelaySeconds: 120}) || b.Signing != nil {
		t.Errorf("bundle = %+v", b)
	}
	wantLogs := &DecisionLogs{Service: "first", Resource: "/logs", MaskDecision: "/system/log/mask",
		Reporting: Reporting{MinDelaySeconds: 300, MaxDelaySeconds: 600, UploadSizeLimitBytes: 32768}}
	if !reflect.DeepEqual(cfg.DecisionLogs, wantLogs) {
		t.Errorf("decision_logs = %+v", cfg.DecisionLogs)
	}
	// Console-only status has no service, as in OPA.
	if !reflect.DeepEqual(cfg.Status, &Status{Console: true}) {
		t.Errorf("status = %+v", cfg.Status)
	}
	if len(cfg.Warnings) != 1 || !strings.HasPrefix(cfg.Warnings[0], "bundles.other.persist is ignored") {
		t.Errorf("warnings = %q", cfg.Warnings)
	}
	// Keys but no signing section: signatures are optional, as in OPA.
	cfg = parse(t, "services: {s: {url: 'http://x'}}\nkeys: {k: {key: s, algorithm: HS512}}\nbundles: {b: {}}\n", Options{})
	vc, err := cfg.VerificationConfig(cfg.Bundles["b"])
	if err != nil || vc == nil || vc.SignatureRequired() {
		t.Errorf("verification config = %+v, %v", vc, err)
	}
	cfg = parse(t, "services: {s: {url: 'http://x'}}\nbundles: {b: {}}\n", Options{})
	if vc, err := cfg.VerificationConfig(cfg.Bundles["b"]); vc != nil || err != nil {
		t.Errorf("no keys: verification config = %+v, %v", vc, err)
	}
}

func TestParseJSON(t *testing.T) {
	cfg := parse(t, "{\n\t\"services\": {\"acme\": {\"url\": \"https://x.example\"}},\n\t\"bundles\": {\"authz\": {\"service\": \"acme\"}},\n\t\"plugins\": {\"envoy_ext_authz_grpc\": {\"query\": \"data.envoy.authz.allow\"}}\n}\n", Options{})
	if cfg.Bundles["authz"].Service != "acme" || cfg.ExtAuthz.Decision != "data.envoy.authz.allow" || cfg.ExtAuthz.Path != "" {
		t.Errorf("cfg = %+v", cfg)
	}
	if len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0], "query is deprecated") {
		t.Errorf("warnings = %q", cfg.Warnings)
	}
}

func TestDecisionFromPath(t *testing.T) {
	for path, want := range map[string]string{
		"envoy/authz/allow":   "data.envoy.authz.allow",
		"/envoy/authz/allow/": "data.envoy.authz.allow",
		"a/0/b":               "data.a[0].b",
		"has space/x":         `data["has space"].x`,
	} {
		cfg := parse(t, "plugins: {envoy_ext_authz_grpc: {path: '"+path+"'}}", Options{})
		if cfg.ExtAuthz.Decision != want {
			t.Errorf("path %q: decision %q, want %q", path, cfg.ExtAuthz.Decision, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, src string
		want      string
	}{
		{"unknown plugin key with suggestion", `
plugins:
  envoy_ext_authz_grpc:
    dry_run: true
`, `cfg.yaml:4:5: plugins.envoy_ext_authz_grpc.dry_run: unknown key; did you mean "dry-run"?`},
		{"unknown top-level key", "servics: {}\n", `cfg.yaml:1:1: servics: unknown key; did you mean "services"?`},
		{"unknown key without a near match", "bundles:\n  b:\n    zzz: 1\nservices: {s: {url: 'http://x'}}\n",
			`cfg.yaml:3:5: bundles.b.zzz: unknown key (known: persist, polling, resource, service, signing, size_limit_bytes, trigger)`},
		{"YAML syntax error has line and column", "plugins:\n  envoy_ext_authz_grpc:\n    addr: :9191\n   path: x\n",
			"cfg.yaml:4:4: YAML syntax error: value is not allowed in this context"},
		{"tab indentation", "plugins:\n\tenvoy_ext_authz_grpc: {}\n", "cfg.yaml:2:1: YAML syntax error: found character '\t' that cannot start any token"},
		{"JSON syntax error", "{\"services\": {\"a\": {\"url\": \"http://x\"},}\n", "cfg.yaml:1:"},
		{"duplicate key", "labels:\n  a: x\n  a: y\n", `cfg.yaml:3:3: key "a" already defined at line 2`},
		{"not a mapping", "- a\n- b\n", "cfg.yaml:1:1: the config must be a mapping (YAML) or an object (JSON), not a list"},
		{"wrong type", "plugins: {envoy_ext_authz_grpc: {dry-run: 'yes'}}\n", "cfg.yaml:1:34: plugins.envoy_ext_authz_grpc.dry-run: must be true or false, not a string"},
		{"label must be a string", "labels: {version: 1.5}\n", "cfg.yaml:1:10: labels.version: must be a string, not a number (quote it)"},
		{"path and query", "plugins: {envoy_ext_authz_grpc: {path: a/b, query: data.a.b}}\n",
			`cfg.yaml:1:45: plugins.envoy_ext_authz_grpc.query: set path or query, not both (query is deprecated; opa-envoy-plugin refuses both too)`},
		{"query body", "plugins: {envoy_ext_authz_grpc: {query: 'x = data.a.b'}}\n", `is not a single reference under data`},
		{"bad addr", "plugins: {envoy_ext_authz_grpc: {addr: 'http://x:1'}}\n", `plugins.envoy_ext_authz_grpc.addr: "http://x:1": scheme must be grpc or unix, not "http"`},
		{"addr without port", "plugins: {envoy_ext_authz_grpc: {addr: 'localhost'}}\n", `plugins.envoy_ext_authz_grpc.addr: "localhost" is not host:port`},
		{"unordered buckets", "plugins: {envoy_ext_authz_grpc: {grpc-request-duration-seconds-buckets: [1, 0.5]}}\n",
			"plugins.envoy_ext_authz_grpc.grpc-request-duration-seconds-buckets[1]: buckets must be strictly increasing (0.5 after 1)"},
		{"message size", "plugins: {envoy_ext_authz_grpc: {grpc-max-recv-msg-size: 0}}\n", "plugins.envoy_ext_authz_grpc.grpc-max-recv-msg-size: must be greater than 0"},
		{"int overflow", "plugins: {envoy_ext_authz_grpc: {grpc-max-recv-msg-size: 99999999999999999999}}\n", "plugins.envoy_ext_authz_grpc.grpc-max-recv-msg-size: must be an integer, not a number"},
		{"other plugin", "plugins: {envoy_ext_authz_grcp: {}}\n", `cfg.yaml:1:11: plugins.envoy_ext_authz_grcp: unknown key; did you mean "envoy_ext_authz_grpc"?; nexus-authz has only the envoy_ext_authz_grpc plugin`},
		{"unsupported OPA section", "discovery: {name: x}\n", "cfg.yaml:1:1: discovery: OPA discovery is not supported by nexus-authz; configure bundles directly"},
		{"unsupported decision log option", "decision_logs: {console: true, drop_decision: /x}\n", "decision_logs.drop_decision: is an OPA option nexus-authz's decision log does not support"},
		{"service url required", "services: {acme: {}}\n", "cfg.yaml:1:12: services.acme.url: required"},
		{"service url scheme", "services: {acme: {url: 'ftp://x'}}\n", `services.acme.url: "ftp://x" is not an http:// or https:// URL`},
		{"service unknown key from OPA's rest type", "services: {acme: {url: 'http://x', credentials: {bearer: {tokne: t}}}}\n",
			`services.acme.credentials.bearer.tokne: unknown key; did you mean "token"?`},
		{"two credentials", "services: {acme: {url: 'http://x', credentials: {bearer: {token: t}, client_tls: {cert: c, private_key: k}}}}\n",
			"services.acme.credentials: bearer, client_tls are all set; configure one credential method"},
		{"token and token_path", "services: {acme: {url: 'http://x', credentials: {bearer: {token: t, token_path: p}}}}\n",
			"services.acme.credentials.bearer: set token or token_path, not both"},
		{"credential plugin", "services: {acme: {url: 'http://x', credentials: {plugin: mine}}}\n",
			"services.acme.credentials.plugin: custom credential plugins are not supported by nexus-authz"},
		{"oci service", "services: {acme: {url: 'http://x', type: oci}}\n", `services.acme.type: service type "oci" is not supported`},
		{"list service without name", "services: [{url: 'http://x'}]\n", "services[0].name: required in the list form of services"},
		{"duplicate list service", "services: [{name: a, url: 'http://x'}, {name: a, url: 'http://y'}]\n", `services[1].name: service "a" is configured twice`},
		{"bundle names unknown service", "services: {acme: {url: 'http://x'}}\nbundles: {authz: {service: acmee}}\n",
			`bundles.authz.service: service "acmee" is not configured (services: acme)`},
		{"bundle without services", "bundles: {authz: {}}\n", "bundles.authz.service: required: there is no services section to default to"},
		{"polling min without max", "services: {s: {url: 'http://x'}}\nbundles: {b: {polling: {min_delay_seconds: 5}}}\n",
			"bundles.b.polling.max_delay_seconds: required with min_delay_seconds"},
		{"polling max below min", "services: {s: {url: 'http://x'}}\nbundles: {b: {polling: {min_delay_seconds: 5, max_delay_seconds: 4}}}\n",
			"bundles.b.polling.max_delay_seconds: must be at least min_delay_seconds (5)"},
		{"long polling zero", "services: {s: {url: 'http://x'}}\nbundles: {b: {polling: {long_polling_timeout_seconds: 0}}}\n",
			"bundles.b.polling.long_polling_timeout_seconds: must be at least 1"},
		{"bad trigger", "services: {s: {url: 'http://x'}}\nbundles: {b: {trigger: sometimes}}\n", `bundles.b.trigger: must be "periodic" or "manual", not "sometimes"`},
		{"signing keyid unknown", "services: {s: {url: 'http://x'}}\nkeys: {k: {key: s, algorithm: HS256}}\nbundles: {b: {signing: {keyid: q}}}\n",
			`bundles.b.signing.keyid: key "q" is not in the keys section`},
		{"signing without keys", "services: {s: {url: 'http://x'}}\nbundles: {b: {signing: {}}}\n",
			"bundles.b.signing: no keys are configured to verify signatures with (keys section)"},
		{"signing delta option", "services: {s: {url: 'http://x'}}\nkeys: {k: {key: s, algorithm: HS256}}\nbundles: {b: {signing: {allow_unsigned_delta_bundles: true}}}\n",
			"bundles.b.signing.allow_unsigned_delta_bundles: delta bundles are not supported by nexus-authz, signed or not"},
		{"file bundle", "services: {s: {url: 'http://x'}}\nbundles: {b: {resource: 'file:///x.tar.gz'}}\n", "bundles.b.resource: file:// bundles are not supported"},
		{"key algorithm", "keys: {k: {key: s, algorithm: XX1}}\n", "cfg.yaml:1:8: keys.k: unsupported algorithm 'XX1'"},
		{"key missing", "keys: {k: {algorithm: HS256}}\n", "keys.k: invalid keys configuration: no keys provided for key ID k"},
		{"key not PEM", "keys: {k: {key: notpem}}\n", "keys.k.key: is not PEM-encoded; RS256 needs a PEM public key or certificate"},
		{"logs unknown service", "services: {s: {url: 'http://x'}}\ndecision_logs: {service: t}\n", `decision_logs.service: service "t" is not configured (services: s)`},
		{"logs buffer", "decision_logs: {console: true, reporting: {buffer_size_limit_bytes: 0}}\n", "decision_logs.reporting.buffer_size_limit_bytes: must be greater than 0"},
		{"default decision type", "default_decision: 5\n", "cfg.yaml:1:1: default_decision: must be a string, not an integer (quote it)"},
		{"alias cycle guard", "a: &x [*x]\n", ""},
		{"alias bomb", aliasBomb, "document expands to more than 100000 values (YAML aliases?)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("cfg.yaml", []byte(tc.src), Options{LookupEnv: env(nil)})
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want an *Error", err)
			}
			if ce.File != "cfg.yaml" || len(ce.Problems) == 0 {
				t.Errorf("error = %+v", ce)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error:\n%s\nwant it to contain:\n%s", err, tc.want)
			}
		})
	}
}

var aliasBomb = func() string {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	return b.String()
}()

func TestAllProblemsReportedTogether(t *testing.T) {
	_, err := Parse("cfg.yaml", []byte(`
services:
  acme:
    url: https://x
    headres: {}
bundles:
  authz:
    servce: acme
plugins:
  envoy_ext_authz_grpc:
    dry_run: true
    path: a
    query: data.a
`), Options{LookupEnv: env(nil)})
	want := `cfg.yaml: 3 problems:
  cfg.yaml:5:5: services.acme.headres: unknown key; did you mean "headers"?
  cfg.yaml:8:5: bundles.authz.servce: unknown key; did you mean "service"?
  cfg.yaml:11:5: plugins.envoy_ext_authz_grpc.dry_run: unknown key; did you mean "dry-run"?`
	// The path/query conflict is checked only once the section's keys are
	// right, so it is not listed as well.
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
}

func TestEnvSubstitution(t *testing.T) {
	src := `
services:
  acme:
    url: ${BASE_URL}
    credentials:
      bearer:
        token: "${TOKEN}"
labels:
  unset: "${NOT_SET}"
  empty: "${EMPTY}"
  braces: "${}"
  two: "${A}-${B}"
  multiline: "${A
  }"
`
	cfg := parse(t, src, Options{LookupEnv: env(map[string]string{
		"BASE_URL": "https://bundles.example", "TOKEN": "t0k", "EMPTY": "", "A": "1", "B": "2",
	})})
	if cfg.Services["acme"].URL != "https://bundles.example" || cfg.Services["acme"].Bearer.Token != "t0k" {
		t.Errorf("service = %+v", cfg.Services["acme"])
	}
	want := map[string]string{"unset": "${NOT_SET}", "empty": "", "braces": "", "two": "1-2", "multiline": "${A }"}
	if !reflect.DeepEqual(cfg.Labels, want) {
		t.Errorf("labels = %q, want %q", cfg.Labels, want)
	}
}

func TestExpandEnv(t *testing.T) {
	lookup := env(map[string]string{"A": "x", "${A": "nested"})
	for in, want := range map[string]string{
		"":              "",
		"plain":         "plain",
		"${A}":          "x",
		"$A {A}":        "$A {A}",
		"${A}${A}":      "xx",
		"${${A}}":       "nested}",
		"${A":           "${A",
		"a${A}b${Z}c":   "axb${Z}c",
		"${\n}${A}":     "${\n}x",
		"${}${}":        "",
		"$${A}":         "$x",
		"${A}}":         "x}",
		"${ A }":        "${ A }",
		"unicode ${A}é": "unicode xé",
	} {
		if got := expandEnv(in, lookup); got != want {
			t.Errorf("expandEnv(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSetOverrides(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("  from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := parse(t, `
services:
  acme:
    url: https://old.example
plugins:
  envoy_ext_authz_grpc:
    addr: :9191
    dry-run: false
`, Options{
		Set: []string{
			"services.acme.url=https://new.example,plugins.envoy_ext_authz_grpc.dry-run=true",
			"plugins.envoy_ext_authz_grpc.grpc-request-duration-seconds-buckets={1,2,3}",
			"labels.team=${TEAM},labels.comma=a\\,b,labels.dotted\\.key=v",
			"bundles.authz.polling.min_delay_seconds=5,bundles.authz.polling.max_delay_seconds=9",
		},
		SetFile:   []string{"services.acme.credentials.bearer.token=" + tokenFile},
		LookupEnv: env(map[string]string{"TEAM": "blue"}),
	})
	if s := cfg.Services["acme"]; s.URL != "https://new.example" || s.Bearer == nil || s.Bearer.Token != "from-file" {
		t.Errorf("service = %+v", s)
	}
	if !cfg.ExtAuthz.DryRun || cfg.ExtAuthz.Addr != ":9191" || !slices.Equal(cfg.ExtAuthz.GRPCRequestDurationSecondsBuckets, []float64{1, 2, 3}) {
		t.Errorf("ext authz = %+v", cfg.ExtAuthz)
	}
	if want := map[string]string{"team": "blue", "comma": "a,b", "dotted.key": "v"}; !reflect.DeepEqual(cfg.Labels, want) {
		t.Errorf("labels = %q", cfg.Labels)
	}
	if p := cfg.Bundles["authz"].Polling; p.MinDelaySeconds != 5 || p.MaxDelaySeconds != 9 {
		t.Errorf("polling = %+v", p)
	}

	// With no file, --set alone makes the config; list indexes work.
	cfg, err := Load("", Options{Set: []string{"services[0].name=a,services[0].url=http://x", "bundles.b.service=a"}, LookupEnv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.File != "(command line)" || cfg.Bundles["b"].Service != "a" || cfg.Services["a"].URL != "http://x" {
		t.Errorf("cfg = %+v", cfg)
	}
}

func TestSetErrors(t *testing.T) {
	for in, want := range map[string]string{
		"a":              `(command line): --set: key "a" has no value`,
		"=b":             `--set: empty key in "=b"`,
		"a..b=c":         `--set: empty key in "a..b=c"`,
		"a[x]=1":         `key "a": list index "x" is not a number from 0 to 1000`,
		"a[5000]=1":      `list index "5000" is not a number from 0 to 1000`,
		"a[0":            `key "a": unterminated [`,
		"a[0]b=1":        `unexpected 'b' after ]`,
		"a={1,2":         `list value must end with '}'`,
		"a={1}x":         `unexpected 'x' after '}'`,
		"labels.x=1":     `(command line): labels.x (from --set): must be a string, not an integer (quote it)`,
		"plugins.foo.x=": `plugins.foo (from --set): unknown key`,
	} {
		_, err := Parse("", nil, Options{Set: []string{in}, LookupEnv: env(nil)})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("--set %q: err = %v, want %q", in, err, want)
		}
	}
	_, err := Parse("", nil, Options{SetFile: []string{"labels.a=/does/not/exist"}, LookupEnv: env(nil)})
	if err == nil || !strings.Contains(err.Error(), "--set-file: open /does/not/exist") {
		t.Errorf("--set-file error = %v", err)
	}
}

func TestSetTypedValues(t *testing.T) {
	for raw, want := range map[string]any{
		"true": true, "FALSE": false, "0": int64(0), "42": int64(42), "-3": int64(-3),
		"007": "007", "1.5": "1.5", "abc": "abc", "": "",
	} {
		if got := typedValue(raw, "--set").scalar; got != want {
			t.Errorf("typedValue(%q) = %#v, want %#v", raw, got, want)
		}
	}
	if v := typedValue("NULL", "--set"); v.kind != kindNull {
		t.Errorf("null = %+v", v)
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "cfg.json")
	if err := os.WriteFile(p, []byte(`{"plugins": {"envoy_ext_authz_grpc": {"addr": "unix:///tmp/authz.sock"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(p, Options{})
	if err != nil || cfg.File != p || cfg.ExtAuthz.Addr != "unix:///tmp/authz.sock" {
		t.Fatalf("Load = %+v, %v", cfg, err)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml"), Options{}); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load missing = %v", err)
	}
}

func TestYAMLFeatures(t *testing.T) {
	cfg := parse(t, `
services:
  a: &svc
    url: https://x.example
    response_header_timeout_seconds: 3
  b:
    <<: *svc
    url: https://y.example
labels:
  "on": "yes"
  1: one
  date: 2024-01-02
`, Options{})
	if b := cfg.Services["b"]; b.URL != "https://y.example" || b.ResponseHeaderTimeoutSeconds != 3 {
		t.Errorf("merged service = %+v", b)
	}
	// YAML 1.2 as OPA reads it: yes stays a string, keys are strings,
	// timestamps keep their text.
	if want := map[string]string{"on": "yes", "1": "one", "date": "2024-01-02"}; !reflect.DeepEqual(cfg.Labels, want) {
		t.Errorf("labels = %q", cfg.Labels)
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"dry-run", "addr", "path", "query", "enable-reflection"}
	for key, want := range map[string]string{
		"dry_run": "dry-run", "DRY-RUN": "dry-run", "adr": "addr", "qeury": "query",
		"enable_reflexion": "enable-reflection", "zzz": "", "": "",
	} {
		if got := suggest(key, known); got != want {
			t.Errorf("suggest(%q) = %q, want %q", key, got, want)
		}
	}
}
