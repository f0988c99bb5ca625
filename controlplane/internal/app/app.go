// Package app wires the control plane's parts together: mesh file, store,
// xDS server, controller and admin API.
package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"time"

	metricsv3 "github.com/envoyproxy/go-control-plane/envoy/service/metrics/v3"
	"google.golang.org/grpc"

	"github.com/secureai-nexus/nexus/controlplane/internal/accessreview"
	"github.com/secureai-nexus/nexus/controlplane/internal/admin"
	"github.com/secureai-nexus/nexus/controlplane/internal/anchor"
	"github.com/secureai-nexus/nexus/controlplane/internal/audit"
	"github.com/secureai-nexus/nexus/controlplane/internal/consent"
	"github.com/secureai-nexus/nexus/controlplane/internal/controller"
	"github.com/secureai-nexus/nexus/controlplane/internal/identity"
	"github.com/secureai-nexus/nexus/controlplane/internal/mesh"
	"github.com/secureai-nexus/nexus/controlplane/internal/metricsource"
	"github.com/secureai-nexus/nexus/controlplane/internal/registry"
	"github.com/secureai-nexus/nexus/controlplane/internal/registry/oms"
	"github.com/secureai-nexus/nexus/controlplane/internal/rollout"
	"github.com/secureai-nexus/nexus/controlplane/internal/rollout/runner"
	"github.com/secureai-nexus/nexus/controlplane/internal/store"
	"github.com/secureai-nexus/nexus/controlplane/internal/translate"
	"github.com/secureai-nexus/nexus/controlplane/internal/xds"
	"github.com/secureai-nexus/nexus/telemetry"
)

// Config is the control plane's command line.
type Config struct {
	MeshFile  string
	DataDir   string
	XDSAddr   string
	AdminAddr string
	// OIDCIssuer enables OIDC bearer tokens for the admin API; without it
	// the API serves loopback only, with the token in <data-dir>/admin.token.
	OIDCIssuer   string
	OIDCAudience string
	// AdminTLSCert/Key serve the admin API over HTTPS (required off loopback).
	AdminTLSCert string
	AdminTLSKey  string
	// ReloadInterval is how often the mesh file is checked for changes;
	// default 2s.
	ReloadInterval time.Duration
	// SVIDTTL is the lifetime of SVIDs the built-in CA issues; default 1h.
	SVIDTTL time.Duration
	// CAKEKFile holds the key that seals the CA at rest; default
	// <data-dir>/ca.kek (created 0600 on first start).
	CAKEKFile string
	// CAKEKVault, "MOUNT/PATH[#FIELD]", keeps the key-encryption key in
	// Vault KV v2 instead (VAULT_ADDR, VAULT_TOKEN, VAULT_CACERT).
	CAKEKVault string
	// AdminMTLSAddr serves the admin API a second time over mTLS with the
	// control plane's SVID, to the SPIFFE ids in AdminSPIFFEIDs only (for
	// automation; people use OIDC). Off loopback is fine: it is mTLS.
	AdminMTLSAddr  string
	AdminSPIFFEIDs []string
	// Telemetry traces admin changes and xDS pushes and serves /metrics
	// on the admin API (nil: nothing exported, /metrics still served).
	Telemetry *telemetry.Telemetry
	// PrometheusURL is the query API rollouts read their gates from;
	// without it every gate is inconclusive and rollouts hold.
	PrometheusURL string
	// RolloutTick is how often due rollout evaluations are looked for
	// (default 1s).
	RolloutTick time.Duration
	// AuthzAuditFeeds are nexus-authz HTTP addresses whose policy events
	// and decision-log heads are pulled into the audit log every
	// AnchorInterval (default 1m).
	AuthzAuditFeeds []string
	AnchorInterval  time.Duration
	// Validation tunes the registry's behavioural checks.
	Validation registry.ValidationOptions
	// ModelSigning says whom model signatures must come from: a public
	// key, CA certificates or a Sigstore trusted root (files), and for a
	// certificate the identity it must name. Empty: signatures are
	// checked only if a version has one, and then fail.
	ModelSigning ModelSigning
	// Consent, when set, serves consent records, data-subject rights and
	// break-glass grants on the admin API, and the consent bundle
	// nexus-authz long-polls (docs/consent.md).
	Consent *ConsentConfig
	// Keys configures encryption at rest: the KEK, retention classes and
	// the crypto-shredding sweeper.
	Keys KeysConfig
}

