// Package policy loads, tests, compiles and serves Rego policy sets. A set
// comes from a directory, an OPA bundle file or a bundle service URL; it
// replaces the serving set only after it compiles and its own Rego tests
// pass, so a broken set never serves and the last good one keeps serving.
package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
	"github.com/open-policy-agent/opa/v1/topdown/print"
)

// Set is a compiled policy set ready to decide.
type Set struct {
	// Revision is the bundle manifest's revision, or a content digest.
	Revision string
	Query    string
	// Path is the decision as opa-envoy-plugin's path names it
	// (envoy/authz/allow), for OPA-format decision logs.
	Path   string
	Tests  int
	Loaded time.Time
	// Bundles maps each bundle the set was built from to its revision,
	// for decision logs and status reports; nil for policy paths.
	Bundles  map[string]string
	prepared rego.PreparedEvalQuery
	// compiler and store answer ad hoc queries (POST /v1/data).
	compiler *ast.Compiler
	store    storage.Store
	evalOpts []func(*rego.Rego)
	// mask is the prepared decision log mask rule, when the set has one.
	mask *rego.PreparedEvalQuery

	// inputPaths are all the set's policies read of the input, when that
	// is known (prune): evaluation sees only them.
	inputPaths []inputPath
	prune      bool
	// bodyMembers are the parsed_body members read, when known.
	bodyMembers      []string
	bodyMembersKnown bool
	// cache remembers decisions keyed by the values at inputPaths; nil
	// when disabled (cacheOff says why).
	cache    *decisionCache
	cacheOff string
}

// Eval evaluates the set's query against a parsed input. ok is false when
// the query is undefined.
func (s *Set) Eval(ctx context.Context, input ast.Value) (any, bool, error) {
	rs, err := s.prepared.Eval(ctx, rego.EvalParsedInput(input))
	if err != nil {
		return nil, false, err
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, false, nil
	}
	return rs[0].Expressions[0].Value, true, nil
}

// evalOptions are the options every evaluation of a set shares.
func evalOptions(opts Options) []func(*rego.Rego) {
	o := []func(*rego.Rego){rego.StrictBuiltinErrors(opts.StrictBuiltinErrors)}
	if opts.Runtime != nil {
		o = append(o, rego.Runtime(opts.Runtime))
	}
	if opts.Print != nil {
		o = append(o, rego.EnablePrintStatements(true), rego.PrintHook(printHook(opts.Print)))
	}
	return o
}

type printHook func(location, msg string)

func (h printHook) Print(pctx print.Context, msg string) error {
	loc := ""
	if pctx.Location != nil {
		loc = fmt.Sprintf("%s:%d", pctx.Location.File, pctx.Location.Row)
	}
	h(loc, msg)
	return nil
}

// prepareMask prepares the set's decision log mask rule, if it has one.
func prepareMask(ctx context.Context, compiler *ast.Compiler, store storage.Store, opts Options) (*rego.PreparedEvalQuery, error) {
	path := opts.MaskDecision
	if path == "" {
		path = "system/log/mask"
	}
	query, err := NormalizeQuery(path)
	if err != nil {
		return nil, fmt.Errorf("mask decision: %w", err)
	}
	ref := ast.MustParseRef(query)
	if len(compiler.GetRulesForVirtualDocument(ref)) == 0 && len(compiler.GetRulesWithPrefix(ref)) == 0 {
		return nil, nil
	}
	pq, err := rego.New(append(evalOptions(opts), rego.Query(query), rego.Compiler(compiler), rego.Store(store))...).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("prepare mask decision %s: %w", query, err)
	}
	return &pq, nil
}

// HasMask says whether the set defines a decision log mask rule.
func (s *Set) HasMask() bool { return s.mask != nil }

// Mask evaluates the set's mask rule on a decision log event ({"input",
// "result", "decision_id", "path", "labels"}, as OPA gives it) and returns
// its value: the pointers to erase and the upserts to apply.
func (s *Set) Mask(ctx context.Context, event map[string]any) (any, error) {
	if s.mask == nil {
		return nil, nil
	}
	rs, err := s.mask.Eval(ctx, rego.EvalInput(event))
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, nil
	}
	return rs[0].Expressions[0].Value, nil
}

// Data evaluates any document of the set (OPA's POST /v1/data/{path}), for
// policy authors trying a decision; it is compiled per call and does not
// use the decision cache. ok is false when the document is undefined.
func (s *Set) Data(ctx context.Context, ref ast.Ref, input any) (any, bool, error) {
	opts := append(slices.Clone(s.evalOpts),
		rego.ParsedQuery(ast.NewBody(ast.NewExpr(ast.NewTerm(ref)))),
		rego.Compiler(s.compiler),
		rego.Store(s.store),
	)
	if input != nil {
		opts = append(opts, rego.Input(input))
	}
	rs, err := rego.New(opts...).Eval(ctx)
	if err != nil {
		return nil, false, err
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, false, nil
	}
	return rs[0].Expressions[0].Value, true, nil
}

