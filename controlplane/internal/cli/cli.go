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

const usage = `nexusctl — operate a SecureAI Nexus control plane

Usage:
  nexusctl [flags] models                      list models, versions and weights
  nexusctl [flags] traffic MODEL V=W [V=W…]    set a model's split, e.g. traffic triage v1=90 v2=10
  nexusctl [flags] proxy-status                every sidecar and whether it is in sync
  nexusctl [flags] rollout start MODEL VERSION [--steps 5,15,…,100] [--interval 30m] [--rollback gradual]
                                               roll a version out step by step, gated on its metrics
  nexusctl [flags] rollout status|watch MODEL  the rollout's phase, weight, gates and history
  nexusctl [flags] rollout abort|promote|pause|resume MODEL
  nexusctl [flags] audit [--after N]           read the audit log
  nexusctl [flags] audit verify                verify the audit hash chain
  nexusctl [flags] access-review [-o json]     every principal that can change anything or call a model, with last use
  nexusctl validate MESH_FILE                  check a mesh file, listing every problem
  nexusctl model sign MODEL_DIR --key KEY.pem  sign a model directory (OpenSSF Model Signing, key method)
  nexusctl bootstrap MESH_FILE NODE_ID         print a node's Envoy bootstrap (JSON)
  nexusctl [flags] token create SPIFFE_ID [--ttl 10m]
                                               mint a single-use join token bound to one SPIFFE id
  nexusctl [flags] token revoke TOKEN          revoke an unused join token
  nexusctl [flags] compliance report --framework hipaa|gdpr|soc2|iso27001 [--format oscal|md|html] [-o FILE]
                                               evaluate the compliance checks from live evidence
  nexusctl [flags] ca rotate-root              add a new root to the bundle; it signs after one SVID lifetime
  nexusctl agent --join-token-file F --socket S [--server 127.0.0.1:18000] [--bundle .data/controlplane/bundle.pem]
                                               exchange the join token for an SVID and serve it on a
                                               SPIFFE Workload API socket, renewing at half life

Flags:
`

// Run executes nexusctl with args and returns the exit code.
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
	fs.SetOutput(stderr)
	server := fs.String("server", envOr("NEXUS_ADMIN_URL", "http://127.0.0.1:18080"), "admin API base URL ($NEXUS_ADMIN_URL)")
	dataDir := fs.String("data-dir", envOr("NEXUS_DATA_DIR", ".data/controlplane"), "control plane data dir, for bootstrap's node credential and bundle ($NEXUS_DATA_DIR)")
	tokenFile := fs.String("token-file", envOr("NEXUS_TOKEN_FILE", ".data/controlplane/admin.token"), "file holding the bearer token ($NEXUS_TOKEN_FILE); $NEXUS_TOKEN wins if set")
	spiffeSocket := fs.String("spiffe-socket", "", "authenticate to an --admin-mtls-addr listener with the SVID from this Workload API (unix:///path) instead of a token")
	cpID := fs.String("controlplane-id", "spiffe://nexus.local/nexus/controlplane", "with --spiffe-socket: the SPIFFE id the control plane must present")
	printUsage := func(w io.Writer) {
		fs.SetOutput(w)
		fmt.Fprint(w, usage)
		fs.PrintDefaults()
		fs.SetOutput(stderr)
	}
	// A flag error is printed once by the flag package, then the usage;
	// help asked for goes to stdout and is no error.
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stdout)
			return 0
		}
		printUsage(stderr)
		return 2
	}
	rest := fs.Args()
	if len(rest) == 0 {
		printUsage(stderr)
		return 2
	}
	if rest[0] == "help" || slices.ContainsFunc(rest[1:], func(a string) bool { return a == "-h" || a == "-help" || a == "--help" }) {
		printUsage(stdout)
		return 0
	}
	c := &client{base: strings.TrimRight(*server, "/"), tokenFile: *tokenFile, http: &http.Client{Timeout: 30 * time.Second},
		tracer: tp.Tracer("github.com/secureai-nexus/nexus/controlplane/nexusctl"), prop: prop}
	if *spiffeSocket != "" {
		closeSource, err := c.useSVID(ctx, *spiffeSocket, *cpID)
		if err != nil {
			fmt.Fprintln(stderr, "nexusctl:", err)
			return 1
		}
		defer closeSource()
	}
	var err error
	switch rest[0] {
	case "models", "proxy-status":
		if len(rest) > 1 {
			err = fmt.Errorf("%s takes no arguments, got %q (see nexusctl help)", rest[0], strings.Join(rest[1:], " "))
		} else if rest[0] == "models" {
			err = c.models(ctx, stdout)
		} else {
			err = c.proxyStatus(ctx, stdout)
		}
	case "traffic":
		err = c.traffic(ctx, stdout, rest[1:])
	case "audit":
		err = c.audit(ctx, stdout, rest[1:])
	case "access-review":
		err = c.accessReview(ctx, stdout, rest[1:])
	case "rollout":
		err = c.rollout(ctx, stdout, rest[1:])
	case "validate":
		err = validate(stdout, rest[1:])
	case "model":
		err = model(stdout, rest[1:])
	case "bootstrap":
		err = bootstrap(stdout, *dataDir, rest[1:])
	case "token":
		err = c.joinToken(ctx, stdout, rest[1:])
	case "ca":
		err = c.ca(ctx, stdout, rest[1:])
	case "compliance":
		err = c.compliance(ctx, stdout, rest[1:])
	case "agent":
		err = runAgent(ctx, stderr, rest[1:])
	default:
		err = fmt.Errorf("unknown command %q (see nexusctl help)", rest[0])
	}
	if err != nil {
		fmt.Fprintln(stderr, "nexusctl:", err)
		return 1
	}
	return 0
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
	if len(args) < 2 {
		return errors.New("usage: nexusctl traffic MODEL VERSION=WEIGHT [VERSION=WEIGHT…]")
	}
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

