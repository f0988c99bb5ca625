// Package piiguard is the Envoy HTTP filter: it scans request bodies for
// personal data, applies each class's mode before the model sees the body,
// reports what it found to ext_authz in a header, picks the model for
// OpenAI-style routes from the body, and restores the caller's own tokens
// in the answer. It is written against Nexus's proxy-wasm layer, so the
// same code runs compiled to .wasm inside Envoy and natively in tests.
package piiguard

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/secureai-nexus/nexus/filters/proxywasm"
	"github.com/secureai-nexus/nexus/filters/scan"
	"github.com/secureai-nexus/nexus/filters/transform"
)

// Headers the filter owns: a client's own values are always replaced or
// removed, so they cannot be forged.
const (
	HeaderPII = "x-nexus-pii"
	// HeaderPIIActions says what the filter did with what it found,
	// by mode: "redact=1,tokenize=2" (counts only), for the sidecar's span.
	HeaderPIIActions   = "x-nexus-pii-actions"
	DefaultModelHeader = "x-nexus-model"
	defaultMaxBody     = 1 << 20
)

// Config is the plugin configuration the control plane sends (JSON).
type Config struct {
	Model       string            `json:"model"`
	ModelHeader string            `json:"model_header"`
	Modes       map[string]string `json:"modes"`
	HashKey     string            `json:"hash_key"`
	HashKeyID   string            `json:"hash_key_id"`
	// MaxBodyBytes bounds the body scanned (default 1 MiB).
	MaxBodyBytes int `json:"max_body_bytes"`
	// Oversize is "reject" (413, the default: fail closed) or "pass"
	// (forward unscanned, reported as x-nexus-pii: oversize).
	Oversize string `json:"oversize"`
	// Answers is "scan" (the default: count personal data in the model's
	// answers that the caller did not send, by model version, for the
	// rollouts' data-protection gate) or "off".
	Answers string `json:"answers"`
}

// HeaderVersion names the model version that answered; the route sets it
// on the response, so an upstream cannot choose it.
const HeaderVersion = "x-nexus-model-version"

// ParseConfig validates a configuration, naming the field at fault.
func ParseConfig(raw []byte) (*transform.Policy, *Config, error) {
	var c Config
	if len(strings.TrimSpace(string(raw))) > 0 {
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return nil, nil, fmt.Errorf("configuration is not valid JSON: %v", err)
		}
	}
	if c.ModelHeader == "" {
		c.ModelHeader = DefaultModelHeader
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = defaultMaxBody
	}
	if c.MaxBodyBytes < 0 {
		return nil, nil, fmt.Errorf("max_body_bytes: must be positive, got %d", c.MaxBodyBytes)
	}
	switch c.Answers {
	case "":
		c.Answers = "scan"
	case "scan", "off":
	default:
		return nil, nil, fmt.Errorf("answers: must be scan or off, got %q", c.Answers)
	}
	switch c.Oversize {
	case "":
		c.Oversize = "reject"
	case "reject", "pass":
	default:
		return nil, nil, fmt.Errorf("oversize: must be reject or pass, got %q", c.Oversize)
	}
	p := &transform.Policy{Modes: map[scan.Class]transform.Mode{}, HashKey: []byte(c.HashKey), HashKeyID: c.HashKeyID}
	known := scan.Classes()
	for class, m := range c.Modes {
		if !slices.Contains(known, scan.Class(class)) {
			return nil, nil, fmt.Errorf("modes.%s: unknown data class", class)
		}
		mode, err := transform.ParseMode(m)
		if err != nil {
			return nil, nil, fmt.Errorf("modes.%s: %v", class, err)
		}
		if mode == transform.Hash && c.HashKey == "" {
			return nil, nil, fmt.Errorf("modes.%s: hash mode needs hash_key", class)
		}
		p.Modes[scan.Class(class)] = mode
	}
	return p, &c, nil
}

// Plugin is the root context.
type Plugin struct {
	policy *transform.Policy
	cfg    *Config
	// stats is set by the first stream: the metric ABI is the host's, and
	// the root context is configured before any host call is made.
	stats *stats
}

var _ proxywasm.Plugin = (*Plugin)(nil)

// OnConfigure implements proxywasm.Plugin.
func (p *Plugin) OnConfigure(raw []byte) error {
	policy, cfg, err := ParseConfig(raw)
	if err != nil {
		return err
	}
	p.policy, p.cfg = policy, cfg
	return nil
}