// Options configure compilation.
type Options struct {
	// Query is the decision to evaluate, e.g. data.envoy.authz.allow. The
	// opa-envoy-plugin path form envoy/authz/allow is accepted too.
	Query string
	// RegoVersion is the default syntax for modules that do not declare
	// one; ast.RegoV0 accepts policies written for OPA 0.x.
	RegoVersion ast.RegoVersion
	// TestTimeout bounds each Rego test.
	TestTimeout time.Duration
	// DecisionCacheSize bounds the decisions a set remembers; 0 turns the
	// cache off.
	DecisionCacheSize int
	// Runtime is what opa.runtime() returns (OPA gives env, config and
	// version); nil leaves it empty.
	Runtime *ast.Term
	// Print receives the output of print() calls in the policies (with
	// the call's location); nil drops it.
	Print func(location, msg string)
	// MaskDecision is the decision log mask rule (OPA's
	// decision_logs.mask_decision, default system/log/mask); when the set
	// defines it, Mask evaluates it for each decision.
	MaskDecision string
	// StrictBuiltinErrors makes a failing builtin (base64url.decode of a
	// malformed token, to_number("abc")) an error that fails the whole
	// decision closed. Off, as in OPA and opa-envoy-plugin, the failing
	// expression is undefined and the policy's own default or denial
	// stands. The set's Rego tests run the same way.
	StrictBuiltinErrors bool
	// LiveData are data paths ("nexus/consent") the set's Rego tests do
	// not see: data pushed outside the policy's release (the consent
	// bundle) changes whenever an end user consents, and a test that
	// needs it sets it with `with`, so a live break-glass grant cannot
	// make a test of the denials it overrides fail.
	LiveData []string
}

// NormalizeQuery turns the plugin's path form (envoy/authz/allow) into a
// query (data.envoy.authz.allow) and checks it parses as a reference.
func NormalizeQuery(q string) (string, error) {
	q = strings.TrimSpace(q)
	if q == "" {
		return "", errors.New("query is empty")
	}
	if !strings.HasPrefix(q, "data.") && !strings.HasPrefix(q, "data[") {
		q = "data." + strings.ReplaceAll(strings.Trim(q, "/"), "/", ".")
	}
	ref, err := ast.ParseRef(q)
	if err != nil {
		return "", fmt.Errorf("query %q is not a reference under data: %w", q, err)
	}
	return ref.String(), nil
}

// decisionPath writes a query under data as a slash-separated path.
func decisionPath(query string) string {
	ref, err := ast.ParseRef(query)
	if err != nil || len(ref) < 2 {
		return ""
	}
	parts := make([]string, 0, len(ref)-1)
	for _, t := range ref[1:] {
		s, ok := t.Value.(ast.String)
		if !ok {
			return ""
		}
		parts = append(parts, string(s))
	}
	return strings.Join(parts, "/")
}

// TestFailure is a Rego test that failed or errored.
type TestFailure struct {
	Name     string
	Location string
	Err      string
}

// TestsFailedError lists the failing Rego tests of a set that was refused.
type TestsFailedError struct {
	Failures []TestFailure
	Total    int
}

func (e *TestsFailedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d Rego tests failed:", len(e.Failures), e.Total)
	for _, f := range e.Failures {
		fmt.Fprintf(&b, "\n  %s (%s)", f.Name, f.Location)
		if f.Err != "" {
			b.WriteString(": " + f.Err)
		}
	}
	return b.String()
}

