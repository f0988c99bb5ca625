package opaconfig

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/download"
	"github.com/open-policy-agent/opa/v1/plugins"
)

// Bundle is one entry of bundles, defaults applied.
type Bundle struct {
	Name string
	// Service is the bundle service's name (default: the first service).
	Service string
	// Resource is the path under the service's URL (default
	// bundles/<name>).
	Resource string
	// Trigger is plugins.TriggerPeriodic (the default: poll) or
	// plugins.TriggerManual (download only when asked).
	Trigger plugins.TriggerMode
	Polling Polling
	// Signing, when set, requires every bundle to carry a signature that
	// verifies with Keys. When nil but keys are configured, a signature
	// that is present is verified and an unsigned bundle is accepted, as in
	// OPA.
	Signing *Signing
	// SizeLimitBytes bounds each file of the bundle (OPA's default 1 GiB).
	SizeLimitBytes int64
}

// Polling is a bundle's polling section, defaults applied (OPA's: 60 and
// 120 seconds).
type Polling struct {
	MinDelaySeconds int64
	MaxDelaySeconds int64
	// LongPollingTimeoutSeconds is 0 when long polling is off.
	LongPollingTimeoutSeconds int64
	// SupersededETagTTLSeconds is 0 when off.
	SupersededETagTTLSeconds int64
}

// Signing is a bundle's signing section.
type Signing struct {
	// KeyID picks the key; empty means the signature's kid names it.
	KeyID string
	// Scope must match the signature's scope claim; empty falls back to
	// the key's scope.
	Scope string
	// ExcludeFiles are glob patterns of files the signature need not cover.
	ExcludeFiles []string
}

// DownloadConfig is the bundle's polling config for OPA's download
// package, validated.
func (b *Bundle) DownloadConfig() (download.Config, error) {
	t := b.Trigger
	dc := download.Config{Trigger: &t}
	mn, mx := b.Polling.MinDelaySeconds, b.Polling.MaxDelaySeconds
	dc.Polling.MinDelaySeconds, dc.Polling.MaxDelaySeconds = &mn, &mx
	if b.Polling.LongPollingTimeoutSeconds > 0 {
		lp := b.Polling.LongPollingTimeoutSeconds
		dc.Polling.LongPollingTimeoutSeconds = &lp
	}
	if b.Polling.SupersededETagTTLSeconds > 0 {
		ttl := b.Polling.SupersededETagTTLSeconds
		dc.Polling.SupersededETagTTLSeconds = &ttl
	}
	if err := dc.ValidateAndInjectDefaults(); err != nil {
		return download.Config{}, fmt.Errorf("bundle %q: %w", b.Name, err)
	}
	return dc, nil
}

// VerificationConfig is what OPA's bundle reader checks b's signatures
// with: required when b has a signing section, optional when only keys are
// configured, nil when there are no keys.
func (c *Config) VerificationConfig(b *Bundle) (*bundle.VerificationConfig, error) {
	if b.Signing == nil {
		if len(c.Keys) == 0 {
			return nil, nil
		}
		return bundle.NewVerificationConfig(c.Keys, "", "", nil).WithOptionalSignature(), nil
	}
	vc := bundle.NewVerificationConfig(c.Keys, b.Signing.KeyID, b.Signing.Scope, slices.Clone(b.Signing.ExcludeFiles))
	if err := vc.ValidateAndInjectDefaults(c.Keys); err != nil {
		return nil, fmt.Errorf("bundle %q: signing: %w", b.Name, err)
	}
	return vc, nil
}

type bundleFile struct {
	Service        string       `json:"service"`
	Resource       string       `json:"resource"`
	Trigger        string       `json:"trigger"`
	Polling        pollingFile  `json:"polling"`
	Signing        *signingFile `json:"signing"`
	Persist        bool         `json:"persist"`
	SizeLimitBytes int64        `json:"size_limit_bytes"`
}

