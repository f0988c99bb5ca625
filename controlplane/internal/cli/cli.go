// Package cli is nexusctl: a thin client of the admin API, plus offline
// commands that work on a mesh file (validate, bootstrap).
package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/secureai-nexus/nexus/controlplane/internal/identity"
	"github.com/secureai-nexus/nexus/controlplane/internal/mesh"
	"github.com/secureai-nexus/nexus/controlplane/internal/translate"
)

// commands is every nexusctl command, in the order the usage lists them.
func commands() []command {
	rolloutVerb := func(verb, summary string) command {
		return command{name: "rollout " + verb, args: "MODEL", min: 1, max: 1, summary: summary,
			flags: noFlags(func(ctx context.Context, e *env, args []string) error {
				return e.c.rolloutVerb(ctx, e.stdout, verb, args[0])
			})}
	}
	return []command{
		{name: "models", summary: "list models, versions and weights",
			flags: noFlags(func(ctx context.Context, e *env, _ []string) error { return e.c.models(ctx, e.stdout) })},
		{name: "traffic", args: "MODEL VERSION=WEIGHT [VERSION=WEIGHT…]", min: 2, max: -1,
			summary: "set a model's split, e.g. traffic triage v1=90 v2=10",
			flags:   noFlags(func(ctx context.Context, e *env, args []string) error { return e.c.traffic(ctx, e.stdout, args) })},
		{name: "proxy-status", summary: "every sidecar and whether it is in sync",
			flags: noFlags(func(ctx context.Context, e *env, _ []string) error { return e.c.proxyStatus(ctx, e.stdout) })},
		{name: "rollout start", args: "MODEL VERSION", opts: "[--steps 5,15,…,100] [--interval 30m] [--passes 1] [--rollback immediate|gradual]",
			min: 2, max: 2, summary: "roll a version out step by step, gated on its metrics", flags: rolloutStartFlags},
		rolloutVerb("status", "the rollout's phase, weight, gates and history"),
		rolloutVerb("watch", "redraw the rollout's status until it ends"),
		rolloutVerb("abort", "roll back to the weights before the rollout and end it"),
		rolloutVerb("promote", "end the rollout with the canary serving everything"),
		rolloutVerb("pause", "stop the rollout's evaluations where it is"),
		rolloutVerb("resume", "continue a paused rollout"),
		{name: "audit", opts: "[--after N]", summary: "read the audit log", flags: auditFlags},
		{name: "audit verify", opts: "[--checkpoint-file F]", summary: "verify the audit hash chain and that the log extends the last checkpoint seen",
			flags: auditVerifyFlags},
		{name: "access-review", opts: "[-o json]", summary: "every principal that can change anything or call a model, with last use",
			flags: accessReviewFlags},
		{name: "validate", args: "MESH_FILE", local: true, min: 1, max: 1, summary: "check a mesh file, listing every problem",
			flags: noFlags(func(_ context.Context, e *env, args []string) error { return validate(e.stdout, args[0]) })},
		{name: "model sign", args: "MODEL_DIR", opts: "--key KEY.pem [--out MODEL_DIR/model.sig]", local: true, min: 1, max: 1,
			required: []string{"key"}, summary: "sign a model directory (OpenSSF Model Signing, key method)", flags: modelSignFlags},
		{name: "bootstrap", args: "MESH_FILE NODE_ID", min: 2, max: 2, summary: "print a node's Envoy bootstrap (JSON)",
			flags: noFlags(func(_ context.Context, e *env, args []string) error {
				return bootstrap(e.stdout, e.dataDir, args[0], args[1])
			})},
		{name: "token create", args: "SPIFFE_ID", opts: "[--ttl 10m]", min: 1, max: 1,
			summary: "mint a single-use join token bound to one SPIFFE id", flags: tokenCreateFlags},
		{name: "token revoke", args: "TOKEN", min: 1, max: 1, summary: "revoke an unused join token",
			flags: noFlags(func(ctx context.Context, e *env, args []string) error {
				return e.c.revokeJoinToken(ctx, e.stdout, args[0])
			})},
		{name: "compliance report", opts: "--framework hipaa|gdpr|soc2|iso27001 [--format oscal|md|html] [-o FILE]",
			required: []string{"framework"}, summary: "evaluate the compliance checks from live evidence", flags: complianceReportFlags},
		{name: "ca rotate-root", summary: "add a new root to the bundle; it signs after one SVID lifetime",
			flags: noFlags(func(ctx context.Context, e *env, _ []string) error { return e.c.rotateRoot(ctx, e.stdout) })},
		{name: "agent", opts: "--join-token-file F --socket S [--server 127.0.0.1:18000] [--bundle .data/controlplane/bundle.pem]",
			local: true, required: []string{"socket"},
			summary: "exchange the join token for an SVID and serve it on a\nSPIFFE Workload API socket, renewing at half life", flags: agentFlags},
	}
}

