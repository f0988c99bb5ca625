package opaconfig

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary files and --set values to the parser: it must
// never panic, and every failure must be a config *Error that names the
// file and says what is wrong, never an internal error.
func FuzzParse(f *testing.F) {
	f.Add([]byte(fullConfig), "")
	f.Add([]byte("plugins:\n  envoy_ext_authz_grpc:\n    dry_run: true\n"), "plugins.envoy_ext_authz_grpc.dry-run=true")
	f.Add([]byte(`{"services": [{"name": "a", "url": "http://x"}], "bundles": {"b": {}}}`), "services[0].url=https://y")
	f.Add([]byte("a: &x [*x]\n"), "a[3].b={1,2}")
	f.Add([]byte("labels: {a: ${A}}\nservices: {s: {url: '${U}'}}\n"), "labels.x=${A}")
	f.Add([]byte(aliasBomb), "")
	f.Add([]byte("keys: {k: {key: x}}\nbundles: {b: {signing: {keyid: k}}}\n"), `a\,b=c\`)
	f.Add([]byte("\xef\xbb\xbf- 1\n"), "=")
	f.Fuzz(func(t *testing.T, data []byte, set string) {
		var opts Options
		if set != "" {
			opts.Set = []string{set}
		}
		opts.LookupEnv = env(map[string]string{"A": "1", "U": "http://u"})
		opts.ReadFile = func(string) ([]byte, error) { return nil, errors.New("no files") }
		cfg, err := Parse("fuzz.yaml", data, opts)
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
			}
			if len(ce.Problems) == 0 || !strings.HasPrefix(err.Error(), "fuzz.yaml:") {
				t.Fatalf("malformed error %q", err)
			}
			for _, p := range ce.Problems {
				if p.Msg == "" || strings.Contains(p.Msg, "internal:") {
					t.Fatalf("problem %+v", p)
				}
			}
			return
		}
		if cfg == nil || cfg.ExtAuthz.Decision == "" || cfg.ExtAuthz.Addr == "" {
			t.Fatalf("config without defaults: %+v", cfg)
		}
		for name, b := range cfg.Bundles {
			if _, ok := cfg.Services[b.Service]; !ok {
				t.Fatalf("bundle %q names unconfigured service %q", name, b.Service)
			}
			if _, err := b.DownloadConfig(); err != nil {
				t.Fatalf("accepted bundle %q has a bad download config: %v", name, err)
			}
			if _, err := cfg.VerificationConfig(b); err != nil {
				t.Fatalf("accepted bundle %q has a bad verification config: %v", name, err)
			}
		}
		for name := range cfg.Services {
			if _, err := cfg.RESTClient(name); err != nil {
				t.Fatalf("accepted service %q: %v", name, err)
			}
		}
	})
}

// FuzzExpandEnv checks substitution never panics and leaves text without
// "${" alone.
func FuzzExpandEnv(f *testing.F) {
	for _, s := range []string{"", "${A}", "${", "${}", "$${A}}", "${\n}", "a${B}c${A"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := expandEnv(s, env(map[string]string{"A": "x"}))
		if !strings.Contains(s, "${") && got != s {
			t.Fatalf("expandEnv(%q) = %q", s, got)
		}
	})
}