type pollingFile struct {
	MinDelaySeconds           *int64 `json:"min_delay_seconds"`
	MaxDelaySeconds           *int64 `json:"max_delay_seconds"`
	LongPollingTimeoutSeconds *int64 `json:"long_polling_timeout_seconds"`
	SupersededETagTTLSeconds  *int64 `json:"superseded_etag_ttl_seconds"`
}

type signingFile struct {
	KeyID        string   `json:"keyid"`
	Scope        string   `json:"scope"`
	ExcludeFiles []string `json:"exclude_files"`
}

func (*signingFile) unsupported() map[string]string {
	return map[string]string{
		"allow_unsigned_delta_bundles": "delta bundles are not supported by nexus-authz, signed or not",
	}
}

func (d *decoder) bundles(v *val, cfg *Config) {
	if v.kind == kindNull {
		return
	}
	if v.kind != kindMap {
		d.fail(v, "bundles", "must be a mapping of bundle name to bundle, not %s", v.describe())
		return
	}
	for i, name := range v.keys {
		e, path := v.vals[i], joinPath("bundles", name)
		var bf bundleFile
		n := len(d.problems)
		if e.kind == kindNull {
			e = &val{kind: kindMap, line: e.line, column: e.column}
		}
		d.decode(e, reflect.ValueOf(&bf).Elem(), path)
		if len(d.problems) > n {
			continue
		}
		if name == "" {
			d.fail(e, path, "a bundle needs a name")
			continue
		}
		b := &Bundle{Name: name, Resource: bf.Resource, SizeLimitBytes: bf.SizeLimitBytes}
		if strings.HasPrefix(b.Resource, "file://") {
			d.fail(e.get("resource"), joinPath(path, "resource"), "file:// bundles are not supported by nexus-authz; use --policies for a local bundle")
			continue
		}
		if b.Resource == "" {
			b.Resource = "bundles/" + name
		}
		if len(cfg.ServiceNames) == 0 && bf.Service == "" {
			d.fail(e, joinPath(path, "service"), "required: there is no services section to default to")
			continue
		}
		b.Service = d.serviceRef(e.get("service"), joinPath(path, "service"), bf.Service, cfg, false)
		switch plugins.TriggerMode(bf.Trigger) {
		case "", plugins.TriggerPeriodic:
			b.Trigger = plugins.TriggerPeriodic
		case plugins.TriggerManual:
			b.Trigger = plugins.TriggerManual
		default:
			d.fail(e.get("trigger"), joinPath(path, "trigger"), "must be %q or %q, not %q", plugins.TriggerPeriodic, plugins.TriggerManual, bf.Trigger)
		}
		pv := e.get("polling")
		pp := joinPath(path, "polling")
		b.Polling = Polling{MinDelaySeconds: 60, MaxDelaySeconds: 120}
		switch p := bf.Polling; {
		case p.MinDelaySeconds != nil && p.MaxDelaySeconds == nil:
			d.fail(pv, joinPath(pp, "max_delay_seconds"), "required with min_delay_seconds")
		case p.MinDelaySeconds == nil && p.MaxDelaySeconds != nil:
			d.fail(pv, joinPath(pp, "min_delay_seconds"), "required with max_delay_seconds")
		case p.MinDelaySeconds != nil:
			b.Polling.MinDelaySeconds, b.Polling.MaxDelaySeconds = *p.MinDelaySeconds, *p.MaxDelaySeconds
			if b.Polling.MinDelaySeconds < 0 {
				d.fail(pv.get("min_delay_seconds"), joinPath(pp, "min_delay_seconds"), "must not be negative")
			} else if b.Polling.MaxDelaySeconds < b.Polling.MinDelaySeconds {
				d.fail(pv.get("max_delay_seconds"), joinPath(pp, "max_delay_seconds"), "must be at least min_delay_seconds (%d)", b.Polling.MinDelaySeconds)
			} else if b.Polling.MaxDelaySeconds > math.MaxInt64/int64(1e9) {
				d.fail(pv.get("max_delay_seconds"), joinPath(pp, "max_delay_seconds"), "is too large")
			}
		}
		if lp := bf.Polling.LongPollingTimeoutSeconds; lp != nil {
			if *lp < 1 {
				d.fail(pv.get("long_polling_timeout_seconds"), joinPath(pp, "long_polling_timeout_seconds"), "must be at least 1")
			}
			b.Polling.LongPollingTimeoutSeconds = *lp
		}
		if ttl := bf.Polling.SupersededETagTTLSeconds; ttl != nil {
			if *ttl < 0 {
				d.fail(pv.get("superseded_etag_ttl_seconds"), joinPath(pp, "superseded_etag_ttl_seconds"), "must not be negative")
			}
			b.Polling.SupersededETagTTLSeconds = *ttl
		}
		if b.SizeLimitBytes <= 0 {
			b.SizeLimitBytes = bundle.DefaultSizeLimitBytes
		}
		if s := bf.Signing; s != nil {
			b.Signing = &Signing{KeyID: s.KeyID, Scope: s.Scope, ExcludeFiles: s.ExcludeFiles}
			sv, sp := e.get("signing"), joinPath(path, "signing")
			switch {
			case s.KeyID != "" && cfg.Keys[s.KeyID] == nil:
				d.fail(sv.get("keyid"), joinPath(sp, "keyid"), "key %q is not in the keys section", s.KeyID)
			case len(cfg.Keys) == 0:
				d.fail(sv, sp, "no keys are configured to verify signatures with (keys section)")
			}
			for j, pat := range s.ExcludeFiles {
				if _, err := pathMatch(pat); err != nil {
					d.fail(sv.get("exclude_files"), indexPath(joinPath(sp, "exclude_files"), j), "bad pattern %q: %v", pat, err)
				}
			}
		}
		if bf.Persist {
			d.warnings = append(d.warnings, fmt.Sprintf("%s.persist is ignored: nexus-authz does not persist bundles, so after a restart it serves no policy (and denies) until the bundle service answers", path))
		}
		cfg.Bundles[name] = b
	}
}

