package decision

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/protobuf/proto"

	"github.com/secureai-nexus/nexus/authz/internal/decisionlog"
	"github.com/secureai-nexus/nexus/authz/internal/input"
	"github.com/secureai-nexus/nexus/authz/internal/policy"
)

// Policies provides the serving policy set.
type Policies interface {
	Current() *policy.Set
}

// Log receives one entry per decision; it must not block.
type Log interface {
	Log(decisionlog.Entry)
}

// Metrics observes decisions.
type Metrics interface {
	// errCode is the failure's reason code when the decision failed.
	Decision(result, errCode string, eval time.Duration)
	// CacheLookup counts decisions answered from (hit) or added to the
	// policy set's decision cache.
	CacheLookup(hit bool)
}

// BreakGlassMetrics, when Metrics implements it, counts the decisions
// each break-glass grant touched.
type BreakGlassMetrics interface {
	BreakGlass(grant, result string)
}

// BreakGlassGrants are the grant ids a decision's break_glass field names
// (the shipped policy's record of an emergency override).
func BreakGlassGrants(raw any) []string {
	d, _ := raw.(map[string]any)
	bg, _ := d["break_glass"].(map[string]any)
	gs, _ := bg["grants"].([]any)
	var out []string
	for _, g := range gs {
		if s, ok := g.(string); ok && s != "" && len(s) <= 64 {
			out = append(out, s)
		}
	}
	return out
}

// Reasons a request is denied without the policy's say. They are stable
// strings, so operators can alert on them (after opa-envoy-plugin's typed
// error codes).
const (
	ReasonNoPolicy = "no_policy_loaded"
	// ReasonRequestParse is opa-envoy-plugin's request_parse_error: a
	// path, query or body that does not parse is a 400 without the
	// policy's say.
	ReasonRequestParse    = "request_parse_error"
	ReasonInputTooLarge   = "input_too_large"
	ReasonInputInvalid    = "input_invalid"
	ReasonTimeout         = "check_request_timeout"
	ReasonCanceled        = "check_request_canceled"
	ReasonPolicyError     = "policy_error"
	ReasonUndefined       = "undefined_decision"
	ReasonInvalidDecision = "invalid_decision"
)

// Engine decides CheckRequests.
type Engine struct {
	Policies Policies
	Log      Log
	Masker   *decisionlog.Masker
	Metrics  Metrics
	// Timeout bounds one decision's evaluation.
	Timeout time.Duration
	// MaxInputBytes bounds the CheckRequest size.
	MaxInputBytes int
	// DryRun decides and logs, but always allows.
	DryRun bool
	Input  input.Options
	Now    func() time.Time
	// DecisionIDHeader, when not empty, also sends the decision id as this
	// header (it is always in the dynamic metadata as decision_id).
	DecisionIDHeader string
	// Labels identify this instance in OPA-format decision log events
	// (id, version and the configured labels); shared, never modified.
	Labels map[string]string
	// Tracer starts the span of each Check, a child of the span in ctx
	// (nil: no spans).
	Tracer trace.Tracer
	// SubjectKey, when set, keys the hash of the end user's verified JWT
	// sub that the span carries as enduser.pseudo.id; without it the span
	// names no end user.
	SubjectKey []byte
	// KeepMasked hands the values the masks replace to the decision log,
	// which seals them (decisionlog.WithSealer): never written in clear.
	KeepMasked bool
	// Callers, when set, is told each decision's caller and outcome, for
	// the access review's "last used".
	Callers interface {
		Seen(caller string, allowed bool, at time.Time)
	}
}

// SpanName is the Check span's name: the gRPC method, as gRPC
// instrumentation names server spans.
const SpanName = "envoy.service.auth.v3.Authorization/Check"

var noopTracer = noop.NewTracerProvider().Tracer("")

