// Command nexus-authz is Envoy's external authorization service for Nexus:
// OPA embedded as a library, policies from a directory, bundle or bundle
// server, decisions logged as a hash chain.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/secureai-nexus/nexus/authz/internal/decision"
	"github.com/secureai-nexus/nexus/authz/internal/decisionlog"
	"github.com/secureai-nexus/nexus/authz/internal/server"
	"github.com/secureai-nexus/nexus/telemetry"
)

type maskList []string

func (m *maskList) String() string     { return strings.Join(*m, ",") }
func (m *maskList) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "verify-log":
			os.Exit(verifyLog(os.Args[2:]))
		case "unseal-log":
			os.Exit(unsealLog(context.Background(), os.Args[2:], os.Stdout, os.Stderr))
		case "run":
			os.Exit(runOPA(os.Args[2:]))
		}
	}
	fs := flag.NewFlagSet("nexus-authz", flag.ExitOnError)
	var cfg server.Config
	fs.StringVar(&cfg.Policies, "policies", "policies", "policy directory, bundle .tar.gz, or bundle service URL")
	fs.StringVar(&cfg.BundleToken, "bundle-token", os.Getenv("NEXUS_BUNDLE_TOKEN"), "bearer token for a bundle URL ($NEXUS_BUNDLE_TOKEN)")
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:9191", "gRPC listen address (Envoy ext_authz): host:port, or unix:///path for a sidecar on the same host")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", "127.0.0.1:9192", "HTTP listen address for /health, /healthz, /readyz, /metrics and (on loopback) /v1/data (given only --addr: its next port, on its host if loopback, else 127.0.0.1)")
	fs.StringVar(&cfg.Query, "query", "data.envoy.authz.allow", "decision to evaluate (opa-envoy-plugin's path form envoy/authz/allow works too)")
	fs.BoolVar(&cfg.DryRun, "dry-run", false, "decide and log, but always allow")
	fs.BoolVar(&cfg.SkipRequestBodyParse, "skip-request-body-parse", false, "leave input.parsed_body out")
	fs.BoolVar(&cfg.EnableReflection, "enable-reflection", false, "register gRPC server reflection (for grpcurl and ghz)")
	fs.StringVar(&cfg.ProtoDescriptor, "proto-descriptor", "", "FileDescriptorSet for decoding gRPC request bodies into input.parsed_body")
	tuning := nexusFlags(fs, &cfg)
	_ = fs.Parse(os.Args[1:])
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "nexus-authz: unexpected argument %q (policy paths go to --policies, or use `nexus-authz run --server PATH…`)\n", fs.Arg(0))
		os.Exit(2)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["addr"] && !set["http-addr"] {
		// A second instance given only its own --addr must not collide
		// with the first on the default HTTP port.
		a, err := httpAddrBeside(cfg.Addr, cfg.HTTPAddr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "nexus-authz:", err)
			os.Exit(2)
		}
		cfg.HTTPAddr = a
	}
	tuning.apply(&cfg)
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	os.Exit(serve(log, cfg))
}

// serve runs the server until SIGINT or SIGTERM.
func serve(log *slog.Logger, cfg server.Config) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tel, err := telemetry.Setup(ctx, telemetry.Options{ServiceName: "nexus-authz"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "nexus-authz: telemetry:", err)
		return 1
	}
	defer func() {
		flush, done := context.WithTimeout(context.Background(), 5*time.Second)
		defer done()
		if err := tel.Shutdown(flush); err != nil {
			log.Warn("telemetry: not all spans and metrics were sent at shutdown", "error", err)
		}
	}()
	log.Info("telemetry", "traces", telemetry.Describe(nil))
	cfg.Telemetry = tel
	// The key that pseudonymizes end users on spans; unset, spans name none.
	if k := os.Getenv("NEXUS_TELEMETRY_SUBJECT_KEY"); k != "" {
		cfg.SubjectKey = []byte(k)
	}
	if err := server.Run(ctx, log, cfg, nil); err != nil {
		fmt.Fprintln(os.Stderr, "nexus-authz:", err)
		return 1
	}
	return 0
}

// tuning holds the flags applied after parsing.
type tuning struct {
	masks, allowIDs maskList
	noDefaultMasks  bool
	gcPercent       *int
	memLimit        *int64
}

