// Package server runs nexus-authz: the Envoy Authorization gRPC service with
// gRPC health, and an HTTP listener for /healthz, /readyz and /metrics.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/open-policy-agent/opa/v1/ast"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"

	"github.com/secureai-nexus/nexus/authz/internal/auditfeed"
	"github.com/secureai-nexus/nexus/authz/internal/bundles"
	"github.com/secureai-nexus/nexus/authz/internal/consentfeed"
	"github.com/secureai-nexus/nexus/authz/internal/decision"
	"github.com/secureai-nexus/nexus/authz/internal/decisionlog"
	"github.com/secureai-nexus/nexus/authz/internal/identity"
	"github.com/secureai-nexus/nexus/authz/internal/input"
	"github.com/secureai-nexus/nexus/authz/internal/metrics"
	"github.com/secureai-nexus/nexus/authz/internal/opaconfig"
	"github.com/secureai-nexus/nexus/authz/internal/policy"
	"github.com/secureai-nexus/nexus/authz/internal/sealer"
	"github.com/secureai-nexus/nexus/telemetry"
)

// Config is nexus-authz's command line.
type Config struct {
	Policies    string
	BundleToken string
	Addr        string
	HTTPAddr    string
	Query       string
	DryRun      bool
	// SkipRequestBodyParse leaves input.parsed_body null.
	SkipRequestBodyParse bool
	V0Compatible         bool
	DecisionTimeout      time.Duration
	MaxInputBytes        int
	ReloadInterval       time.Duration
	// DecisionCacheSize bounds the decisions each policy set remembers
	// (keyed by the input paths its policies read); 0 turns caching off.
	DecisionCacheSize int
	// DecisionLog is "stdout", "off", or a file path (rotated).
	DecisionLog         string
	DecisionLogMaxBytes int64
	DecisionLogBackups  int
	Masks               []string
	// EnableReflection registers gRPC server reflection (for grpcurl, ghz).
	EnableReflection bool
	// PProf serves Go's /debug/pprof on the HTTP address.
	PProf bool
	// SPIFFESocket, when set, makes the gRPC listener mTLS with the SVID
	// from this Workload API address; required off loopback.
	SPIFFESocket string
	// TrustDomain / AllowedSPIFFEIDs say which callers mTLS accepts.
	TrustDomain      string
	AllowedSPIFFEIDs []string
	// BundleServerID is the SPIFFE id a bundle URL's server must present.
	BundleServerID string
	// StrictBuiltinErrors makes a failing builtin fail the decision
	// closed; off, as in OPA, the expression is undefined.
	StrictBuiltinErrors bool
	// ProtoDescriptor is a FileDescriptorSet for decoding gRPC request
	// bodies (opa-envoy-plugin's proto-descriptor).
	ProtoDescriptor string
	// DecisionIDHeader, when not empty, sends the decision id as this
	// header too; it is always in the dynamic metadata as decision_id.
	DecisionIDHeader string

	// PolicyPaths, when set, are the policy directories and bundle files
	// of `run --server PATH…`, served as one set (Policies is then unused).
	PolicyPaths []string
	// PolicyPathsAsBundles reads each policy path as a bundle (`run
	// --bundle`); otherwise they are loaded as `opa run` loads plain paths,
	// skipping names that match Ignore.
	PolicyPathsAsBundles bool
	Ignore               []string
	// DiagnosticAddr, when set, serves /health, /healthz, /readyz and
	// /metrics on a second address, as OPA's --diagnostic-addr.
	DiagnosticAddr string
	// GRPCMaxRecvMsgSize and GRPCMaxSendMsgSize bound gRPC messages (0:
	// from MaxInputBytes, and gRPC's default).
	GRPCMaxRecvMsgSize int
	GRPCMaxSendMsgSize int
	// PerformanceMetricsBuckets, when set, adds opa-envoy-plugin's
	// grpc_request_duration_seconds histogram with these buckets and its
	// error_counter (enable-performance-metrics).
	PerformanceMetricsBuckets []float64
	// Labels go into every OPA-format decision log event and status report.
	Labels map[string]string
	// MaxConcurrentStreams bounds the checks in flight on one connection
	// (0: gRPC's default, unbounded). Past it a client's requests wait on
	// its side of the connection instead of piling up, each holding a
	// half-done evaluation, in the server's heap.
	MaxConcurrentStreams int
	// MaskDecision is the decision log mask rule (default system/log/mask),
	// applied when the policy set defines it.
	MaskDecision string
	// DecisionLogOPAFormat writes decision log lines in OPA's decision log
	// schema (with the hash chain as extra fields).
	DecisionLogOPAFormat bool
	// OPA is the opa-envoy-plugin config file `run` read: its bundles,
	// decision log service and status service are started by Run.
	OPA *opaconfig.Config
	// Telemetry receives the Check spans and serves /metrics (nil: traces
	// off, /metrics from a telemetry set up with nothing exported).
	Telemetry *telemetry.Telemetry
	// SealURL, when set, keeps the values the decision log's masks hide,
	// encrypted under data keys leased from this control plane (SealToken,
	// its key-lease token; SealClass, the retention class, default logs).
	SealURL, SealToken, SealClass string
	// SubjectKey keys the pseudonymous end-user id on Check spans and in
	// the input (nexus.subject), which consent data is keyed by.
	SubjectKey []byte
	// ConsentBundle, when set, is the control plane's consent bundle URL:
	// long-polled with ConsentToken and laid over the policies as
	// data.nexus.consent and data.nexus.breakglass, dropped when the
	// service has not answered within ConsentMaxStaleness.
	ConsentBundle       string
	ConsentToken        string
	ConsentMaxStaleness time.Duration
	ConsentLongPoll     time.Duration
}

