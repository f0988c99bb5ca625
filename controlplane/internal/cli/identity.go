package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/secureai-nexus/nexus/controlplane/internal/agent"
)

// joinToken: nexusctl token create SPIFFE_ID [--ttl 10m] | token revoke TOKEN
func (c *client) joinToken(ctx context.Context, w io.Writer, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: nexusctl token create SPIFFE_ID [--ttl 10m] | nexusctl token revoke TOKEN")
	}
	switch args[0] {
	case "create":
		fs := flag.NewFlagSet("token create", flag.ContinueOnError)
		ttl := fs.Duration("ttl", 10*time.Minute, "how long the token may be exchanged")
		if err := fs.Parse(reorder(args[1:])); err != nil || fs.NArg() != 1 {
			return errors.New("usage: nexusctl token create SPIFFE_ID [--ttl 10m]")
		}
		var out struct {
			Token     string    `json:"token"`
			ExpiresAt time.Time `json:"expires_at"`
		}
		if err := c.do(ctx, "POST", "/api/v1/admin/identity/join-tokens", map[string]string{"spiffe_id": fs.Arg(0), "ttl": ttl.String()}, &out); err != nil {
			return err
		}
		// The token alone on stdout, so scripts can capture it.
		fmt.Fprintln(w, out.Token)
		return nil
	case "revoke":
		if len(args) != 2 {
			return errors.New("usage: nexusctl token revoke TOKEN")
		}
		if err := c.do(ctx, "POST", "/api/v1/admin/identity/join-tokens/revoke", map[string]string{"token": args[1]}, nil); err != nil {
			return err
		}
		fmt.Fprintln(w, "revoked")
		return nil
	}
	return fmt.Errorf("unknown token command %q (create, revoke)", args[0])
}

// ca: nexusctl ca rotate-root
func (c *client) ca(ctx context.Context, w io.Writer, args []string) error {
	if len(args) != 1 || args[0] != "rotate-root" {
		return errors.New("usage: nexusctl ca rotate-root")
	}
	var out struct {
		ActivateAt time.Time `json:"activate_at"`
	}
	if err := c.do(ctx, "POST", "/api/v1/admin/identity/rotate-root", nil, &out); err != nil {
		return err
	}
	fmt.Fprintf(w, "new root is in the trust bundle now and signs from %s\n", out.ActivateAt.Format(time.RFC3339))
	return nil
}

// runAgent: nexusctl agent --join-token-file F --socket S [...]
func runAgent(ctx context.Context, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", "127.0.0.1:18000", "control plane xDS/identity address")
	bundleFile := fs.String("bundle", ".data/controlplane/bundle.pem", "trust bundle that verifies the control plane")
	trustDomain := fs.String("trust-domain", "nexus.local", "trust domain")
	cpID := fs.String("controlplane-id", "", "SPIFFE id the control plane must present (default spiffe://<trust-domain>/nexus/controlplane)")
	tokenFile := fs.String("join-token-file", "", "file holding the join token (from nexusctl token create); $NEXUS_JOIN_TOKEN wins if set")
	socket := fs.String("socket", "", "Unix socket to serve the SPIFFE Workload API on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *socket == "" {
		return errors.New("agent: --socket is required")
	}
	td, err := spiffeid.TrustDomainFromString(*trustDomain)
	if err != nil {
		return fmt.Errorf("--trust-domain: %w", err)
	}
	id := spiffeid.RequireFromPath(td, "/nexus/controlplane")
	if *cpID != "" {
		if id, err = spiffeid.FromString(*cpID); err != nil {
			return fmt.Errorf("--controlplane-id: %w", err)
		}
	}
	bundle, err := x509bundle.Load(td, *bundleFile)
	if err != nil {
		return fmt.Errorf("--bundle: %w", err)
	}
	token := os.Getenv("NEXUS_JOIN_TOKEN")
	if token == "" {
		if *tokenFile == "" {
			return errors.New("agent: a join token is required (--join-token-file or $NEXUS_JOIN_TOKEN)")
		}
		raw, err := os.ReadFile(*tokenFile)
		if err != nil {
			return fmt.Errorf("--join-token-file: %w", err)
		}
		token = strings.TrimSpace(string(raw))
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	a, err := agent.Join(ctx, log, agent.Config{Server: *server, ControlPlaneID: id, Bundle: bundle, JoinToken: token, Socket: *socket})
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

// reorder moves flags before positional arguments, so
// "create ID --ttl 5m" parses like "create --ttl 5m ID".
func reorder(args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		if strings.HasPrefix(args[i], "-") {
			flags = append(flags, args[i])
			if !strings.Contains(args[i], "=") && i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
			continue
		}
		pos = append(pos, args[i])
	}
	return append(flags, pos...)
}

// useSVID switches the client to mTLS with the SVID from a Workload API,
// accepting only the control plane's SPIFFE id.
func (c *client) useSVID(ctx context.Context, socket, controlPlaneID string) (func(), error) {
	id, err := spiffeid.FromString(controlPlaneID)
	if err != nil {
		return nil, fmt.Errorf("--controlplane-id: %w", err)
	}
	wait, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	src, err := workloadapi.NewX509Source(wait, workloadapi.WithClientOptions(workloadapi.WithAddr(socket)))
	if err != nil {
		return nil, fmt.Errorf("--spiffe-socket %s: %w", socket, err)
	}
	c.http = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: tlsconfig.MTLSClientConfig(src, src, tlsconfig.AuthorizeID(id)),
	}}
	c.svid = true
	return func() { src.Close() }, nil
}