// NewHTTPContext implements proxywasm.Plugin.
func (p *Plugin) NewHTTPContext(host proxywasm.Host) proxywasm.HTTPContext {
	if p.stats == nil {
		p.stats = newStats(host)
	}
	return &stream{p: p, host: host}
}

type stream struct {
	p        *Plugin
	host     proxywasm.Host
	isJSON   bool
	hasBody  bool
	vault    *transform.Vault
	restorer restorer
	done     bool
	// own are the request's values; answer scans the response for others.
	own     map[uint64]bool
	answer  *transform.AnswerScanner
	version string
}

// restorer is the byte-level or the event-stream restorer.
type restorer interface {
	Write(chunk []byte) []byte
	Flush() []byte
}

func (s *stream) OnRequestHeaders(_ int, endOfStream bool) proxywasm.Action {
	_ = s.host.RemoveHeader(proxywasm.MapHTTPRequestHeaders, HeaderPII)
	_ = s.host.RemoveHeader(proxywasm.MapHTTPRequestHeaders, HeaderPIIActions)
	// The model is decided by the body, never by the caller's header.
	_ = s.host.RemoveHeader(proxywasm.MapHTTPRequestHeaders, s.p.cfg.ModelHeader)
	ct, _ := s.host.GetHeader(proxywasm.MapHTTPRequestHeaders, "content-type")
	s.isJSON = strings.Contains(strings.ToLower(ct), "json")
	if endOfStream {
		_ = s.host.ReplaceHeader(proxywasm.MapHTTPRequestHeaders, HeaderPII, "none")
		return proxywasm.ActionContinue
	}
	s.hasBody = true
	// The body will be rewritten: its length is no longer known.
	_ = s.host.RemoveHeader(proxywasm.MapHTTPRequestHeaders, "content-length")
	// Hold the headers until the body is scanned: the PII report and the
	// model header are set from it.
	return proxywasm.ActionPause
}

func (s *stream) OnRequestBody(size int, endOfStream bool) proxywasm.Action {
	if s.done {
		return proxywasm.ActionContinue
	}
	if size > s.p.cfg.MaxBodyBytes {
		s.done = true
		s.p.stats.add(MetricOversize, 1)
		if s.p.cfg.Oversize == "pass" {
			_ = s.host.ReplaceHeader(proxywasm.MapHTTPRequestHeaders, HeaderPII, "oversize")
			return proxywasm.ActionContinue
		}
		s.reply(413, "pii_body_too_large", fmt.Sprintf("request body is larger than %d bytes and cannot be scanned", s.p.cfg.MaxBodyBytes), nil)
		return proxywasm.ActionPause
	}
	if !endOfStream {
		return proxywasm.ActionPause // buffer until the whole body is here
	}
	s.done = true
	body, err := s.host.GetBuffer(proxywasm.BufferHTTPRequestBody, 0, size)
	if err != nil && size > 0 {
		s.p.stats.add(MetricFailed, 1)
		s.reply(500, "pii_read_failed", "request body could not be read for scanning", nil)
		return proxywasm.ActionPause
	}
	r, err := transform.Apply(s.p.policy, body, s.isJSON)
	if err != nil {
		s.p.stats.add(MetricFailed, 1)
		s.reply(500, "pii_scan_failed", "request body could not be scanned", nil)
		return proxywasm.ActionPause
	}
	s.p.stats.findings(s.p.policy, r.Counts)
	if len(r.Blocked) > 0 {
		s.p.stats.add(MetricBlocked, 1)
		names := make([]string, len(r.Blocked))
		for i, c := range r.Blocked {
			names[i] = string(c)
		}
		s.reply(403, "pii_blocked", "request contains personal data that may not be sent to this model", names)
		return proxywasm.ActionPause
	}
	if r.Changed(body) {
		if err := s.host.SetBuffer(proxywasm.BufferHTTPRequestBody, 0, size, r.Body); err != nil {
			s.reply(500, "pii_rewrite_failed", "request body could not be rewritten", nil)
			return proxywasm.ActionPause
		}
	}
	_ = s.host.ReplaceHeader(proxywasm.MapHTTPRequestHeaders, HeaderPII, Summary(r.Counts))
	if len(r.Counts) > 0 {
		_ = s.host.ReplaceHeader(proxywasm.MapHTTPRequestHeaders, HeaderPIIActions, Actions(s.p.policy, r.Counts))
	}
	// The routing header carries the model's name as sent, unless that
	// name itself holds personal data: then no header, never the data.
	if m := r.Model; m != "" && len(s.p.policy.Scanner.Scan([]byte(m))) == 0 {
		_ = s.host.ReplaceHeader(proxywasm.MapHTTPRequestHeaders, s.p.cfg.ModelHeader, m)
	}
	if r.Vault.Len() > 0 {
		s.vault = r.Vault
	}
	if s.p.cfg.Answers == "scan" {
		s.own = transform.OwnValues(body, r.Findings)
	}
	return proxywasm.ActionContinue
}