// Ready reports the bound addresses.
type Ready struct{ Addr, HTTPAddr string }

// authzService is the envoy.service.auth.v3.Authorization server.
type authzService struct {
	authv3.UnimplementedAuthorizationServer
	engine *decision.Engine
	prop   propagation.TextMapPropagator
}

func (s *authzService) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	return s.engine.Check(parentContext(ctx, s.prop, req), req)
}

// parentContext puts the Check's parent span in ctx: the trace context
// Envoy sends on the ext_authz call's own gRPC metadata, else the one in
// the checked request's headers (what the caller's sidecar sent).
func parentContext(ctx context.Context, prop propagation.TextMapPropagator, req *authv3.CheckRequest) context.Context {
	if prop == nil {
		return ctx
	}
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if pctx := prop.Extract(ctx, metadataCarrier(md)); trace.SpanContextFromContext(pctx).IsValid() {
			return pctx
		}
	}
	if h := req.GetAttributes().GetRequest().GetHttp().GetHeaders(); len(h) > 0 {
		return prop.Extract(ctx, propagation.MapCarrier(h))
	}
	return ctx
}

// metadataCarrier reads gRPC metadata as a propagation carrier.
type metadataCarrier metadata.MD

func (c metadataCarrier) Get(key string) string {
	if v := metadata.MD(c).Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

func (c metadataCarrier) Set(key, value string) { metadata.MD(c).Set(key, value) }

func (c metadataCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// Run serves until ctx ends.
func Run(ctx context.Context, log *slog.Logger, cfg Config, ready chan<- Ready) error {
	if _, err := policy.NormalizeQuery(cfg.Query); err != nil {
		return err
	}
	if cfg.DecisionTimeout <= 0 {
		return errors.New("--decision-timeout must be positive")
	}
	masker, err := decisionlog.NewMasker(cfg.Masks)
	if err != nil {
		return err
	}
	regoVersion := ast.RegoV1
	if cfg.V0Compatible {
		regoVersion = ast.RegoV0
	}
	var (
		grpcOpts     []grpc.ServerOption
		bundleClient *http.Client
	)
	if cfg.SPIFFESocket != "" {
		id, err := identity.Open(ctx, log.With("component", "identity"), identity.Config{
			Socket: cfg.SPIFFESocket, TrustDomain: cfg.TrustDomain, AllowedIDs: cfg.AllowedSPIFFEIDs,
		})
		if err != nil {
			return err
		}
		defer id.Close()
		grpcOpts = append(grpcOpts, grpc.Creds(id.ServerCreds()))
		if cfg.BundleServerID != "" {
			if bundleClient, err = id.BundleClient(cfg.BundleServerID); err != nil {
				return err
			}
		}
	} else if !isLoopback(cfg.Addr) {
		return fmt.Errorf("--addr %s is not loopback: serving ext_authz off loopback needs mTLS (--spiffe-socket)", cfg.Addr)
	}
	inputOpts := input.Options{SkipRequestBodyParse: cfg.SkipRequestBodyParse, SubjectKey: cfg.SubjectKey}
	if cfg.ProtoDescriptor != "" {
		if inputOpts.ProtoSet, err = input.LoadProtoSet(cfg.ProtoDescriptor); err != nil {
			return err
		}
	}
	var src policy.Source
	var bundleSrc *bundles.Source
	if cfg.OPA != nil && len(cfg.OPA.Bundles) > 0 {
		bundleSrc, err = bundles.New(cfg.OPA, bundles.Options{Logger: log.With("component", "bundles"), RegoVersion: regoVersion})
		src = bundleSrc
	} else if len(cfg.PolicyPaths) > 0 && cfg.PolicyPathsAsBundles {
		src, err = policy.NewMultiSource(cfg.PolicyPaths, regoVersion)
	} else if len(cfg.PolicyPaths) > 0 {
		src, err = policy.NewLoaderSource(cfg.PolicyPaths, cfg.Ignore, regoVersion)
	} else {
		src, err = policy.NewSource(cfg.Policies, regoVersion, cfg.BundleToken, bundleClient)
	}
	if err != nil {
		return err
	}
	var feed *consentfeed.Feed
	var liveData []string
	if cfg.ConsentBundle != "" {
		liveData = []string{consentfeed.RootConsent, consentfeed.RootBreakGlass}
		if len(cfg.SubjectKey) == 0 {
			log.Warn("--consent-bundle without a subject key (NEXUS_TELEMETRY_SUBJECT_KEY): no call carries nexus.subject, so every call that needs consent is denied")
		}
		if feed, err = consentfeed.New(src, consentfeed.Options{
			URL: cfg.ConsentBundle, Token: cfg.ConsentToken, MaxStaleness: cfg.ConsentMaxStaleness, LongPoll: cfg.ConsentLongPoll,
			// With --spiffe-socket and --bundle-server-id the bundle comes
			// over mTLS from that SPIFFE id only.
			HTTPClient:  bundleClient,
			RegoVersion: regoVersion, Logger: log.With("component", "consent"),
		}); err != nil {
			return err
		}
		src = feed
	}
	m := metrics.New()
	if feed != nil {
		m.ConsentFresh(feed.Serving)
	}
	if cfg.PerformanceMetricsBuckets != nil {
		m.EnablePerformanceMetrics(cfg.PerformanceMetricsBuckets)
	}
	tel := cfg.Telemetry
	if tel == nil {
		if tel, err = telemetry.Setup(ctx, telemetry.Options{ServiceName: "nexus-authz", Getenv: func(string) string { return "" }}); err != nil {
			return err
		}
		defer tel.Shutdown(context.Background())
	}
	tel.AddGatherer(m.Registry)
	sink, prev, closeSink, err := openSink(cfg)
	if err != nil {
		return err
	}
	defer closeSink()
	up, err := startDecisionUpload(ctx, log, cfg.OPA)
	if err != nil {
		return err
	}
	if up != nil {
		// Runs after dlog.Close (deferred later), so its last lines go out.
		defer func() {
			flush, done := context.WithTimeout(context.Background(), 10*time.Second)
			defer done()
			if err := up.Close(flush); err != nil {
				log.Error("decision log upload: events not sent at shutdown", "error", err)
			}
		}()
	}
	var logOpts []decisionlog.Option
	if cfg.DecisionLogOPAFormat {
		logOpts = append(logOpts, decisionlog.WithFormat(decisionlog.FormatOPA))
	}
	if up != nil {
		logOpts = append(logOpts, decisionlog.WithFormat(decisionlog.FormatOPA), decisionlog.WithTee(up.Log))
	}
	var leaser *sealer.Leaser
	if cfg.SealURL != "" {
		if cfg.DecisionLogOPAFormat || up != nil {
			return errors.New("sealing masked decision-log values needs Nexus's own log format (not the OPA format or a decision log service)")
		}
		leaser = &sealer.Leaser{URL: cfg.SealURL, Token: cfg.SealToken, Class: cfg.SealClass, Log: log.With("component", "sealer"),
			Client: &http.Client{Timeout: 10 * time.Second}}
		go leaser.Run(ctx)
		logOpts = append(logOpts, decisionlog.WithSealer(leaser))
	}
	dlog := decisionlog.New(sink, prev, 16384, m, logOpts...)
	defer dlog.Close()

	mgr := policy.NewManager(src, policy.Options{
		Query: cfg.Query, RegoVersion: regoVersion, DecisionCacheSize: cfg.DecisionCacheSize, StrictBuiltinErrors: cfg.StrictBuiltinErrors,
		MaskDecision: cfg.MaskDecision,
		LiveData:     liveData,
		Runtime:      runtimeTerm(cfg),
		Print: func(location, msg string) {
			// Debug, not info: a policy's print can quote a request.
			log.Debug("print", "location", location, "message", msg)
		},
	}, log.With("component", "policy"))
	hs := health.NewServer()
	setHealth := func() {
		st := healthpb.HealthCheckResponse_NOT_SERVING
		if mgr.Current() != nil {
			st = healthpb.HealthCheckResponse_SERVING
		}
		hs.SetServingStatus("", st)
		hs.SetServingStatus(authv3.Authorization_ServiceDesc.ServiceName, st)
	}
	var status *statusReporter
	var head func() decisionlog.Head
	if cfg.DecisionLog != "off" {
		head = dlog.Head
	}
	auditFeed := auditfeed.New(head, 1024, nil)
	callers, started := &auditfeed.Callers{}, time.Now()
	auditFeed.SetLogConfig(logConfig(cfg, up != nil))
	feedPolicy := auditFeed.PolicyLoaded(src.String())
	mgr.OnLoad = func(ok bool, rev string, loadErr error) {
		feedPolicy(ok, rev, loadErr)
		m.PolicyLoad(ok, rev)
		setHealth()
		status.Changed()
		if bundleSrc != nil {
			var err error
			if !ok {
				err = errors.New("policy set refused (see /readyz)")
			}
			bundleSrc.ReportActivation(err)
		}
	}
	// A first load that fails still starts the service: it denies
	// everything (fail closed) and /readyz says why until a good set lands.
	_ = mgr.Reload(ctx)
	setHealth()

	engine := &decision.Engine{
		Policies:      mgr,
		Log:           dlog,
		Masker:        masker,
		Metrics:       m,
		Timeout:       cfg.DecisionTimeout,
		MaxInputBytes: cfg.MaxInputBytes,
		DryRun:        cfg.DryRun,
		Input:         inputOpts,
		Now:           time.Now,

		DecisionIDHeader: cfg.DecisionIDHeader,
		Labels:           instanceLabels(cfg.Labels),
		Tracer:           tel.TracerProvider.Tracer("github.com/secureai-nexus/nexus/authz"),
		SubjectKey:       cfg.SubjectKey,
		Callers:          callers,
		KeepMasked:       leaser != nil,
	}

	if cfg.MaxConcurrentStreams > 0 {
		grpcOpts = append(grpcOpts, grpc.MaxConcurrentStreams(uint32(cfg.MaxConcurrentStreams)))
	}
	if cfg.GRPCMaxSendMsgSize > 0 {
		grpcOpts = append(grpcOpts, grpc.MaxSendMsgSize(cfg.GRPCMaxSendMsgSize))
	}
	gs := grpc.NewServer(append(grpcOpts,
		grpc.MaxRecvMsgSize(recvLimit(cfg)),
		// Policy evaluation recurses deeply; on a fresh goroutine per
		// request the stack is grown by copying every time (a sixth of
		// the CPU under load). Long-lived workers keep their grown stacks.
		grpc.NumStreamWorkers(uint32(4*runtime.GOMAXPROCS(0))),
	)...)
	authv3.RegisterAuthorizationServer(gs, &authzService{engine: engine, prop: tel.Propagator})
	healthpb.RegisterHealthServer(gs, hs)
	if cfg.EnableReflection {
		reflection.Register(gs)
	}

	var hsrc healthSource = managerHealth{mgr: mgr}
	if bundleSrc != nil {
		hsrc = bundleHealth{mgr: mgr, src: bundleSrc}
	}
	if status, err = newStatusReporter(log.With("component", "status"), cfg.OPA, engine.Labels, hsrc, bundleSrc); err != nil {
		return err
	}

	network, address := listenAddr(cfg.Addr)
	if network == "unix" {
		// A socket left by a process that died is in the way; anything
		// else at the path is not ours to remove.
		if st, err := os.Lstat(address); err == nil && st.Mode()&os.ModeSocket != 0 {
			_ = os.Remove(address)
		}
	}
	glis, err := net.Listen(network, address)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	hlis, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		glis.Close()
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		st := mgr.Status()
		code := 200
		if !st.Ready {
			code = 503
		}
		writeJSON(w, code, st)
	})
	mux.Handle("GET /metrics", tel.MetricsHandler())
	if bundleSrc != nil {
		mux.HandleFunc("GET /v1/status/bundles", func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, 200, map[string]any{"result": bundleSrc.Status()})
		})
	}
	mux.HandleFunc("GET /health", handleHealth(hsrc))
	// The control plane anchors the decision log's head and records policy
	// activations from here; the page holds no personal data.
	mux.Handle("GET /v1/nexus/audit-feed", auditFeed.Handler())
	mux.Handle("GET /v1/nexus/access", callers.Handler(started))
	data := &dataAPI{
		current: mgr.Current, maxBytes: int64(max(cfg.MaxInputBytes, 1<<20)), timeout: max(cfg.DecisionTimeout, time.Second),
		loopback: isLoopback(cfg.HTTPAddr), newID: decision.NewID,
	}
	mux.Handle("/v1/data", data)
	mux.Handle("/v1/data/", data)
	if cfg.PProf {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	httpSrv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	var diagSrv *http.Server
	if cfg.DiagnosticAddr != "" {
		dlis, err := net.Listen("tcp", cfg.DiagnosticAddr)
		if err != nil {
			glis.Close()
			hlis.Close()
			return fmt.Errorf("listen on %s: %w", cfg.DiagnosticAddr, err)
		}
		diag := http.NewServeMux()
		for _, p := range []string{"GET /health", "GET /healthz", "GET /readyz", "GET /metrics"} {
			h, _ := mux.Handler(&http.Request{Method: "GET", URL: &url.URL{Path: strings.TrimPrefix(p, "GET ")}})
			diag.Handle(p, h)
		}
		diagSrv = &http.Server{Handler: diag, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = diagSrv.Serve(dlis) }()
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	interval := cfg.ReloadInterval
	if interval <= 0 {
		interval = 5 * time.Second
	}
	go mgr.Watch(ctx, interval)
	if status != nil {
		go status.Run(ctx)
	}
	if bundleSrc != nil {
		bundleSrc.Start(ctx)
		defer func() {
			cancel() // ends the downloads, so Stop need not wait them out
			stop, done := context.WithTimeout(context.Background(), 5*time.Second)
			defer done()
			_ = bundleSrc.Stop(stop)
		}()
		// A new download is activated at once, not at the next poll.
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-bundleSrc.Changes():
					_ = mgr.Reload(ctx)
					status.Changed()
				}
			}
		}()
	}
	if feed != nil {
		feed.Start(ctx)
		defer func() {
			cancel()
			stop, done := context.WithTimeout(context.Background(), 5*time.Second)
			defer done()
			feed.Stop(stop)
		}()
		// A revocation is served as soon as it arrives, and stale consent
		// data is dropped as soon as it goes stale.
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-feed.Changes():
					_ = mgr.Reload(ctx)
					status.Changed()
				}
			}
		}()
	}
	errc := make(chan error, 2)
	go func() { errc <- gs.Serve(glis) }()
	go func() {
		if err := httpSrv.Serve(hlis); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	grpcAddr := glis.Addr().String()
	if network == "unix" {
		grpcAddr = "unix://" + address
	}
	log.Info("nexus-authz serving", "grpc", grpcAddr, "http", hlis.Addr().String(),
		"policies", cfg.Policies, "query", cfg.Query, "dry_run", cfg.DryRun, "ready", mgr.Status().Ready)
	if ready != nil {
		ready <- Ready{Addr: grpcAddr, HTTPAddr: hlis.Addr().String()}
	}
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	hs.Shutdown()
	stopped := make(chan struct{})
	go func() { gs.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		gs.Stop()
	}
	shutdown, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	_ = httpSrv.Shutdown(shutdown)
	if diagSrv != nil {
		_ = diagSrv.Shutdown(shutdown)
	}
	return runErr
}

