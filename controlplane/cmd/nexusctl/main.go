// Command nexusctl operates a Nexus control plane through its admin API.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/secureai-nexus/nexus/controlplane/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