// DecisionLogs is the decision_logs section, OPA's defaults applied.
type DecisionLogs struct {
	// Console logs decisions to stdout.
	Console bool
	// Service uploads decisions to this service; "" for none. It defaults
	// to the first service unless Console is set, as in OPA.
	Service string
	// PartitionName makes Resource /logs/<partition_name>.
	PartitionName string
	// Resource is the upload path under the service's URL.
	Resource  string
	Reporting Reporting
	// MaskDecision is the path of the masking rule (default
	// /system/log/mask).
	MaskDecision string
}

// Reporting is decision_logs.reporting, OPA's defaults applied.
type Reporting struct {
	MinDelaySeconds int64 // default 300
	MaxDelaySeconds int64 // default 600
	// UploadSizeLimitBytes (default 32768) is held between OPA's bounds,
	// 90 bytes and 4 GiB, with a warning when it had to be moved.
	UploadSizeLimitBytes int64
	// BufferSizeLimitBytes is 0 for unlimited (the default).
	BufferSizeLimitBytes int64
}

type decisionLogsFile struct {
	Console       bool          `json:"console"`
	Service       string        `json:"service"`
	PartitionName string        `json:"partition_name"`
	Reporting     reportingFile `json:"reporting"`
	MaskDecision  *string       `json:"mask_decision"`
}

func (*decisionLogsFile) unsupported() map[string]string {
	const why = "is an OPA option nexus-authz's decision log does not support"
	return map[string]string{
		"plugin":           "custom decision log plugins are not supported by nexus-authz",
		"request_context":  why,
		"drop_decision":    why,
		"resource":         why + " (partition_name sets the upload path)",
		"nd_builtin_cache": why,
	}
}

type reportingFile struct {
	MinDelaySeconds      *int64 `json:"min_delay_seconds"`
	MaxDelaySeconds      *int64 `json:"max_delay_seconds"`
	UploadSizeLimitBytes *int64 `json:"upload_size_limit_bytes"`
	BufferSizeLimitBytes *int64 `json:"buffer_size_limit_bytes"`
}

