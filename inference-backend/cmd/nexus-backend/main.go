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
	"syscall"
	"time"

	"github.com/secureai-nexus/nexus/inference-backend/internal/model"
	"github.com/secureai-nexus/nexus/inference-backend/internal/server"
)

func main() {
	name := flag.String("model", "triage", "model name this backend serves")
	version := flag.String("version", "v1", "model version this backend serves")
	addr := flag.String("addr", "127.0.0.1:8001", "listen address")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("model", *name, "version", *version)
	srv := server.New(model.Model{Name: *name, Version: *version}, log)
	hs := &http.Server{Addr: *addr, Handler: srv.Handler(), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 120 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.SetReady(false)
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = hs.Shutdown(shutdown)
	}()
	log.Info("nexus-backend serving", "addr", *addr)
	if err := hs.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "nexus-backend:", err)
		os.Exit(1)
	}
}
