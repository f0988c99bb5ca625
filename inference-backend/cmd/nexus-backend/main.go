// Command nexus-backend is Nexus's reference model server: OpenAI-compatible
// chat completions and KServe v2 inference answered by a small deterministic
// built-in model that names its version.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/secureai-nexus/nexus/inference-backend/internal/artifact"
	"github.com/secureai-nexus/nexus/inference-backend/internal/identity"
	"github.com/secureai-nexus/nexus/inference-backend/internal/model"
	"github.com/secureai-nexus/nexus/inference-backend/internal/server"
	"github.com/secureai-nexus/nexus/telemetry"
)

func main() {
	name := flag.String("model", "triage", "model name this backend serves")
	version := flag.String("version", "v1", "model version this backend serves")
	addr := flag.String("addr", "127.0.0.1:8001", "listen address")
	healthAddr := flag.String("health-addr", "", "also serve /healthz and /readyz in plain HTTP here (for probes when --addr is mTLS)")
	spiffeSocket := flag.String("spiffe-socket", "", "Workload API address (unix:///path): serve --addr over mTLS with this SVID")
	trustDomain := flag.String("trust-domain", "", "with --spiffe-socket: accept any caller of this trust domain")
	var allowed []string
	flag.Func("allow-spiffe-id", "with --spiffe-socket: accept only this caller (repeatable; the model's sidecar)", func(v string) error {
		allowed = append(allowed, v)
		return nil
	})
	artifactDir := flag.String("artifact", "", "the model directory this backend serves: its root digest is reported on /v1/models, so the control plane can check it is the verified one")
	faultRate := flag.Float64("fault-error-rate", 0, "answer this fraction of requests with a 500 (testing a bad canary)")
	faultLatency := flag.Duration("fault-latency", 0, "add this latency to every answer (testing a slow canary)")
	faultAfter := flag.Duration("fault-after", 0, "inject the faults only from this long after start")
	flag.Parse()
	if *faultRate < 0 || *faultRate > 1 {
		fmt.Fprintln(os.Stderr, "nexus-backend: --fault-error-rate must be between 0 and 1")
		os.Exit(2)
	}

	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("model", *name, "version", *version)
	srv := server.New(model.Model{Name: *name, Version: *version}, log)
	if *artifactDir != "" {
		d, err := artifact.RootDigest(*artifactDir)
		if err != nil {
			fmt.Fprintln(os.Stderr, "nexus-backend: --artifact:", err)
			os.Exit(1)
		}
		srv.Digest = d
		log.Info("model files", "artifact", *artifactDir, "digest", d)
	}
	if *faultRate > 0 || *faultLatency > 0 {
		srv.Faults = &server.Faults{ErrorRate: *faultRate, Latency: *faultLatency, After: *faultAfter, Start: time.Now()}
		log.Warn("fault injection on", "error_rate", *faultRate, "latency", *faultLatency, "after", *faultAfter)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tel, err := telemetry.Setup(ctx, telemetry.Options{ServiceName: "nexus-backend", ServiceVersion: *version})
	if err != nil {
		fmt.Fprintln(os.Stderr, "nexus-backend: telemetry:", err)
		os.Exit(1)
	}
	defer func() {
		flush, done := context.WithTimeout(context.Background(), 5*time.Second)
		defer done()
		_ = tel.Shutdown(flush)
	}()
	if srv.Instruments, err = server.NewInstruments(tel.TracerProvider, tel.MeterProvider, tel.Propagator); err != nil {
		fmt.Fprintln(os.Stderr, "nexus-backend: telemetry:", err)
		os.Exit(1)
	}
	srv.Instruments.CaptureContent = strings.EqualFold(os.Getenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"), "true")
	srv.Metrics = tel.MetricsHandler()
	// The server's own errors (TLS handshakes refused for want of an SVID,
	// most often) go through slog like every other line, as warnings.
	errorLog := slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	hs := &http.Server{Addr: *addr, Handler: srv.Handler(), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 120 * time.Second, ErrorLog: errorLog}
	if *spiffeSocket != "" {
		cfg, src, err := identity.ServerTLS(ctx, log, *spiffeSocket, allowed, *trustDomain)
		if err != nil {
			fmt.Fprintln(os.Stderr, "nexus-backend:", err)
			os.Exit(1)
		}
		defer src.Close()
		hs.TLSConfig = cfg
	}
	servers := []*http.Server{hs}
	if *healthAddr != "" {
		servers = append(servers, &http.Server{Addr: *healthAddr, Handler: srv.HealthHandler(), ReadHeaderTimeout: 5 * time.Second, ErrorLog: errorLog})
	}
	go func() {
		<-ctx.Done()
		srv.SetReady(false)
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, s := range servers {
			_ = s.Shutdown(shutdown)
		}
	}()
	// Read before the servers start: serving TLS configures HTTP/2 on
	// hs.TLSConfig, so reading it afterwards races that write.
	mtls := hs.TLSConfig != nil
	errc := make(chan error, len(servers))
	for _, s := range servers {
		go func() {
			var err error
			if s.TLSConfig != nil {
				err = s.ListenAndServeTLS("", "")
			} else {
				err = s.ListenAndServe()
			}
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			errc <- err
		}()
	}
	log.Info("nexus-backend serving", "addr", *addr, "mtls", mtls, "health", *healthAddr, "telemetry", telemetry.Describe(nil))
	for range servers {
		if err := <-errc; err != nil {
			fmt.Fprintln(os.Stderr, "nexus-backend:", err)
			os.Exit(1)
		}
	}
}