// Check decides one request. It never returns an error for a bad request or
// a failing policy: those are denials. The error return is for responses
// that cannot be encoded at all.
func (e *Engine) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	start := e.Now()
	id := NewID()
	entry := decisionlog.Entry{DecisionID: id, Time: start.UTC()}
	tracer := e.Tracer
	if tracer == nil {
		tracer = noopTracer
	}
	ctx, span := tracer.Start(ctx, SpanName, trace.WithSpanKind(trace.SpanKindServer))
	defer span.End()
	if sc := span.SpanContext(); sc.IsValid() {
		entry.TraceID, entry.SpanID = sc.TraceID().String(), sc.SpanID().String()
	}
	var in map[string]any

	res, reason, set, cached, raw := e.decide(ctx, req, &in)
	entry.RawResult = raw
	entry.Cached = cached
	entry.Labels = e.Labels
	if set != nil {
		entry.PolicyRevision, entry.Query, entry.Path = set.Revision, set.Query, set.Path
		entry.Bundles = set.Bundles
	}
	elapsed := e.Now().Sub(start)

	failed := res.Failure != ""
	entry.Reason = reason
	switch res.Failure {
	case ReasonRequestParse, ReasonPolicyError, ReasonInputInvalid:
		// These errors' texts can quote the request (a parser's "invalid
		// character …", a builtin's argument): the log, which masks the
		// body, must not carry it back in. The client's 400 keeps the
		// whole message, as opa-envoy-plugin sends it.
		entry.Reason = SanitizeReason(reason)
	}
	entry.Result = "allow"
	if !res.Allowed {
		entry.Result = "deny"
		entry.HTTPStatus = res.HTTPStatus
	}
	entry.EvalMicros = elapsed.Microseconds()
	if in != nil {
		if nx, ok := in["nexus"].(map[string]any); ok {
			if c, ok := nx["caller"].(map[string]any); ok {
				entry.Caller, _ = c["spiffe_id"].(string)
			}
			entry.Model, _ = nx["model"].(string)
			entry.Version, _ = nx["version"].(string)
		}
		if set != nil && set.HasMask() {
			if err := applyMaskPolicy(ctx, set, &entry, in); err != nil {
				// A mask that cannot be applied must not let the
				// input through: none of it is logged.
				entry.Reason += "; decision log mask failed, input not logged: " + SanitizeReason(err.Error())
				in = map[string]any{}
			}
		}
		if e.KeepMasked {
			masked, hidden := e.Masker.MaskKeeping(in)
			entry.Masked, entry.Hidden = append(entry.Masked, masked...), hidden
		} else {
			entry.Masked = append(entry.Masked, e.Masker.Mask(in)...)
		}
		entry.Input = in
	}
	// Dry run allows what the policy denied, keeping its metadata, as
	// opa-envoy-plugin does. A failure is not a decision: a request that
	// cannot be parsed, no policy, an error, a timeout or an undefined
	// result is denied even then (opa-envoy-plugin answers those with an
	// error, which Envoy denies).
	if e.DryRun && !failed {
		entry.DryRun = true
		if !res.Allowed {
			res = Result{Allowed: true, Object: true, DynamicMetadata: res.DynamicMetadata}
		}
	}
	metric := entry.Result
	if failed {
		metric = "error"
	}
	entry.BreakGlass = BreakGlassGrants(raw)
	if bg, ok := e.Metrics.(BreakGlassMetrics); ok {
		for _, g := range entry.BreakGlass {
			bg.BreakGlass(g, entry.Result)
		}
	}
	e.Metrics.Decision(metric, res.Failure, elapsed)
	if span.IsRecording() {
		annotate(span, &entry, res.Failure, in, e.SubjectKey)
	}
	e.Log.Log(entry)
	if e.Callers != nil && entry.Caller != "" {
		e.Callers.Seen(entry.Caller, res.Allowed, start)
	}

	resp, err := Response(res, id, e.DecisionIDHeader)
	if err != nil {
		// The policy produced metadata that cannot be encoded: deny.
		resp, _ = Response(denied(ReasonInvalidDecision), id, e.DecisionIDHeader)
	}
	return resp, nil
}

// annotate records the decision on its span: codes, names and counts,
// never the policy's free-text reason or anything from the request body,
// which can quote personal data.
func annotate(span trace.Span, entry *decisionlog.Entry, failure string, in map[string]any, subjectKey []byte) {
	reason := failure
	if reason == "" {
		reason = "policy"
	}
	attrs := []attribute.KeyValue{
		attribute.String("rpc.system", "grpc"),
		attribute.String("rpc.service", "envoy.service.auth.v3.Authorization"),
		attribute.String("rpc.method", "Check"),
		attribute.String("nexus.authz.decision", entry.Result),
		attribute.String("nexus.authz.reason_code", reason),
		attribute.String("nexus.authz.decision_id", entry.DecisionID),
		attribute.Bool("nexus.authz.cached", entry.Cached),
		attribute.Int64("nexus.authz.eval_us", entry.EvalMicros),
	}
	if entry.PolicyRevision != "" {
		attrs = append(attrs, attribute.String("nexus.authz.policy_revision", entry.PolicyRevision))
	}
	if entry.DryRun {
		attrs = append(attrs, attribute.Bool("nexus.authz.dry_run", true))
	}
	if entry.HTTPStatus != 0 {
		attrs = append(attrs, attribute.Int("nexus.authz.http_status", entry.HTTPStatus))
	}
	for _, f := range [...]struct{ key, v string }{
		{"nexus.caller.spiffe_id", entry.Caller}, {"nexus.model", entry.Model}, {"nexus.model.version", entry.Version},
	} {
		if f.v != "" {
			attrs = append(attrs, attribute.String(f.key, f.v))
		}
	}
	if nx, ok := in["nexus"].(map[string]any); ok {
		if p, ok := nx["pii"].(map[string]any); ok {
			classes, _ := p["classes"].([]any)
			counts, _ := p["counts"].(map[string]any)
			names := make([]string, 0, len(classes))
			ns := make([]int64, 0, len(classes))
			for _, c := range classes {
				name, _ := c.(string)
				n, _ := counts[name].(interface{ Int64() (int64, error) })
				if name == "" || n == nil {
					continue
				}
				v, _ := n.Int64()
				names, ns = append(names, name), append(ns, v)
			}
			if len(names) > 0 {
				attrs = append(attrs, attribute.StringSlice("nexus.pii.classes", names), attribute.Int64Slice("nexus.pii.counts", ns))
			}
			if o, _ := p["oversize"].(bool); o {
				attrs = append(attrs, attribute.Bool("nexus.pii.oversize", true))
			}
		}
		// Claims are Envoy's jwt_authn output (verified), never a header.
		if c, ok := nx["claims"].(map[string]any); ok && len(subjectKey) > 0 {
			if sub, _ := c["sub"].(string); sub != "" {
				attrs = append(attrs, attribute.String("enduser.pseudo.id", PseudonymousSubject(subjectKey, sub)))
			}
		}
	}
	span.SetAttributes(attrs...)
	if failure != "" {
		span.SetStatus(codes.Error, failure)
	}
}