// recvLimit is the largest CheckRequest gRPC accepts: the configured
// limit, else twice the input limit (a body arrives both as text and
// parsed), and never below gRPC's 4 MiB default.
func recvLimit(cfg Config) int {
	if cfg.GRPCMaxRecvMsgSize > 0 {
		return cfg.GRPCMaxRecvMsgSize
	}
	return max(cfg.MaxInputBytes*2, 4<<20)
}

// openSink opens the decision log's destination and, for a file, the
// chain head to continue from.
func openSink(cfg Config) (io.Writer, string, func(), error) {
	switch cfg.DecisionLog {
	case "", "stdout":
		return os.Stdout, "", func() {}, nil
	case "off":
		return io.Discard, "", func() {}, nil
	}
	prev := ""
	if f, err := os.Open(cfg.DecisionLog); err == nil {
		prev, err = decisionlog.LastHash(f)
		f.Close()
		if err != nil {
			return nil, "", nil, fmt.Errorf("read decision log %s: %w", cfg.DecisionLog, err)
		}
	}
	rf, err := decisionlog.OpenRotating(cfg.DecisionLog, cfg.DecisionLogMaxBytes, cfg.DecisionLogBackups)
	if err != nil {
		return nil, "", nil, err
	}
	return rf, prev, func() { rf.Close() }, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// listenAddr splits --addr: unix:///path (or unix:path) is a Unix socket,
// which a sidecar on the same host reaches without the kernel's TCP stack;
// anything else is a TCP host:port.
func listenAddr(addr string) (network, address string) {
	if rest, ok := strings.CutPrefix(addr, "unix://"); ok {
		return "unix", rest
	}
	if rest, ok := strings.CutPrefix(addr, "unix:"); ok {
		return "unix", rest
	}
	return "tcp", addr
}

// isLoopback says whether addr cannot be reached from another host: a
// loopback TCP address or a Unix socket.
func isLoopback(addr string) bool {
	if network, _ := listenAddr(addr); network == "unix" {
		return true
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// logConfig is how the decision log is kept, as the audit feed reports it.
func logConfig(cfg Config, upload bool) auditfeed.LogConfig {
	c := auditfeed.LogConfig{Destination: "file", Format: "nexus", Masks: cfg.Masks, Upload: upload, SealedMasked: cfg.SealURL != ""}
	switch cfg.DecisionLog {
	case "", "stdout":
		c.Destination = "stdout"
	case "off":
		c.Destination = "off"
	}
	if cfg.DecisionLogOPAFormat || upload {
		c.Format = "opa"
	}
	if c.Masks == nil {
		c.Masks = []string{}
	}
	return c
}