// Build tests and compiles a bundle into a Set.
func Build(ctx context.Context, b *bundle.Bundle, opts Options) (*Set, error) {
	query, err := NormalizeQuery(opts.Query)
	if err != nil {
		return nil, err
	}
	tests, err := runTests(ctx, b, opts)
	if err != nil {
		return nil, err
	}

	modules := map[string]*ast.Module{}
	for _, m := range b.Modules {
		if isTestFile(m.Path) {
			continue
		}
		modules[m.Path] = m.Parsed
	}
	compiler := ast.NewCompiler().WithDefaultRegoVersion(opts.RegoVersion)
	if compiler.Compile(modules); compiler.Failed() {
		return nil, fmt.Errorf("compile: %w", compiler.Errors)
	}
	if err := checkConstantStatuses(compiler.Modules, query); err != nil {
		return nil, err
	}
	data := b.Data
	if data == nil {
		data = map[string]any{}
	}
	store := inmem.NewFromObjectWithOpts(data, inmem.OptRoundTripOnWrite(false))
	pq, err := rego.New(append(evalOptions(opts),
		rego.Query(query),
		rego.Compiler(compiler),
		rego.Store(store),
	)...).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("prepare %s: %w", query, err)
	}
	mask, err := prepareMask(ctx, compiler, store, opts)
	if err != nil {
		return nil, err
	}
	rev := ""
	if b.Manifest.Revision != "" {
		rev = b.Manifest.Revision
	} else {
		rev = digest(b)
	}
	set := &Set{Revision: rev, Query: query, Path: decisionPath(query), Tests: tests, Loaded: time.Now(), prepared: pq,
		compiler: compiler, store: store, evalOpts: evalOptions(opts), mask: mask}
	plan := planInput(compiler.Modules)
	set.inputPaths, set.prune = plan.paths, plan.wholeInput == ""
	set.bodyMembers, set.bodyMembersKnown = bodyMembersOf(set.inputPaths, set.prune)
	switch why := plan.cacheable(); {
	case opts.DecisionCacheSize <= 0:
		set.cacheOff = "turned off (--decision-cache-size 0)"
	case why != "":
		set.cacheOff = why
	default:
		set.cache = newDecisionCache(opts.DecisionCacheSize)
	}
	return set, nil
}

func isTestFile(path string) bool { return strings.HasSuffix(path, "_test.rego") }

// runTests runs the set's own *_test.rego with OPA's tester against the
// set's data; any failure refuses the set.
func runTests(ctx context.Context, b *bundle.Bundle, opts Options) (int, error) {
	hasTests := slices.ContainsFunc(b.Modules, func(m bundle.ModuleFile) bool { return isTestFile(m.Path) })
	if !hasTests {
		return 0, nil
	}
	store := inmem.NewWithOpts(inmem.OptRoundTripOnWrite(false))
	txn, err := store.NewTransaction(ctx, storage.WriteParams)
	if err != nil {
		return 0, err
	}
	defer store.Abort(ctx, txn)
	timeout := opts.TestTimeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	bc := *b
	bc.Data = withoutPaths(b.Data, opts.LiveData)
	runner := tester.NewRunner().
		SetStore(store).
		SetBundles(map[string]*bundle.Bundle{"policies": &bc}).
		SetDefaultRegoVersion(opts.RegoVersion).
		SetTimeout(timeout).
		RaiseBuiltinErrors(opts.StrictBuiltinErrors)
	ch, err := runner.RunTests(ctx, txn)
	if err != nil {
		return 0, fmt.Errorf("compile tests: %w", err)
	}
	var failed []TestFailure
	total := 0
	for r := range ch {
		total++
		if r.Fail || r.Error != nil {
			f := TestFailure{Name: r.Package + "." + r.Name}
			if r.Location != nil {
				f.Location = fmt.Sprintf("%s:%d", r.Location.File, r.Location.Row)
			}
			if r.Error != nil {
				f.Err = r.Error.Error()
			}
			failed = append(failed, f)
		}
	}
	if len(failed) > 0 {
		slices.SortFunc(failed, func(a, b TestFailure) int { return strings.Compare(a.Name, b.Name) })
		return total, &TestsFailedError{Failures: failed, Total: total}
	}
	return total, nil
}

// digest names a set that carries no revision by its content.
func digest(b *bundle.Bundle) string {
	h := sha256.New()
	mods := slices.Clone(b.Modules)
	slices.SortFunc(mods, func(a, b bundle.ModuleFile) int { return strings.Compare(a.Path, b.Path) })
	for _, m := range mods {
		fmt.Fprintf(h, "%s\x00%d\x00", m.Path, len(m.Raw))
		h.Write(m.Raw)
	}
	data, _ := json.Marshal(b.Data) // sorted keys
	h.Write(data)
	return "sha256:" + hex.EncodeToString(h.Sum(nil))[:16]
}

// withoutPaths returns data without the slash-separated paths, copying
// only the objects on the way to them (data itself is not changed).
func withoutPaths(data map[string]any, paths []string) map[string]any {
	for _, p := range paths {
		data = without(data, strings.Split(strings.Trim(p, "/"), "/"))
	}
	return data
}

func without(m map[string]any, path []string) map[string]any {
	if len(path) == 0 || m == nil {
		return m
	}
	v, ok := m[path[0]]
	if !ok {
		return m
	}
	out := make(map[string]any, len(m))
	for k, x := range m {
		out[k] = x
	}
	if len(path) == 1 {
		delete(out, path[0])
		return out
	}
	child, ok := v.(map[string]any)
	if !ok {
		return m
	}
	out[path[0]] = without(child, path[1:])
	return out
}