// Run executes nexusctl with args and returns the exit code: 0 done (or
// help asked for), 1 failed, 2 called wrongly (the error is printed once,
// with the command's usage).
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return RunTraced(ctx, nil, nil, args, stdout, stderr)
}

// RunTraced is Run with each admin API call a client span, its trace
// context sent to the control plane (tp nil: no spans).
func RunTraced(ctx context.Context, tp trace.TracerProvider, prop propagation.TextMapPropagator, args []string, stdout, stderr io.Writer) int {
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	if prop == nil {
		prop = propagation.TraceContext{}
	}
	fs := flag.NewFlagSet("nexusctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	server := fs.String("server", envOr("NEXUS_ADMIN_URL", "http://127.0.0.1:18080"), "admin API base URL ($NEXUS_ADMIN_URL)")
	dataDir := fs.String("data-dir", envOr("NEXUS_DATA_DIR", ".data/controlplane"), "control plane data dir, for bootstrap's node credential and bundle ($NEXUS_DATA_DIR)")
	tokenFile := fs.String("token-file", envOr("NEXUS_TOKEN_FILE", ".data/controlplane/admin.token"), "file holding the bearer token ($NEXUS_TOKEN_FILE); $NEXUS_TOKEN wins if set")
	spiffeSocket := fs.String("spiffe-socket", "", "authenticate to an --admin-mtls-addr listener with the SVID from this Workload API (unix:///path) instead of a token")
	cpID := fs.String("controlplane-id", "spiffe://nexus.local/nexus/controlplane", "with --spiffe-socket: the SPIFFE id the control plane must present")
	cmds := commands()
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printGlobalUsage(stdout, cmds, fs)
			return 0
		}
		fmt.Fprintf(stderr, "nexusctl: %v\n\n", err)
		printGlobalUsage(stderr, cmds, fs)
		return 2
	}
	rest := fs.Args()
	if len(rest) == 0 {
		printGlobalUsage(stderr, cmds, fs)
		return 2
	}
	if rest[0] == "help" {
		return help(stdout, stderr, cmds, fs, rest[1:])
	}
	setup := func(cmd *command) (*env, func(), error) {
		e := &env{stdout: stdout, stderr: stderr, dataDir: *dataDir}
		if cmd.local {
			return e, func() {}, nil
		}
		e.c = &client{base: strings.TrimRight(*server, "/"), tokenFile: *tokenFile, http: &http.Client{Timeout: 30 * time.Second},
			tracer: tp.Tracer("github.com/secureai-nexus/nexus/controlplane/nexusctl"), prop: prop}
		if *spiffeSocket == "" {
			return e, func() {}, nil
		}
		closeSource, err := e.c.useSVID(ctx, *spiffeSocket, *cpID)
		if err != nil {
			return nil, nil, err
		}
		return e, closeSource, nil
	}
	return dispatch(ctx, cmds, rest, stdout, stderr, setup)
}