func (*reportingFile) unsupported() map[string]string {
	const why = "is an OPA option nexus-authz's decision log does not support"
	return map[string]string{
		"buffer_type":              why + " (the buffer is always bounded by size)",
		"buffer_size_limit_events": why,
		"max_decisions_per_second": why,
		"trigger":                  why,
	}
}

const (
	minUploadSizeLimitBytes = 90
	maxUploadSizeLimitBytes = 4 << 30
)

func (d *decoder) decisionLogs(v *val, cfg *Config) {
	if v.kind == kindNull {
		// As in OPA, an empty section turns decision logging on with its
		// defaults.
		v = &val{kind: kindMap, line: v.line, column: v.column}
	}
	var f decisionLogsFile
	n := len(d.problems)
	d.decode(v, reflect.ValueOf(&f).Elem(), "decision_logs")
	if len(d.problems) > n {
		return
	}
	dl := &DecisionLogs{
		Console:       f.Console,
		PartitionName: f.PartitionName,
		Resource:      "/logs",
		MaskDecision:  "/system/log/mask",
		Reporting:     Reporting{MinDelaySeconds: 300, MaxDelaySeconds: 600, UploadSizeLimitBytes: 32768},
	}
	dl.Service = d.serviceRef(v.get("service"), "decision_logs.service", f.Service, cfg, f.Console)
	if f.PartitionName != "" {
		dl.Resource = "/logs/" + f.PartitionName
	}
	if f.MaskDecision != nil {
		if _, err := dataPath(*f.MaskDecision); err != nil {
			d.fail(v.get("mask_decision"), "decision_logs.mask_decision", "%v", err)
		}
		dl.MaskDecision = *f.MaskDecision
	}
	rv, rp := v.get("reporting"), "decision_logs.reporting"
	r := f.Reporting
	switch {
	case r.MinDelaySeconds != nil && r.MaxDelaySeconds == nil:
		d.fail(rv, rp+".max_delay_seconds", "required with min_delay_seconds")
	case r.MinDelaySeconds == nil && r.MaxDelaySeconds != nil:
		d.fail(rv, rp+".min_delay_seconds", "required with max_delay_seconds")
	case r.MinDelaySeconds != nil:
		dl.Reporting.MinDelaySeconds, dl.Reporting.MaxDelaySeconds = *r.MinDelaySeconds, *r.MaxDelaySeconds
		if *r.MinDelaySeconds < 0 {
			d.fail(rv.get("min_delay_seconds"), rp+".min_delay_seconds", "must not be negative")
		} else if *r.MaxDelaySeconds < *r.MinDelaySeconds {
			d.fail(rv.get("max_delay_seconds"), rp+".max_delay_seconds", "must be at least min_delay_seconds (%d)", *r.MinDelaySeconds)
		}
	}
	if u := r.UploadSizeLimitBytes; u != nil {
		dl.Reporting.UploadSizeLimitBytes = min(max(*u, minUploadSizeLimitBytes), maxUploadSizeLimitBytes)
		if dl.Reporting.UploadSizeLimitBytes != *u {
			d.warnings = append(d.warnings, fmt.Sprintf("%s.upload_size_limit_bytes %d is outside OPA's bounds; using %d", rp, *u, dl.Reporting.UploadSizeLimitBytes))
		}
	}
	if b := r.BufferSizeLimitBytes; b != nil {
		if *b <= 0 {
			d.fail(rv.get("buffer_size_limit_bytes"), rp+".buffer_size_limit_bytes", "must be greater than 0")
		}
		dl.Reporting.BufferSizeLimitBytes = *b
	}
	cfg.DecisionLogs = dl
}

// Status is the status section.
type Status struct {
	// Service receives status reports; "" for none. It defaults to the
	// first service unless Console is set, as in OPA.
	Service string
	// Console logs status reports.
	Console bool
}

type statusFile struct {
	Service string `json:"service"`
	Console bool   `json:"console"`
}