func (t *tuning) apply(cfg *server.Config) {
	cfg.AllowedSPIFFEIDs = t.allowIDs
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(*t.gcPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" && *t.memLimit > 0 {
		debug.SetMemoryLimit(*t.memLimit << 20)
	}
	if !t.noDefaultMasks {
		cfg.Masks = decisionlog.DefaultMasks()
	}
	cfg.Masks = append(cfg.Masks, t.masks...)
}

// nexusFlags are the flags both command lines share: what Nexus adds to
// opa-envoy-plugin.
func nexusFlags(fs *flag.FlagSet, cfg *server.Config) *tuning {
	t := &tuning{}
	fs.BoolVar(&cfg.V0Compatible, "v0-compatible", false, "parse policies without a declared version as Rego v0 (OPA 0.x syntax)")
	fs.DurationVar(&cfg.DecisionTimeout, "decision-timeout", 100*time.Millisecond, "deadline for one decision; past it the request is denied")
	fs.IntVar(&cfg.MaxInputBytes, "max-input-bytes", 4<<20, "CheckRequests larger than this are denied")
	fs.IntVar(&cfg.DecisionCacheSize, "decision-cache-size", 10000, "decisions each policy set remembers, keyed by the input paths its policies read (0: off; sets that read the clock, randomness, the network or the whole input never cache)")
	fs.DurationVar(&cfg.ReloadInterval, "reload-interval", 5*time.Second, "how often policies are checked for changes")
	fs.StringVar(&cfg.DecisionLog, "decision-log", "stdout", `decision log: "stdout", "off", or a file (rotated)`)
	fs.Int64Var(&cfg.DecisionLogMaxBytes, "decision-log-max-bytes", 100<<20, "rotate the decision log file past this size")
	fs.IntVar(&cfg.DecisionLogBackups, "decision-log-backups", 5, "rotated decision log files kept")
	fs.Func("decision-log-format", `decision log lines: "nexus" (default) or "opa" (OPA's decision log schema, hash chain as extra fields)`, func(v string) error {
		f, err := decisionlog.ParseFormat(v)
		cfg.DecisionLogOPAFormat = f == decisionlog.FormatOPA
		return err
	})
	fs.Var(&t.masks, "mask", "JSON pointer under /input to mask in the decision log (repeatable; adds to the defaults)")
	fs.BoolVar(&t.noDefaultMasks, "no-default-masks", false, "do not mask the Authorization header, cookies and the body by default")
	fs.BoolVar(&cfg.PProf, "pprof", false, "serve Go's /debug/pprof on the HTTP address")
	t.gcPercent = fs.Int("gc-percent", 200, "Go GC target percent (GOGC, if set, wins): each decision allocates tens of KB on a small live heap, so Go's default 100 spends more CPU in GC; --memory-limit-mib bounds what this lets the heap grow to")
	t.memLimit = fs.Int64("memory-limit-mib", 0, "soft limit on the Go heap in MiB (GOMEMLIMIT, if set, wins): near it the collector runs more often whatever --gc-percent says; set it well above the steady heap, as a heap held at the limit spends most of the CPU collecting (0: none; --max-concurrent-streams is what bounds the heap under overload)")
	fs.IntVar(&cfg.MaxConcurrentStreams, "max-concurrent-streams", 32, "checks in flight per gRPC connection (HTTP/2 MAX_CONCURRENT_STREAMS); under overload more wait on the client's side instead of in the server's heap (0: unbounded)")
	fs.StringVar(&cfg.SPIFFESocket, "spiffe-socket", os.Getenv("SPIFFE_ENDPOINT_SOCKET"), "Workload API address (unix:///path) for the SVID; makes the gRPC listener mTLS ($SPIFFE_ENDPOINT_SOCKET)")
	fs.StringVar(&cfg.TrustDomain, "trust-domain", "", "with --spiffe-socket: accept any caller of this trust domain")
	fs.Var(&t.allowIDs, "allow-spiffe-id", "with --spiffe-socket: accept only this caller SPIFFE id (repeatable; wins over --trust-domain)")
	fs.StringVar(&cfg.BundleServerID, "bundle-server-id", "", "with --spiffe-socket: SPIFFE id the policy bundle server must present")
	fs.BoolVar(&cfg.StrictBuiltinErrors, "strict-builtin-errors", false, "a failing builtin (base64url.decode of a malformed token, to_number(\"abc\")) fails the decision closed instead of being undefined as in OPA")
	fs.StringVar(&cfg.ConsentBundle, "consent-bundle", "", "the control plane's consent bundle URL (…/api/v1/bundles/nexus-consent.tar.gz), long-polled and laid over the policies as data.nexus.consent and data.nexus.breakglass")
	fs.StringVar(&cfg.SealURL, "decision-log-seal", "", "control plane admin API (http://127.0.0.1:18080) whose keyring leases the data keys that keep the masked values, encrypted, in each decision-log line's sealed_input")
	fs.StringVar(&cfg.SealToken, "decision-log-seal-token", os.Getenv("NEXUS_KEY_LEASE_TOKEN"), "key-lease token for --decision-log-seal ($NEXUS_KEY_LEASE_TOKEN; the control plane's <data-dir>/key-lease.token)")
	fs.StringVar(&cfg.SealClass, "decision-log-seal-class", "logs", "retention class of the leased keys: sealed values are unreadable once it destroys their bucket's key")
	fs.StringVar(&cfg.ConsentToken, "consent-token", os.Getenv("NEXUS_CONSENT_TOKEN"), "bearer token for --consent-bundle ($NEXUS_CONSENT_TOKEN)")
	fs.DurationVar(&cfg.ConsentMaxStaleness, "consent-max-staleness", 5*time.Second, "drop the consent data (denying calls that need consent) when the consent bundle service has not answered for this long")
	fs.DurationVar(&cfg.ConsentLongPoll, "consent-long-poll", 2*time.Second, "how long the consent bundle service may hold a request (whole seconds, shorter than --consent-max-staleness)")
	fs.StringVar(&cfg.DecisionIDHeader, "decision-id-header", decision.HeaderDecisionID, "also send the decision id as this header (empty: only in the dynamic metadata as decision_id)")
	return t
}