// plural writes a count and its noun, singular for one.
func plural[N int | int64](n N, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

type client struct {
	base, tokenFile string
	http            *http.Client
	// svid is set when the client authenticates with its SVID over mTLS.
	svid   bool
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
}

func (c *client) token() (string, error) {
	if t := os.Getenv("NEXUS_TOKEN"); t != "" {
		return t, nil
	}
	b, err := os.ReadFile(c.tokenFile)
	if err != nil {
		return "", fmt.Errorf("no token: set NEXUS_TOKEN or --token-file (%w)", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// apiError is the admin API's error body.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func (c *client) do(ctx context.Context, method, path string, body, out any) error {
	var tok string
	if !c.svid {
		var err error
		if tok, err = c.token(); err != nil {
			return err
		}
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	route, _, _ := strings.Cut(path, "?")
	ctx, span := c.tracer.Start(ctx, method+" "+route, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("http.request.method", method)))
	defer span.End()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	c.prop.Inject(ctx, propagation.HeaderCarrier(req.Header))
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err == nil {
		span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	}
	if err != nil {
		span.SetStatus(codes.Error, "request failed")
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return fmt.Errorf("cannot reach the control plane at %s (is it running? `make run`)", c.base)
		}
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e apiError
		if json.Unmarshal(data, &e) == nil && e.Error.Message != "" {
			return fmt.Errorf("%s (%d %s)", e.Error.Message, resp.StatusCode, e.Error.Code)
		}
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if raw, ok := out.(*[]byte); ok { // a text answer, such as a checkpoint
		*raw = data
		return nil
	}
	return json.Unmarshal(data, out)
}

type modelView struct {
	Name     string `json:"name"`
	Versions []struct {
		Name      string   `json:"name"`
		Weight    int      `json:"weight"`
		Endpoints []string `json:"endpoints"`
	} `json:"versions"`
}

func printModel(tw *tabwriter.Writer, m modelView) {
	for _, v := range m.Versions {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", m.Name, v.Name, v.Weight, strings.Join(v.Endpoints, ","))
	}
}

func (c *client) models(ctx context.Context, w io.Writer) error {
	var out struct {
		Models []modelView `json:"models"`
	}
	if err := c.do(ctx, "GET", "/api/v1/admin/models", nil, &out); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tVERSION\tWEIGHT\tENDPOINTS")
	for _, m := range out.Models {
		printModel(tw, m)
	}
	return tw.Flush()
}

func (c *client) traffic(ctx context.Context, w io.Writer, args []string) error {
	weights := map[string]int64{}
	for _, a := range args[1:] {
		v, ws, ok := strings.Cut(a, "=")
		n, err := strconv.ParseInt(ws, 10, 64)
		if !ok || v == "" || err != nil {
			return fmt.Errorf("%q is not VERSION=WEIGHT (e.g. v2=10)", a)
		}
		weights[v] = n
	}
	var out struct {
		Model    modelView `json:"model"`
		AuditSeq int64     `json:"audit_seq"`
	}
	if err := c.do(ctx, "PUT", "/api/v1/admin/models/"+args[0]+"/traffic", map[string]any{"weights": weights}, &out); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tVERSION\tWEIGHT\tENDPOINTS")
	printModel(tw, out.Model)
	if err := tw.Flush(); err != nil {
		return err
	}
	if out.AuditSeq == 0 {
		fmt.Fprintln(w, "unchanged: the model already had this split")
	} else {
		fmt.Fprintf(w, "applied (audit record %d)\n", out.AuditSeq)
	}
	return nil
}

func (c *client) proxyStatus(ctx context.Context, w io.Writer) error {
	var out struct {
		Nodes []struct {
			ID        string                       `json:"id"`
			Role      string                       `json:"role"`
			Connected bool                         `json:"connected"`
			Published map[string]string            `json:"published"`
			Acked     map[string]string            `json:"acked"`
			Nacked    map[string]map[string]string `json:"nacked"`
		} `json:"nodes"`
	}
	if err := c.do(ctx, "GET", "/api/v1/admin/nodes", nil, &out); err != nil {
		return err
	}
	types := []string{"listeners", "routes", "clusters", "endpoints", "secrets"}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tROLE\tLDS\tRDS\tCDS\tEDS\tSDS")
	var nacks []string
	for _, n := range out.Nodes {
		row := []string{n.ID, n.Role}
		for _, t := range types {
			_, published := n.Published[t]
			switch {
			case !published:
				row = append(row, "-") // SDS from SPIRE, not from the control plane
			case !n.Connected:
				row = append(row, "NOT CONNECTED")
			case n.Nacked[t] != nil:
				row = append(row, "NACKED")
				nacks = append(nacks, fmt.Sprintf("%s %s: %s", n.ID, t, n.Nacked[t]["error"]))
			case n.Acked[t] == n.Published[t]:
				row = append(row, "SYNCED")
			default:
				row = append(row, "STALE")
			}
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range nacks {
		fmt.Fprintln(w, "NACK", n)
	}
	return nil
}

func auditFlags(fs *flag.FlagSet) runFunc {
	after := fs.Int64("after", 0, "show records after this sequence number")
	return func(ctx context.Context, e *env, _ []string) error { return e.c.audit(ctx, e.stdout, *after) }
}

// auditVerify verifies the hash chain, then the log against the last
// checkpoint seen.
func (c *client) auditVerify(ctx context.Context, w io.Writer, stateFile string) error {
	var v struct {
		OK       bool   `json:"ok"`
		Records  int64  `json:"records"`
		Head     string `json:"head"`
		BrokenAt int64  `json:"broken_at"`
		Reason   string `json:"reason"`
	}
	if err := c.do(ctx, "GET", "/api/v1/admin/audit/verify", nil, &v); err != nil {
		return err
	}
	if !v.OK {
		return fmt.Errorf("audit chain BROKEN at record %d: %s", v.BrokenAt, v.Reason)
	}
	fmt.Fprintf(w, "audit chain OK: %s, head %s\n", plural(v.Records, "record"), v.Head)
	return c.checkpoint(ctx, w, stateFile)
}

func (c *client) audit(ctx context.Context, w io.Writer, after int64) error {
	var out struct {
		Records []struct {
			Seq    int64           `json:"seq"`
			Time   time.Time       `json:"time"`
			Actor  string          `json:"actor"`
			Action string          `json:"action"`
			Target string          `json:"target"`
			Before json.RawMessage `json:"before"`
			After  json.RawMessage `json:"after"`
		} `json:"records"`
	}
	if err := c.do(ctx, "GET", fmt.Sprintf("/api/v1/admin/audit?after=%d&limit=1000", after), nil, &out); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tACTOR\tACTION\tTARGET\tBEFORE\tAFTER")
	for _, r := range out.Records {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Seq, r.Time.Format(time.RFC3339), r.Actor, r.Action, r.Target, compact(r.Before), compact(r.After))
	}
	return tw.Flush()
}

func validate(w io.Writer, file string) error {
	m, err := mesh.LoadFile(file)
	if err != nil {
		return err
	}
	if _, err := translate.Translate(m); err != nil {
		return err
	}
	fmt.Fprintf(w, "%s: valid: %s, %s, %s\n", file, plural(len(m.Models), "model"), plural(len(m.Services), "service"), plural(len(m.Nodes()), "sidecar node"))
	return nil
}

func bootstrap(w io.Writer, dataDir, file, nodeID string) error {
	m, err := mesh.LoadFile(file)
	if err != nil {
		return err
	}
	var creds translate.BootstrapCredentials
	if m.Identity.Provider == mesh.IdentityBuiltin && slices.ContainsFunc(m.Nodes(), func(n mesh.Node) bool { return n.ID == nodeID }) {
		if creds.Token, err = identity.ReadNodeCredential(dataDir, nodeID); err != nil {
			return err
		}
		if creds.BundleSDSFile, err = filepath.Abs(identity.BundleSDSPath(dataDir)); err != nil {
			return err
		}
	}
	bs, err := translate.Bootstrap(m, nodeID, creds)
	if err != nil {
		ids := []string{}
		for _, n := range m.Nodes() {
			ids = append(ids, n.ID)
		}
		slices.Sort(ids)
		return fmt.Errorf("%w (nodes in %s: %s)", err, filepath.Base(file), strings.Join(ids, ", "))
	}
	j, err := translate.ToJSON(bs)
	if err != nil {
		return err
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, j, "", "  "); err != nil {
		return err
	}
	pretty.WriteByte('\n')
	_, err = w.Write(pretty.Bytes())
	return err
}

func compact(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}