// ReadSubjectKey reads the key that hashes end users' ids: the file's
// content, trimmed, at least 16 bytes, not readable by others.
func ReadSubjectKey(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s is readable by others (mode %v); chmod 600 it", path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key := bytes.TrimSpace(b)
	if len(key) < 16 {
		return nil, fmt.Errorf("%s holds %d bytes; a subject key needs at least 16", path, len(key))
	}
	return key, nil
}

// ConsentConfig configures consent records and break-glass.
type ConsentConfig struct {
	// Sealer keeps what names a subject under per-subject keys
	// (keys.SubjectSealer).
	Sealer consent.Sealer
	// SubjectKey keys the subject hash; nexus-authz must have the same
	// key (NEXUS_TELEMETRY_SUBJECT_KEY).
	SubjectKey []byte
	// BreakGlassRequesters may request break-glass grants ("oidc:<sub>",
	// "spiffe:<id>", "token:local-admin").
	BreakGlassRequesters []string
	// MaxBreakGlass bounds a grant (default 4h).
	MaxBreakGlass time.Duration
	// AuthzMaxStaleness is nexus-authz's --consent-max-staleness (default
	// 5s), the bound the compliance report holds the consent data to.
	AuthzMaxStaleness time.Duration
}

// ModelSigning locates the trust for model signatures.
type ModelSigning struct {
	KeyFile, CAFile, TrustedRootFile string
	Identity, Issuer                 string
}

func (ms ModelSigning) trust() (*oms.Trust, error) {
	set := 0
	var t oms.Trust
	for _, f := range []struct {
		path string
		into *[]byte
	}{{ms.KeyFile, &t.PublicKeyPEM}, {ms.CAFile, &t.CACertificatesPEM}, {ms.TrustedRootFile, &t.TrustedRootJSON}} {
		if f.path == "" {
			continue
		}
		b, err := os.ReadFile(f.path)
		if err != nil {
			return nil, fmt.Errorf("model signing: %w", err)
		}
		*f.into = b
		set++
	}
	switch set {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, errors.New("model signing: name one of --model-signing-key, --model-signing-ca, --model-signing-trusted-root")
	}
	t.Identity = oms.Identity{SubjectAlternativeName: ms.Identity, Issuer: ms.Issuer}
	return &t, nil
}

// Ready describes what started; Run sends it once serving.
type Ready struct {
	XDSAddr, AdminAddr string
	AdminMTLSAddr      string
	AdminTokenPath     string
	BootstrapDir       string
	Nodes              []mesh.Node
	// Keys is the data keys' evidence for compliance checks.
	Keys KeyEvidence
}