// PseudonymousSubject is the keyed hash an end user appears as in traces:
// the same user is the same id across spans, and without the key the id
// does not lead back to the user.
func PseudonymousSubject(key []byte, sub string) string { return input.PseudonymousSubject(key, sub) }

// SanitizeReason bounds a failure's reason for the log and replaces what
// it quotes ("…" or '…', where parsers and builtins echo their input) with
// an ellipsis.
func SanitizeReason(r string) string {
	r = quoted.ReplaceAllStringFunc(r, func(q string) string { return q[:1] + "…" + q[:1] })
	if len(r) > 300 {
		r = strings.ToValidUTF8(r[:300], "") + "…"
	}
	return r
}

var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)

// denied is the response for every failure: 403 with a JSON body that says
// where to look, never what went wrong inside. failure is the reason code.
func denied(failure string) Result {
	return Result{
		Failure:    failure,
		Object:     true,
		HTTPStatus: 403,
		Headers:    []Header{{"content-type", "application/json"}},
		Body:       `{"error":{"code":"forbidden","message":"denied; quote the decision id to your operator"}}`,
	}
}

func (e *Engine) decide(ctx context.Context, req *authv3.CheckRequest, in *map[string]any) (res Result, reason string, set *policy.Set, cached bool, raw any) {
	set = e.Policies.Current()
	if set == nil {
		return denied(ReasonNoPolicy), ReasonNoPolicy, nil, false, nil
	}
	if n := proto.Size(req); e.MaxInputBytes > 0 && n > e.MaxInputBytes {
		return denied(ReasonInputTooLarge), fmt.Sprintf("%s: %d bytes, more than %d", ReasonInputTooLarge, n, e.MaxInputBytes), set, false, nil
	}
	opts := e.Input
	// A body the log masks is only read by the policy: decode just the
	// members it reads (the whole body is still checked to be JSON).
	if names, ok := set.BodyMembers(); ok && e.Masker.Masks("/input/parsed_body") {
		opts.LimitBody, opts.BodyMembers = true, names
	}
	doc, err := input.Build(req, opts)
	var parseErr *input.ParseError
	switch {
	case errors.As(err, &parseErr):
		msg := ReasonRequestParse + ": " + err.Error()
		return Result{ParseError: true, Failure: ReasonRequestParse, HTTPStatus: 400, Body: msg}, msg, set, false, nil
	case err != nil:
		return denied(ReasonInputInvalid), ReasonInputInvalid + ": " + err.Error(), set, false, nil
	}
	*in = doc
	ctx, cancel := context.WithTimeout(ctx, e.Timeout)
	defer cancel()
	out, defined, hit, err := set.Decide(ctx, doc)
	if set.Caches() {
		e.Metrics.CacheLookup(hit)
	}
	var inputErr *policy.InputError
	switch {
	case errors.As(err, &inputErr):
		return denied(ReasonInputInvalid), ReasonInputInvalid + ": " + err.Error(), set, false, nil
	case err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		return denied(ReasonTimeout), fmt.Sprintf("%s: no decision within %s", ReasonTimeout, e.Timeout), set, false, nil
	case err != nil && errors.Is(ctx.Err(), context.Canceled):
		return denied(ReasonCanceled), ReasonCanceled, set, false, nil
	case err != nil:
		return denied(ReasonPolicyError), ReasonPolicyError + ": " + err.Error(), set, false, nil
	case !defined:
		return denied(ReasonUndefined), ReasonUndefined, set, hit, nil
	}
	res, err = Interpret(out)
	if err != nil {
		return denied(ReasonInvalidDecision), ReasonInvalidDecision + ": " + err.Error(), set, hit, out
	}
	if !res.Allowed && res.Reason == "" {
		res.Reason = "denied by policy"
	}
	return res, res.Reason, set, hit, out
}

func NewID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
