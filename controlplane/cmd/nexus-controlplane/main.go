// Command nexus-controlplane serves the Nexus mesh to Envoy sidecars over
// xDS and runs the admin API.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/app"
	"github.com/secureai-nexus/nexus/telemetry"
)

func main() {
	var cfg app.Config
	var debug bool
	flag.StringVar(&cfg.MeshFile, "config", "examples/mesh.yaml", "mesh file")
	flag.StringVar(&cfg.DataDir, "data-dir", ".data/controlplane", "state directory (database, admin token, sealed CA, trust bundle, node credentials, Envoy bootstraps)")
	flag.StringVar(&cfg.XDSAddr, "xds-addr", "127.0.0.1:18000", "xDS (ADS) gRPC listen address")
	flag.StringVar(&cfg.AdminAddr, "admin-addr", "127.0.0.1:18080", "admin API listen address")
	flag.StringVar(&cfg.OIDCIssuer, "oidc-issuer", "", "OIDC issuer whose tokens the admin API accepts")
	flag.StringVar(&cfg.OIDCAudience, "oidc-audience", "nexus", "audience (client id) admin tokens must carry")
	flag.StringVar(&cfg.AdminTLSCert, "admin-tls-cert", "", "serve the admin API over HTTPS with this certificate")
	flag.StringVar(&cfg.AdminTLSKey, "admin-tls-key", "", "key for --admin-tls-cert")
	flag.DurationVar(&cfg.SVIDTTL, "svid-ttl", 0, "lifetime of SVIDs the built-in CA issues (default 1h; holders renew at half life)")
	flag.StringVar(&cfg.CAKEKFile, "ca-kek-file", "", "32-byte key file that seals the built-in CA at rest (default <data-dir>/ca.kek, created 0600)")
	flag.StringVar(&cfg.CAKEKVault, "ca-kek-vault", "", "keep the CA's key-encryption key in Vault KV v2 at MOUNT/PATH[#FIELD] (e.g. secret/nexus/ca-kek; VAULT_ADDR, VAULT_TOKEN, VAULT_CACERT)")
	flag.StringVar(&cfg.AdminMTLSAddr, "admin-mtls-addr", "", "also serve the admin API over mTLS (the control plane's SVID) to --admin-spiffe-id clients only")
	flag.Func("admin-spiffe-id", "SPIFFE id allowed on --admin-mtls-addr (repeatable)", func(v string) error {
		cfg.AdminSPIFFEIDs = append(cfg.AdminSPIFFEIDs, v)
		return nil
	})
	flag.StringVar(&cfg.PrometheusURL, "prometheus-url", "", "Prometheus query API that rollout gates read (e.g. http://127.0.0.1:9090); without it gates are inconclusive and rollouts hold")
	flag.Func("authz-audit-feed", "nexus-authz HTTP address (http://127.0.0.1:9192) whose policy activations and decision-log head are pulled into the audit log (repeatable)", func(v string) error {
		cfg.AuthzAuditFeeds = append(cfg.AuthzAuditFeeds, v)
		return nil
	})
	flag.DurationVar(&cfg.AnchorInterval, "anchor-interval", time.Minute, "how often nexus-authz's decision-log head is anchored into the audit log")
	flag.DurationVar(&cfg.RolloutTick, "rollout-tick", time.Second, "how often due rollout evaluations are looked for")
	flag.Float64Var(&cfg.Validation.Similarity, "validation-similarity", 0.5, "least token overlap between a candidate's and the serving version's answers to the golden prompts")
	flag.DurationVar(&cfg.Validation.MaxP95, "validation-max-p95", 2*time.Second, "largest p95 latency a candidate may show under the validation load")
	flag.StringVar(&cfg.ModelSigning.KeyFile, "model-signing-key", "", "PEM public key model signatures (OMS) must verify with: versions without one fail verification")
	flag.StringVar(&cfg.ModelSigning.CAFile, "model-signing-ca", "", "PEM CA certificates a model signature's certificate must chain to")
	flag.StringVar(&cfg.ModelSigning.TrustedRootFile, "model-signing-trusted-root", "", "Sigstore trusted root (JSON) for keyless model signatures")
	flag.StringVar(&cfg.ModelSigning.Identity, "model-signing-identity", "", "the signer's identity (certificate SAN) a certificate or keyless signature must name")
	flag.StringVar(&cfg.ModelSigning.Issuer, "model-signing-issuer", "", "the OIDC issuer a keyless signature's certificate must name")
	flag.StringVar(&cfg.Keys.VaultTransit, "kek-vault-transit", "", "wrap data keys at rest with this Vault Transit key, [MOUNT/]KEY (mount default transit; created derived if missing; VAULT_ADDR, VAULT_TOKEN, VAULT_CACERT); default a local keyring in <data-dir>/keys")
	flag.Func("retention", "retention class CLASS=DURATION[/BUCKET], e.g. inference=24h/1h or logs=720h/24h (repeatable; defaults inference=24h/1h, logs=720h/24h)", func(v string) error {
		cfg.Keys.Retention = append(cfg.Keys.Retention, v)
		return nil
	})
	flag.DurationVar(&cfg.Keys.SweepInterval, "key-sweep-interval", time.Minute, "how often data keys past their retention are destroyed")
	flag.DurationVar(&cfg.Keys.KEKRotation, "kek-rotation", 720*time.Hour, "rotate the key-encryption key (and rewrap data keys) once its version is this old")
	var consent app.ConsentConfig
	var subjectKeyFile string
	flag.StringVar(&subjectKeyFile, "subject-key-file", "", "key that hashes end users' ids (the same key as nexus-authz's NEXUS_TELEMETRY_SUBJECT_KEY); turns on consent records, data-subject rights and break-glass")
	flag.Func("break-glass-requester", `principal allowed to request break-glass access, as the audit log names it ("oidc:<sub>", "spiffe:<id>", "token:local-admin"; repeatable)`, func(v string) error {
		consent.BreakGlassRequesters = append(consent.BreakGlassRequesters, v)
		return nil
	})
	flag.DurationVar(&consent.MaxBreakGlass, "break-glass-max", 4*time.Hour, "longest break-glass grant")
	flag.DurationVar(&consent.AuthzMaxStaleness, "consent-max-staleness", 5*time.Second, "nexus-authz's --consent-max-staleness, which the compliance report holds the consent data to")
	flag.BoolVar(&debug, "debug", false, "log at debug level")
	flag.Parse()
	if subjectKeyFile != "" {
		key, err := app.ReadSubjectKey(subjectKeyFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "nexus-controlplane: --subject-key-file:", err)
			os.Exit(2)
		}
		consent.SubjectKey = key
		cfg.Consent = &consent
	}

	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, log, cfg))
}

func run(ctx context.Context, log *slog.Logger, cfg app.Config) int {
	tel, err := telemetry.Setup(ctx, telemetry.Options{ServiceName: "nexus-controlplane"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "nexus-controlplane: telemetry:", err)
		return 1
	}
	defer func() {
		flush, done := context.WithTimeout(context.Background(), 5*time.Second)
		defer done()
		_ = tel.Shutdown(flush)
	}()
	log.Info("telemetry", "traces", telemetry.Describe(nil))
	cfg.Telemetry = tel
	if err := app.Run(ctx, log, cfg, nil); err != nil {
		fmt.Fprintln(os.Stderr, "nexus-controlplane:", err)
		return 1
	}
	return 0
}