// Run serves until ctx ends. ready, if not nil, receives the bound
// addresses once both servers listen.
func Run(ctx context.Context, log *slog.Logger, cfg Config, ready chan<- Ready) error {
	raw, err := os.ReadFile(cfg.MeshFile)
	if err != nil {
		return fmt.Errorf("read mesh file: %w", err)
	}
	m, err := mesh.LoadFile(cfg.MeshFile)
	if err != nil {
		return err
	}
	if cfg.DataDir == "" {
		return errors.New("--data-dir is required")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	auth, tokenPath, err := authenticator(ctx, cfg)
	if err != nil {
		return err
	}
	st, err := store.OpenSQLite(ctx, cfg.DataDir)
	if err != nil {
		return err
	}
	defer st.Close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	xs := xds.NewServer(log.With("component", "xds"))
	tel := cfg.Telemetry
	if tel == nil {
		if tel, err = telemetry.Setup(ctx, telemetry.Options{ServiceName: "nexus-controlplane", Getenv: func(string) string { return "" }}); err != nil {
			return err
		}
		defer tel.Shutdown(context.Background())
	}
	if err := xs.Instrument(tel.TracerProvider, tel.MeterProvider); err != nil {
		return fmt.Errorf("telemetry: %w", err)
	}
	idn, err := startIdentity(ctx, log.With("component", "identity"), cfg, m, st, xs)
	if err != nil {
		return err
	}
	ctrl, err := controller.New(ctx, log.With("component", "controller"), m, st, xs, time.Now)
	if err != nil {
		return err
	}
	bootDir, err := writeBootstraps(cfg.DataDir, m, idn.tokens)
	if err != nil {
		return err
	}

	xlis, err := net.Listen("tcp", cfg.XDSAddr)
	if err != nil {
		return fmt.Errorf("listen for xDS on %s: %w", cfg.XDSAddr, err)
	}
	alis, err := net.Listen("tcp", cfg.AdminAddr)
	if err != nil {
		xlis.Close()
		return fmt.Errorf("listen for the admin API on %s: %w", cfg.AdminAddr, err)
	}
	// The sidecars' stats stream, on the xDS port with the same node
	// authentication: fast rollback between evaluations.
	sink := &metricsource.StatsSink{}
	xs.Register(func(r grpc.ServiceRegistrar) { metricsv3.RegisterMetricsServiceServer(r, sink) })
	trust, err := cfg.ModelSigning.trust()
	if err != nil {
		return err
	}
	// The audit log's checkpoints are signed with a key of the control
	// plane's own, kept in its data dir.
	origin := m.TrustDomain + "/nexus/audit"
	auditSigner, err := audit.LoadOrCreateSigner(filepath.Join(cfg.DataDir, "audit-checkpoint.key"), origin)
	if err != nil {
		return err
	}
	ring, err := startKeys(ctx, log.With("component", "keys"), cfg, st)
	if err != nil {
		return err
	}
	defer ring.Close(context.Background())
	rollouts := &runner.Runner{Log: log.With("component", "rollout"), Traffic: ctrl, Store: st, Now: time.Now, Tick: cfg.RolloutTick,
		Observer: observer(cfg.PrometheusURL), Fast: &metricsource.FastObserver{Sink: sink, Cluster: translate.ModelVersionCluster}}
	if err := rollouts.Load(ctx); err != nil {
		return err
	}
	go rollouts.Run(ctx)
	anchors, err := startAnchors(ctx, log.With("component", "anchor"), cfg, st)
	if err != nil {
		return err
	}
	reg := &registry.Registry{Ctrl: ctrl, Records: st, Options: cfg.Validation, Trust: trust}
	access := accessReviewSources(cfg, st, tokenPath, anchors)
	api := &admin.API{Log: log.With("component", "admin"), Auth: auth, Ctrl: ctrl, Status: xs, Audit: st,
		Tracer: tel.TracerProvider.Tracer("github.com/secureai-nexus/nexus/controlplane/admin"), Propagator: tel.Propagator,
		Metrics: tel.MetricsHandler(), Rollouts: rollouts, Registry: reg,
		AuditSigner: auditSigner, AuditOrigin: origin, Anchors: anchors, Keys: ring,
		AccessReview: access,
		Compliance:   complianceSources(cfg, ctrl, xs, st, auditSigner, origin, reg, rollouts, anchors, access)}
	kekRotation := cfg.Keys.KEKRotation
	if kekRotation <= 0 {
		kekRotation = 720 * time.Hour
	}
	api.Compliance.Keys = keysEvidence{ring: ring, kekRotation: kekRotation}
	// nexus-authz leases the data keys that seal its decision log's masked
	// inputs with a token that opens nothing else (NEXUS_KEY_LEASE_TOKEN).
	if api.LeaseAuth, err = admin.LoadOrCreateScopedToken(filepath.Join(cfg.DataDir, "key-lease.token"), "key-lease"); err != nil {
		return err
	}
	if cfg.Consent != nil {
		sealer := cfg.Consent.Sealer
		if sealer == nil {
			// Each subject's records under its own data key: erasure
			// destroys the key.
			sealer = ring.SubjectSealer("consent")
		}
		svc, err := consent.New(ctx, consent.Config{Tables: st, Sealer: sealer, SubjectKey: cfg.Consent.SubjectKey,
			MaxBreakGlass: cfg.Consent.MaxBreakGlass, Log: log.With("component", "consent")})
		if err != nil {
			return err
		}
		defer svc.Close()
		api.Consents, api.BreakGlassRequesters = svc, cfg.Consent.BreakGlassRequesters
		maxStale := cfg.Consent.AuthzMaxStaleness
		if maxStale <= 0 {
			maxStale = 5 * time.Second
		}
		api.Compliance.Consent = consentEvidence{svc: svc, policy: access, maxStaleness: maxStale}
		api.Compliance.BreakGlass = breakGlassEvidence{svc: svc, reviewWithin: 72 * time.Hour}
		access.BreakGlass = breakGlassReview(svc)
		// nexus-authz reads the consent bundle with a token of its own
		// that opens nothing else (NEXUS_CONSENT_TOKEN).
		if api.BundleAuth, err = admin.LoadOrCreateScopedToken(filepath.Join(cfg.DataDir, "consent-bundle.token"), "consent-bundle"); err != nil {
			return err
		}
		if cfg.PrometheusURL != "" {
			api.BreakGlassUses = breakGlassUses{&metricsource.Prometheus{URL: cfg.PrometheusURL}}
		}
	}
	if err := weightMetrics(tel.MeterProvider, ctrl.Mesh); err != nil {
		return fmt.Errorf("telemetry: %w", err)
	}
	if idn.authority != nil {
		api.Identity = idn.authority
		if err := identityMetrics(tel.MeterProvider, idn.authority); err != nil {
			return fmt.Errorf("telemetry: %w", err)
		}
	}
	hs := &http.Server{
		Handler:           api.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
	}

	errc := make(chan error, 3)
	var mtlsServer *http.Server
	if cfg.AdminMTLSAddr != "" {
		if mtlsServer, err = startAdminMTLS(ctx, log.With("component", "admin-mtls"), cfg, api, idn, errc); err != nil {
			xlis.Close()
			alis.Close()
			return err
		}
	}
	go func() { errc <- xs.Serve(ctx, xlis, grpc.Creds(idn.creds)) }()
	go watchMesh(ctx, log.With("component", "mesh-watch"), cfg, sha256.Sum256(raw), ctrl, idn)
	go func() {
		var err error
		if cfg.AdminTLSCert != "" {
			err = hs.ServeTLS(alis, cfg.AdminTLSCert, cfg.AdminTLSKey)
		} else {
			err = hs.Serve(alis)
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		errc <- err
	}()
	log.Info("nexus control plane serving", "xds", xlis.Addr().String(), "admin", alis.Addr().String(),
		"mesh", cfg.MeshFile, "models", len(m.Models), "services", len(m.Services))
	if ready != nil {
		r := Ready{XDSAddr: xlis.Addr().String(), AdminAddr: alis.Addr().String(), AdminTokenPath: tokenPath, BootstrapDir: bootDir, Nodes: m.Nodes(), Keys: ring}
		if mtlsServer != nil {
			r.AdminMTLSAddr = mtlsServer.Addr
		}
		ready <- r
	}

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	cancel()
	shutdown, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	_ = hs.Shutdown(shutdown)
	if mtlsServer != nil {
		_ = mtlsServer.Shutdown(shutdown)
	}
	log.Info("nexus control plane stopped")
	return runErr
}

// watchMesh reloads the mesh file when its content changes. A file that
// fails to load is logged with every problem and the last good mesh keeps
// serving.
func watchMesh(ctx context.Context, log *slog.Logger, cfg Config, last [32]byte, ctrl *controller.Controller, idn *identityRuntime) {
	every := cfg.ReloadInterval
	if every <= 0 {
		every = 2 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		raw, err := os.ReadFile(cfg.MeshFile)
		if err != nil {
			log.Error("cannot read the mesh file; still serving the previous mesh", "file", cfg.MeshFile, "error", err)
			continue
		}
		sum := sha256.Sum256(raw)
		if sum == last {
			continue
		}
		last = sum
		m, err := mesh.LoadFile(cfg.MeshFile)
		if err != nil {
			log.Error("mesh file rejected; still serving the previous mesh", "file", cfg.MeshFile, "error", err)
			continue
		}
		// Nodes new to the mesh need a credential before they can connect.
		if err := idn.refreshNodes(cfg.DataDir, m); err != nil {
			log.Error("mesh reload failed; still serving the previous mesh", "file", cfg.MeshFile, "error", err)
			continue
		}
		if err := ctrl.Reload(ctx, m, cfg.MeshFile); err != nil {
			log.Error("mesh reload failed; still serving the previous mesh", "file", cfg.MeshFile, "error", err)
			continue
		}
		idn.forgetRemoved(m)
		if _, err := writeBootstraps(cfg.DataDir, m, idn.tokens); err != nil {
			log.Error("cannot rewrite Envoy bootstraps", "error", err)
		}
	}
}

func authenticator(ctx context.Context, cfg Config) (admin.Authenticator, string, error) {
	loopback := isLoopback(cfg.AdminAddr)
	if !loopback && (cfg.AdminTLSCert == "" || cfg.AdminTLSKey == "") {
		return nil, "", fmt.Errorf("admin API on %s is not loopback: it needs --admin-tls-cert and --admin-tls-key", cfg.AdminAddr)
	}
	if cfg.OIDCIssuer != "" {
		a, err := admin.NewOIDC(ctx, admin.OIDCConfig{Issuer: cfg.OIDCIssuer, Audience: cfg.OIDCAudience})
		return a, "", err
	}
	if !loopback {
		return nil, "", fmt.Errorf("admin API on %s is not loopback: configure --oidc-issuer, or bind it to 127.0.0.1", cfg.AdminAddr)
	}
	path := filepath.Join(cfg.DataDir, "admin.token")
	a, err := admin.LoadOrCreateToken(path)
	return a, path, err
}

func isLoopback(addr string) bool {
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

// writeBootstraps writes each node's Envoy bootstrap to
// <data-dir>/envoy/<node-id>.json, which envoy/run-sidecar.sh starts from.
func writeBootstraps(dataDir string, m *mesh.Mesh, tokens map[string]string) (string, error) {
	dir := filepath.Join(dataDir, "envoy")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	bundle, err := filepath.Abs(identity.BundleSDSPath(dataDir))
	if err != nil {
		return "", err
	}
	for _, n := range m.Nodes() {
		bs, err := translate.Bootstrap(m, n.ID, translate.BootstrapCredentials{BundleSDSFile: bundle, Token: tokens[n.ID]})
		if err != nil {
			return "", err
		}
		j, err := translate.ToJSON(bs)
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, n.ID+".json"), j, 0o600); err != nil {
			return "", fmt.Errorf("write bootstrap for %s: %w", n.ID, err)
		}
	}
	return dir, nil
}

// observer reads rollout gates from Prometheus, or says there is no
// source (every gate inconclusive: rollouts hold, never fail).
func observer(url string) runner.Observer {
	if url == "" {
		return noSource{}
	}
	return &metricsource.Observer{Source: &metricsource.Prometheus{URL: url}}
}

type noSource struct{}

func (noSource) Observe(_ context.Context, st rollout.State, _ time.Time) []rollout.Observation {
	out := make([]rollout.Observation, len(st.Spec.Gates))
	for i, g := range st.Spec.Gates {
		out[i] = rollout.Observation{Gate: g.Name, Err: "no metric source: start the control plane with --prometheus-url"}
	}
	return out
}

// startAnchors pulls each nexus-authz's audit feed into the audit log.
func startAnchors(ctx context.Context, log *slog.Logger, cfg Config, st *store.SQLite) (*anchor.Runner, error) {
	r := &anchor.Runner{Log: log, Store: st, Interval: cfg.AnchorInterval, Client: &http.Client{Timeout: 10 * time.Second}}
	for _, s := range cfg.AuthzAuditFeeds {
		f, err := anchor.ParseFeed(s)
		if err != nil {
			return nil, fmt.Errorf("--authz-audit-feed: %w", err)
		}
		r.Feeds = append(r.Feeds, f)
	}
	if err := r.Load(ctx); err != nil {
		return nil, err
	}
	if len(r.Feeds) > 0 {
		go r.Run(ctx)
	}
	return r, nil
}

// accessReviewSources reads the access review's inputs: the store, the
// admin API's own authentication and each nexus-authz's grants and
// callers.
func accessReviewSources(cfg Config, st *store.SQLite, tokenPath string, anchors *anchor.Runner) *accessreview.Sources {
	src := &accessreview.Sources{Store: st, AdminToken: tokenPath, OIDCIssuer: cfg.OIDCIssuer, OIDCAudience: cfg.OIDCAudience,
		Client: &http.Client{Timeout: 5 * time.Second}}
	if cfg.AdminMTLSAddr != "" {
		src.AdminSPIFFEIDs = cfg.AdminSPIFFEIDs
	}
	for _, f := range anchors.Feeds {
		if u, err := url.Parse(f.URL); err == nil {
			src.Authz = append(src.Authz, u.Scheme+"://"+u.Host)
		}
	}
	return src
}

// breakGlassUses counts a grant's decisions from nexus-authz's
// nexus_authz_break_glass_decisions_total, as Prometheus has them.
type breakGlassUses struct{ prom *metricsource.Prometheus }

func (u breakGlassUses) BreakGlassUses(ctx context.Context, grant string) (int64, bool, error) {
	// Grant ids are hex: nothing to escape in the selector.
	v, ok, err := u.prom.Query(ctx, `sum(nexus_authz_break_glass_decisions_total{grant="`+grant+`"})`, time.Now())
	if err != nil || !ok {
		return 0, ok, err
	}
	return int64(v), true, nil
}