func (*statusFile) unsupported() map[string]string {
	const why = "is an OPA status option nexus-authz does not support"
	return map[string]string{
		"plugin":            "custom status plugins are not supported by nexus-authz",
		"partition_name":    why,
		"prometheus":        why + " (nexus-authz serves /metrics)",
		"prometheus_config": why,
		"trigger":           why,
	}
}

func (d *decoder) status(v *val, cfg *Config) {
	if v.kind == kindNull {
		v = &val{kind: kindMap, line: v.line, column: v.column}
	}
	var f statusFile
	n := len(d.problems)
	d.decode(v, reflect.ValueOf(&f).Elem(), "status")
	if len(d.problems) > n {
		return
	}
	cfg.Status = &Status{
		Console: f.Console,
		Service: d.serviceRef(v.get("service"), "status.service", f.Service, cfg, f.Console),
	}
}

// ExtAuthzPlugin is the plugin name opa-envoy-plugin registers.
const ExtAuthzPlugin = "envoy_ext_authz_grpc"

// ExtAuthz is plugins.envoy_ext_authz_grpc; its json tags are
// opa-envoy-plugin's keys.
type ExtAuthz struct {
	// Addr is host:port, grpc://host:port or unix:///path (default
	// ":9191").
	Addr string `json:"addr"`
	// Path is the decision's slash-separated path under data (default
	// envoy/authz/allow).
	Path string `json:"path"`
	// Query is the deprecated alternative to Path: a reference such as
	// data.envoy.authz.allow.
	Query                    string `json:"query"`
	DryRun                   bool   `json:"dry-run"`
	EnableReflection         bool   `json:"enable-reflection"`
	SkipRequestBodyParse     bool   `json:"skip-request-body-parse"`
	ProtoDescriptor          string `json:"proto-descriptor"`
	GRPCMaxRecvMsgSize       int    `json:"grpc-max-recv-msg-size"`
	GRPCMaxSendMsgSize       int    `json:"grpc-max-send-msg-size"`
	EnablePerformanceMetrics bool   `json:"enable-performance-metrics"`
	// GRPCRequestDurationSecondsBuckets are the histogram's buckets,
	// strictly increasing.
	GRPCRequestDurationSecondsBuckets []float64 `json:"grpc-request-duration-seconds-buckets"`

	// Decision is the reference to evaluate, from Path or Query, e.g.
	// data.envoy.authz.allow.
	Decision string `json:"-"`
}

// defaultExtAuthz has opa-envoy-plugin's defaults.
func defaultExtAuthz() ExtAuthz {
	return ExtAuthz{
		Addr:                              ":9191",
		GRPCMaxRecvMsgSize:                4 << 20,
		GRPCMaxSendMsgSize:                math.MaxInt32,
		GRPCRequestDurationSecondsBuckets: []float64{1e-6, 5e-6, 1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 3e-3, 5e-3, 0.1, 1},
		Path:                              "envoy/authz/allow",
		Decision:                          "data.envoy.authz.allow",
	}
}

func (d *decoder) plugins(v *val, cfg *Config) {
	if v.kind == kindNull {
		return
	}
	if v.kind != kindMap {
		d.fail(v, "plugins", "must be a mapping of plugin name to config, not %s", v.describe())
		return
	}
	for i, name := range v.keys {
		if name != ExtAuthzPlugin {
			d.fail(v.vals[i], joinPath("plugins", name), "%s; nexus-authz has only the %s plugin", unknownKey(name, []string{ExtAuthzPlugin}), ExtAuthzPlugin)
			continue
		}
		d.extAuthz(v.vals[i], cfg)
	}
}