// verifyLog checks decision log files, oldest first. A log rotated with
// --decision-log-backups is verified as FILE.N … FILE.1 FILE.
//
// --anchor HASH also requires a line with that hash: a decision-log head
// the control plane anchored into its audit log (nexusctl audit anchors),
// so the lines up to it are covered by the audit log's signed checkpoint.
func verifyLog(args []string) int {
	fs := flag.NewFlagSet("nexus-authz verify-log", flag.ContinueOnError)
	anchor := fs.String("anchor", "", "hash of an anchored decision-log head that must be in the chain")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: nexus-authz verify-log [--anchor HASH] FILE [FILE…] (oldest first)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	files := fs.Args()
	if len(files) == 0 {
		fs.Usage()
		return 2
	}
	v, err := decisionlog.VerifyAnchored(files, func(name string) (io.ReadCloser, error) {
		return os.Open(filepath.Clean(name))
	}, *anchor)
	if err != nil {
		fmt.Fprintln(os.Stderr, "decision log BROKEN:", err)
		return 1
	}
	note := ""
	if v.Continues {
		note = " (continues a chain from an earlier, rotated-away file)"
	}
	if v.AnchorLine > 0 {
		note += fmt.Sprintf("; anchored head at %s:%d", v.AnchorFile, v.AnchorLine)
	}
	fmt.Printf("decision log OK: %d lines, head %s%s\n", v.Lines, v.Head, note)
	return 0
}

// httpAddrBeside is the HTTP address that goes with a gRPC address given
// without one: the next port ("127.0.0.1:7000" → "127.0.0.1:7001"), port 0
// staying 0, on the same host when that is loopback and on 127.0.0.1
// otherwise — plain HTTP never leaves loopback unless --http-addr says so.
// A unix socket keeps the default.
func httpAddrBeside(grpcAddr, def string) (string, error) {
	if strings.HasPrefix(grpcAddr, "unix:") {
		return def, nil
	}
	host, port, err := net.SplitHostPort(grpcAddr)
	if err != nil {
		return "", fmt.Errorf("--addr %q: %w", grpcAddr, err)
	}
	p, err := net.LookupPort("tcp", port)
	if err != nil {
		return "", fmt.Errorf("--addr %q: port %q is not a port number or service name", grpcAddr, port)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		host = "127.0.0.1"
	}
	switch {
	case p == 0:
		return net.JoinHostPort(host, "0"), nil
	case p == 65535:
		return "", fmt.Errorf("--addr %q: no next port for the HTTP listener; give --http-addr", grpcAddr)
	}
	return net.JoinHostPort(host, strconv.Itoa(p+1)), nil
}