func (c *client) audit(ctx context.Context, w io.Writer, args []string) error {
	if len(args) > 0 && args[0] == "verify" {
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
		return c.checkpoint(ctx, w, args[1:])
	}
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	after := fs.Int64("after", 0, "show records after this sequence number")
	if err := fs.Parse(args); err != nil {
		return err
	}
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
	if err := c.do(ctx, "GET", fmt.Sprintf("/api/v1/admin/audit?after=%d&limit=1000", *after), nil, &out); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tACTOR\tACTION\tTARGET\tBEFORE\tAFTER")
	for _, r := range out.Records {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Seq, r.Time.Format(time.RFC3339), r.Actor, r.Action, r.Target, compact(r.Before), compact(r.After))
	}
	return tw.Flush()
}

func validate(w io.Writer, args []string) error {
	if len(args) != 1 {
		return errors.New("usage: nexusctl validate MESH_FILE")
	}
	m, err := mesh.LoadFile(args[0])
	if err != nil {
		return err
	}
	if _, err := translate.Translate(m); err != nil {
		return err
	}
	fmt.Fprintf(w, "%s: valid: %s, %s, %s\n", args[0], plural(len(m.Models), "model"), plural(len(m.Services), "service"), plural(len(m.Nodes()), "sidecar node"))
	return nil
}

func bootstrap(w io.Writer, dataDir string, args []string) error {
	if len(args) != 2 {
		return errors.New("usage: nexusctl bootstrap MESH_FILE NODE_ID")
	}
	m, err := mesh.LoadFile(args[0])
	if err != nil {
		return err
	}
	var creds translate.BootstrapCredentials
	if m.Identity.Provider == mesh.IdentityBuiltin && slices.ContainsFunc(m.Nodes(), func(n mesh.Node) bool { return n.ID == args[1] }) {
		if creds.Token, err = identity.ReadNodeCredential(dataDir, args[1]); err != nil {
			return err
		}
		if creds.BundleSDSFile, err = filepath.Abs(identity.BundleSDSPath(dataDir)); err != nil {
			return err
		}
	}
	bs, err := translate.Bootstrap(m, args[1], creds)
	if err != nil {
		ids := []string{}
		for _, n := range m.Nodes() {
			ids = append(ids, n.ID)
		}
		slices.Sort(ids)
		return fmt.Errorf("%w (nodes in %s: %s)", err, filepath.Base(args[0]), strings.Join(ids, ", "))
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
