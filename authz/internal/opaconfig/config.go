// Package opaconfig reads the config file of opa-envoy-plugin (OPA's config
// file with a plugins.envoy_ext_authz_grpc section), so that nexus-authz
// can replace it without a config change.
//
// Supported: services (map or list form; every credential kind OPA's rest
// package implements but custom plugins), bundles (HTTP bundle services:
// polling, long polling, signing), keys, decision_logs (console, service,
// partition_name, mask_decision, reporting delays and size limits), status
// (service, console), labels, default_decision and
// default_authorization_decision (accepted, checked, and unused: a warning
// says so), plugins.envoy_ext_authz_grpc, ${VAR} substitution, --set and
// --set-file. Every other key is an error naming its full path; OPA options
// nexus-authz does not implement (discovery, caching, distributed_tracing,
// OCI services, delta-bundle options, ...) are refused with that reason
// rather than ignored, since a silently ignored security option is worse
// than a failed start.
package opaconfig

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/keys"
	"github.com/open-policy-agent/opa/v1/plugins/rest"
)

// Config is a parsed, validated config file with OPA's and
// opa-envoy-plugin's defaults applied.
type Config struct {
	// File is the config file's name ("(command line)" without one).
	File string

	// Services are the configured services by name; ServiceNames has their
	// names in file order. The first is the default service of bundles,
	// decision_logs and status that name none.
	Services     map[string]*Service
	ServiceNames []string

	// Bundles by name.
	Bundles map[string]*Bundle

	// Keys are the keys section, parsed by OPA's keys package (algorithm
	// defaulted to RS256).
	Keys map[string]*keys.Config

	// DecisionLogs and Status are nil when their sections are absent.
	DecisionLogs *DecisionLogs
	Status       *Status

	Labels map[string]string

	// DefaultDecision and DefaultAuthorizationDecision are OPA's (defaults
	// /system/main and /system/authz/allow). nexus-authz answers only the
	// ext_authz decision, so they are checked and otherwise unused.
	DefaultDecision              string
	DefaultAuthorizationDecision string

	// ExtAuthz is plugins.envoy_ext_authz_grpc with opa-envoy-plugin's
	// defaults; ExtAuthzConfigured says whether the section was present.
	ExtAuthz           ExtAuthz
	ExtAuthzConfigured bool

	// Warnings are accepted-but-noteworthy settings, for the caller to log.
	Warnings []string
}

// Service is one entry of services.
type Service struct {
	Name    string
	URL     string
	Headers map[string]string
	// AllowInsecureTLS turns off verification of the server's certificate.
	AllowInsecureTLS bool
	// ResponseHeaderTimeoutSeconds defaults to OPA's 10.
	ResponseHeaderTimeoutSeconds int64
	// CACert and SystemCARequired are tls.ca_cert and
	// tls.system_ca_required.
	CACert           string
	SystemCARequired bool
	// Credentials names the credential kind configured: "" (none),
	// "bearer", "client_tls", "oauth2", "s3_signing", "gcp_metadata" or
	// "azure_managed_identity".
	Credentials string
	// Bearer is set for bearer credentials.
	Bearer *BearerCredentials

	raw json.RawMessage
}

// BearerCredentials is credentials.bearer.
type BearerCredentials struct {
	Token     string
	TokenPath string
	// Scheme defaults to Bearer.
	Scheme string
}

// RawJSON is the service's config as OPA's rest package reads it.
func (s *Service) RawJSON() json.RawMessage { return slices.Clone(s.raw) }

// RESTClient builds the service's client with OPA's rest package, which
// implements the credentials, TLS and header settings.
func (c *Config) RESTClient(name string, opts ...func(*rest.Client)) (rest.Client, error) {
	s, ok := c.Services[name]
	if !ok {
		return rest.Client{}, fmt.Errorf("service %q is not configured", name)
	}
	cl, err := rest.New(s.raw, c.Keys, append([]func(*rest.Client){rest.Name(name)}, opts...)...)
	if err != nil {
		return rest.Client{}, fmt.Errorf("service %q: %w", name, err)
	}
	return cl, nil
}

// Options are the command line's additions to the file.
type Options struct {
	// Set are --set values (key=value,key2=value2), applied in order over
	// the file; ${VAR} is substituted in them as in the file.
	Set []string
	// SetFile are --set-file values (key=path): the key gets the named
	// file's content, trimmed of surrounding white space.
	SetFile []string
	// LookupEnv resolves ${VAR}; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// ReadFile reads --set-file files; nil means os.ReadFile.
	ReadFile func(string) ([]byte, error)
}

