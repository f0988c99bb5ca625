// Command nexusctl operates a Nexus control plane through its admin API.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/cli"
	"github.com/secureai-nexus/nexus/telemetry"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	tel, err := telemetry.Setup(ctx, telemetry.Options{ServiceName: "nexusctl"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "nexusctl: telemetry:", err)
		os.Exit(1)
	}
	code := cli.RunTraced(ctx, tel.TracerProvider, tel.Propagator, os.Args[1:], os.Stdout, os.Stderr)
	flush, done := context.WithTimeout(context.Background(), 5*time.Second)
	_ = tel.Shutdown(flush)
	done()
	stop()
	os.Exit(code)
}