// Actions renders what each mode did with the findings, as the
// x-nexus-pii-actions header: "redact=1,tokenize=2", modes sorted.
func Actions(p *transform.Policy, counts map[scan.Class]int) string {
	by := map[string]int{}
	for class, n := range counts {
		mode, ok := p.Modes[class]
		if !ok {
			mode = transform.Report
		}
		by[string(mode)] += n
	}
	modes := make([]string, 0, len(by))
	for m := range by {
		modes = append(modes, m)
	}
	slices.Sort(modes)
	parts := make([]string, len(modes))
	for i, m := range modes {
		parts[i] = m + "=" + strconv.Itoa(by[m])
	}
	return strings.Join(parts, ",")
}

// Summary renders counts as the x-nexus-pii header: "EMAIL=2,US_SSN=1",
// classes sorted, or "none".
func Summary(counts map[scan.Class]int) string {
	if len(counts) == 0 {
		return "none"
	}
	parts := make([]string, 0, len(counts))
	for c, n := range counts {
		parts = append(parts, string(c)+"="+strconv.Itoa(n))
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

func (s *stream) reply(status int, code, msg string, classes []string) {
	e := map[string]any{"code": code, "message": msg}
	if classes != nil {
		e["classes"] = classes
	}
	body, _ := json.Marshal(map[string]any{"error": e})
	_ = s.host.SendLocalResponse(status, code, body, [][2]string{{"content-type", "application/json"}})
}

func (s *stream) OnResponseHeaders(_ int, endOfStream bool) proxywasm.Action {
	ct, _ := s.host.GetHeader(proxywasm.MapHTTPResponseHeaders, "content-type")
	ct = strings.ToLower(ct)
	if s.own != nil {
		s.version, _ = s.host.GetHeader(proxywasm.MapHTTPResponseHeaders, HeaderVersion)
		s.answer = transform.NewAnswerScanner(&s.p.policy.Scanner, s.own, ct)
		if endOfStream {
			s.finishAnswer()
		}
	}
	if s.vault == nil || endOfStream {
		return proxywasm.ActionContinue
	}
	// Restored values change the length; JSON and event streams get
	// values escaped for JSON strings.
	_ = s.host.RemoveHeader(proxywasm.MapHTTPResponseHeaders, "content-length")
	if strings.Contains(ct, "event-stream") {
		// Streamed completions split a token across events.
		s.restorer = transform.NewSSERestorer(s.vault)
	} else {
		s.restorer = transform.NewRestorer(s.vault, strings.Contains(ct, "json"))
	}
	return proxywasm.ActionContinue
}

func (s *stream) OnResponseBody(size int, endOfStream bool) proxywasm.Action {
	if s.restorer == nil && s.answer == nil {
		return proxywasm.ActionContinue
	}
	chunk, err := s.host.GetBuffer(proxywasm.BufferHTTPResponseBody, 0, size)
	if err != nil && size > 0 {
		return proxywasm.ActionContinue
	}
	if s.answer != nil {
		// The model's own words, before the caller's tokens are restored.
		s.answer.Write(chunk)
		if endOfStream {
			s.finishAnswer()
		}
	}
	if s.restorer == nil {
		return proxywasm.ActionContinue
	}
	out := s.restorer.Write(chunk)
	if endOfStream {
		out = append(out, s.restorer.Flush()...)
	}
	if string(out) != string(chunk) {
		_ = s.host.SetBuffer(proxywasm.BufferHTTPResponseBody, 0, size, out)
	}
	return proxywasm.ActionContinue
}

// finishAnswer scans the answer and counts it by model and version.
func (s *stream) finishAnswer() {
	res := s.answer.Finish()
	s.answer = nil
	s.p.stats.answer(s.p.cfg.Model, s.version, res)
}

func (s *stream) OnDone() {}