// Load reads and parses the config file at path; with path "" it parses
// only the options' overrides over an empty config.
func Load(path string, opts Options) (*Config, error) {
	if path == "" {
		return Parse("", nil, opts)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	return Parse(path, data, opts)
}

// Parse parses a config file's content; name is used in messages. Every
// problem found is returned in one *Error.
func Parse(name string, data []byte, opts Options) (*Config, error) {
	if name == "" {
		name = "(command line)"
	}
	lookup := opts.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	readFile := opts.ReadFile
	if readFile == nil {
		readFile = os.ReadFile
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	root, problems := parseYAML([]byte(expandEnv(string(data), lookup)))
	if len(problems) > 0 {
		return nil, &Error{File: name, Problems: problems}
	}
	if root.kind == kindNull {
		root = &val{kind: kindMap}
	}
	if root.kind != kindMap {
		return nil, &Error{File: name, Problems: []Problem{{Line: root.line, Column: root.column,
			Msg: fmt.Sprintf("the config must be a mapping (YAML) or an object (JSON), not %s", root.describe())}}}
	}

	if len(opts.Set) > 0 || len(opts.SetFile) > 0 {
		over := &val{kind: kindMap}
		for _, s := range opts.Set {
			p := &setParser{s: []rune(expandEnv(s, lookup)), origin: "--set", value: func(raw string) (*val, error) {
				return typedValue(raw, "--set"), nil
			}}
			if err := p.parse(over); err != nil {
				problems = append(problems, Problem{Origin: "--set", Msg: err.Error()})
			}
		}
		for _, s := range opts.SetFile {
			p := &setParser{s: []rune(s), origin: "--set-file", value: func(raw string) (*val, error) {
				b, err := readFile(raw)
				if err != nil {
					return nil, err
				}
				return &val{kind: kindScalar, scalar: strings.TrimSpace(string(b)), origin: "--set-file"}, nil
			}}
			if err := p.parse(over); err != nil {
				problems = append(problems, Problem{Origin: "--set-file", Msg: err.Error()})
			}
		}
		if len(problems) > 0 {
			return nil, &Error{File: name, Problems: problems}
		}
		root = merge(root, over)
	}

	d := &decoder{}
	cfg := d.config(root)
	if len(d.problems) > 0 {
		// File order reads best; command-line values (no line) go last.
		slices.SortStableFunc(d.problems, func(a, b Problem) int {
			if (a.Line == 0) != (b.Line == 0) {
				if a.Line == 0 {
					return 1
				}
				return -1
			}
			return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
		})
		return nil, &Error{File: name, Problems: d.problems}
	}
	cfg.File = name
	cfg.Warnings = d.warnings
	return cfg, nil
}

// topLevelUnsupported are OPA's top-level options nexus-authz refuses.
var topLevelUnsupported = map[string]string{
	"discovery":             "OPA discovery is not supported by nexus-authz; configure bundles directly",
	"bundle":                "the legacy single-bundle section is not supported; use bundles",
	"caching":               "OPA's inter-query caches are not supported by nexus-authz",
	"nd_builtin_cache":      "the non-deterministic builtin cache is not supported by nexus-authz",
	"persistence_directory": "bundle persistence is not supported by nexus-authz",
	"distributed_tracing":   "OPA distributed tracing is not supported by nexus-authz",
	"metrics_export":        "OPA metrics export is not supported by nexus-authz; scrape /metrics",
	"server":                "OPA's HTTP server options are not supported by nexus-authz",
	"storage":               "OPA disk storage is not supported by nexus-authz",
}

var topLevelKeys = []string{
	"services", "labels", "bundles", "decision_logs", "status", "plugins", "keys",
	"default_decision", "default_authorization_decision",
}

func (d *decoder) config(root *val) *Config {
	cfg := &Config{
		Services:                     map[string]*Service{},
		Bundles:                      map[string]*Bundle{},
		Keys:                         map[string]*keys.Config{},
		Labels:                       map[string]string{},
		DefaultDecision:              "/system/main",
		DefaultAuthorizationDecision: "/system/authz/allow",
		ExtAuthz:                     defaultExtAuthz(),
	}
	for i, k := range root.keys {
		v := root.vals[i]
		if why, ok := topLevelUnsupported[k]; ok {
			d.fail(v, k, "%s", why)
			continue
		}
		if !slices.Contains(topLevelKeys, k) {
			d.fail(v, joinPath("", k), "%s", unknownKey(k, topLevelKeys))
		}
	}
	// Sections are read in dependency order: bundles and logs name
	// services and keys.
	if v := root.get("services"); v != nil {
		d.services(v, cfg)
	}
	if v := root.get("keys"); v != nil {
		d.keys(v, cfg)
	}
	if v := root.get("labels"); v != nil {
		d.decode(v, reflect.ValueOf(&cfg.Labels).Elem(), "labels")
	}
	for _, k := range []string{"default_decision", "default_authorization_decision"} {
		v := root.get(k)
		if v == nil || v.kind == kindNull {
			continue
		}
		var s string
		n := len(d.problems)
		d.decode(v, reflect.ValueOf(&s).Elem(), k)
		if len(d.problems) > n {
			continue
		}
		if _, err := dataPath(s); err != nil {
			d.fail(v, k, "%v", err)
			continue
		}
		if k == "default_decision" {
			cfg.DefaultDecision = s
		} else {
			cfg.DefaultAuthorizationDecision = s
		}
		d.warnings = append(d.warnings, fmt.Sprintf("%s is accepted for compatibility and not used: nexus-authz answers only the ext_authz decision (plugins.envoy_ext_authz_grpc.path)", k))
	}
	if v := root.get("bundles"); v != nil {
		d.bundles(v, cfg)
	}
	if v := root.get("decision_logs"); v != nil {
		d.decisionLogs(v, cfg)
	}
	if v := root.get("status"); v != nil {
		d.status(v, cfg)
	}
	if v := root.get("plugins"); v != nil {
		d.plugins(v, cfg)
	}
	return cfg
}

// defaultService resolves the service a section names, defaulting to the
// first service when it names none and may not go without one.
func (d *decoder) serviceRef(v *val, path, name string, cfg *Config, optional bool) string {
	if name == "" {
		if optional || len(cfg.ServiceNames) == 0 {
			return ""
		}
		return cfg.ServiceNames[0]
	}
	if _, ok := cfg.Services[name]; !ok {
		if len(cfg.ServiceNames) == 0 {
			d.fail(v, path, "service %q is not configured (there is no services section)", name)
		} else {
			d.fail(v, path, "service %q is not configured (services: %s)", name, strings.Join(cfg.ServiceNames, ", "))
		}
	}
	return name
}

var errInvalidPath = errors.New("not a valid data path (slash-separated, e.g. /system/main)")