func (d *decoder) extAuthz(v *val, cfg *Config) {
	const path = "plugins." + ExtAuthzPlugin
	cfg.ExtAuthzConfigured = true
	ea := defaultExtAuthz()
	ea.Path = ""
	n := len(d.problems)
	d.decode(v, reflect.ValueOf(&ea).Elem(), path)
	if len(d.problems) > n {
		return
	}
	switch {
	case ea.Path != "" && ea.Query != "":
		d.fail(v.get("query"), path+".query", "set path or query, not both (query is deprecated; opa-envoy-plugin refuses both too)")
	case ea.Query != "":
		d.warnings = append(d.warnings, path+".query is deprecated; use path")
		ref, err := queryRef(ea.Query)
		if err != nil {
			d.fail(v.get("query"), path+".query", "%v", err)
		}
		ea.Decision = ref
	default:
		if ea.Path == "" {
			ea.Path = "envoy/authz/allow"
		}
		ref := pathRef(ea.Path)
		if _, err := ast.ParseBody(ref.String()); err != nil {
			d.fail(v.get("path"), path+".path", "%q does not name a rule: %v", ea.Path, err)
		}
		ea.Decision = ref.String()
	}
	if err := checkAddr(ea.Addr); err != nil {
		d.fail(v.get("addr"), path+".addr", "%v", err)
	}
	if ea.GRPCMaxRecvMsgSize <= 0 {
		d.fail(v.get("grpc-max-recv-msg-size"), path+".grpc-max-recv-msg-size", "must be greater than 0")
	}
	if ea.GRPCMaxSendMsgSize <= 0 {
		d.fail(v.get("grpc-max-send-msg-size"), path+".grpc-max-send-msg-size", "must be greater than 0")
	}
	// Prometheus panics on unordered buckets; say so at start instead.
	for i, b := range ea.GRPCRequestDurationSecondsBuckets {
		if i > 0 && b <= ea.GRPCRequestDurationSecondsBuckets[i-1] {
			d.fail(v.get("grpc-request-duration-seconds-buckets"), indexPath(path+".grpc-request-duration-seconds-buckets", i), "buckets must be strictly increasing (%v after %v)", b, ea.GRPCRequestDurationSecondsBuckets[i-1])
			break
		}
	}
	cfg.ExtAuthz = ea
}

// pathRef turns a slash-separated path into a data reference as
// opa-envoy-plugin does: segments that are integers become array indexes.
func pathRef(p string) ast.Ref {
	ref := ast.Ref{ast.DefaultRootDocument}
	for _, s := range strings.Split(p, "/") {
		if s == "" {
			continue
		}
		if i, err := strconv.Atoi(s); err == nil {
			ref = append(ref, ast.IntNumberTerm(i))
		} else {
			ref = append(ref, ast.StringTerm(s))
		}
	}
	return ref
}

// queryRef accepts a deprecated query that is a single reference under
// data: nexus-authz evaluates one decision, not arbitrary query bodies.
func queryRef(q string) (string, error) {
	body, err := ast.ParseBody(q)
	if err != nil {
		return "", fmt.Errorf("does not parse: %w", err)
	}
	if len(body) == 1 {
		if t, ok := body[0].Terms.(*ast.Term); ok {
			if ref, ok := t.Value.(ast.Ref); ok && ref.HasPrefix(ast.DefaultRootRef) {
				return ref.String(), nil
			}
		}
	}
	return "", fmt.Errorf("%q is not a single reference under data (such as data.envoy.authz.allow); nexus-authz evaluates a decision, not a query body", q)
}

// checkAddr accepts the listen addresses opa-envoy-plugin does.
func checkAddr(addr string) error {
	if addr == "" {
		return fmt.Errorf("must not be empty")
	}
	a := addr
	if !strings.Contains(a, "://") {
		a = "grpc://" + a
	}
	u, err := url.Parse(a)
	if err != nil {
		return fmt.Errorf("%q does not parse: %w", addr, err)
	}
	switch u.Scheme {
	case "unix":
		if u.Host+u.Path == "" {
			return fmt.Errorf("%q names no socket path", addr)
		}
	case "grpc":
		if _, port, err := net.SplitHostPort(u.Host); err != nil || port == "" {
			return fmt.Errorf("%q is not host:port", addr)
		}
	default:
		return fmt.Errorf("%q: scheme must be grpc or unix, not %q", addr, u.Scheme)
	}
	return nil
}

// pathMatch checks a glob the way OPA's reader matches exclude_files.
func pathMatch(pattern string) (bool, error) {
	return filepath.Match(pattern, "x")
}
