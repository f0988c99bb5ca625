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

func tokenCreateFlags(fs *flag.FlagSet) runFunc {
	ttl := fs.Duration("ttl", 10*time.Minute, "how long the token may be exchanged")
	return func(ctx context.Context, e *env, args []string) error {
		return e.c.createJoinToken(ctx, e.stdout, args[0], *ttl)
	}
}

// createJoinToken mints a single-use join token bound to one SPIFFE id.
func (c *client) createJoinToken(ctx context.Context, w io.Writer, spiffeID string, ttl time.Duration) error {
	var out struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	if err := c.do(ctx, "POST", "/api/v1/admin/identity/join-tokens", map[string]string{"spiffe_id": spiffeID, "ttl": ttl.String()}, &out); err != nil {
		return err
	}
	// The token alone on stdout, so scripts can capture it.
	fmt.Fprintln(w, out.Token)
	return nil
}

func (c *client) revokeJoinToken(ctx context.Context, w io.Writer, token string) error {
	if err := c.do(ctx, "POST", "/api/v1/admin/identity/join-tokens/revoke", map[string]string{"token": token}, nil); err != nil {
		return err
	}
	fmt.Fprintln(w, "revoked")
	return nil
}

func (c *client) rotateRoot(ctx context.Context, w io.Writer) error {
	var out struct {
		ActivateAt time.Time `json:"activate_at"`
	}
	if err := c.do(ctx, "POST", "/api/v1/admin/identity/rotate-root", nil, &out); err != nil {
		return err
	}
	fmt.Fprintf(w, "new root is in the trust bundle now and signs from %s\n", out.ActivateAt.Format(time.RFC3339))
	return nil
}

// agentConfig is what `nexusctl agent` is called with.
type agentConfig struct {
	server, bundleFile, trustDomain, cpID, tokenFile, socket string
}

func agentFlags(fs *flag.FlagSet) runFunc {
	var cfg agentConfig
	fs.StringVar(&cfg.server, "server", "127.0.0.1:18000", "control plane xDS/identity address")
	fs.StringVar(&cfg.bundleFile, "bundle", ".data/controlplane/bundle.pem", "trust bundle that verifies the control plane")
	fs.StringVar(&cfg.trustDomain, "trust-domain", "nexus.local", "trust domain")
	fs.StringVar(&cfg.cpID, "controlplane-id", "", "SPIFFE id the control plane must present (default spiffe://<trust-domain>/nexus/controlplane)")
	fs.StringVar(&cfg.tokenFile, "join-token-file", "", "file holding the join token (from nexusctl token create); $NEXUS_JOIN_TOKEN wins if set")
	fs.StringVar(&cfg.socket, "socket", "", "Unix socket to serve the SPIFFE Workload API on (required)")
	return func(ctx context.Context, e *env, _ []string) error { return runAgent(ctx, e.stderr, cfg) }
}

// runAgent exchanges the join token for an SVID and serves it on a
// Workload API socket until ctx ends.
func runAgent(ctx context.Context, stderr io.Writer, cfg agentConfig) error {
	td, err := spiffeid.TrustDomainFromString(cfg.trustDomain)
	if err != nil {
		return fmt.Errorf("--trust-domain: %w", err)
	}
	id := spiffeid.RequireFromPath(td, "/nexus/controlplane")
	if cfg.cpID != "" {
		if id, err = spiffeid.FromString(cfg.cpID); err != nil {
			return fmt.Errorf("--controlplane-id: %w", err)
		}
	}
	bundle, err := x509bundle.Load(td, cfg.bundleFile)
	if err != nil {
		return fmt.Errorf("--bundle: %w", err)
	}
	token := os.Getenv("NEXUS_JOIN_TOKEN")
	if token == "" {
		if cfg.tokenFile == "" {
			return errors.New("agent: a join token is required (--join-token-file or $NEXUS_JOIN_TOKEN)")
		}
		raw, err := os.ReadFile(cfg.tokenFile)
		if err != nil {
			return fmt.Errorf("--join-token-file: %w", err)
		}
		token = strings.TrimSpace(string(raw))
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	a, err := agent.Join(ctx, log, agent.Config{Server: cfg.server, ControlPlaneID: id, Bundle: bundle, JoinToken: token, Socket: cfg.socket})
	if err != nil {
		return err
	}
	return a.Run(ctx)
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
