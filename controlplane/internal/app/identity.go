package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	vault "github.com/hashicorp/vault/api"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc/credentials"

	"github.com/secureai-nexus/nexus/controlplane/internal/admin"
	"github.com/secureai-nexus/nexus/controlplane/internal/ca"
	"github.com/secureai-nexus/nexus/controlplane/internal/identity"
	"github.com/secureai-nexus/nexus/controlplane/internal/mesh"
	"github.com/secureai-nexus/nexus/controlplane/internal/store"
	"github.com/secureai-nexus/nexus/controlplane/internal/xds"
)

// identityRuntime is the identity side of a running control plane.
type identityRuntime struct {
	authority *identity.Authority // nil with SPIRE
	svid      x509svid.Source     // the control plane's own SVID
	bundle    x509bundle.Source
	auth      *xds.NodeAuth
	creds     credentials.TransportCredentials
	tokens    map[string]string // node id → xDS credential
}

// startIdentity sets up who the control plane is and who may talk to it:
// with the built-in provider, the CA (sealed in the data dir), SDS secrets
// and the identity service; with SPIRE, the control plane's SVID from the
// SPIRE agent. Either way the xDS port speaks TLS and binds each stream to
// one node.
func startIdentity(ctx context.Context, log *slog.Logger, cfg Config, m *mesh.Mesh, st store.Store, xs *xds.Server) (*identityRuntime, error) {
	td, err := spiffeid.TrustDomainFromString(m.TrustDomain)
	if err != nil {
		return nil, fmt.Errorf("trust domain: %w", err)
	}
	cpID, err := spiffeid.FromString(m.ControlPlane.SPIFFEID)
	if err != nil {
		return nil, fmt.Errorf("controlPlane.spiffeId: %w", err)
	}
	rt := &identityRuntime{auth: xs.EnableAuth(nil)}
	if err := rt.refreshNodes(cfg.DataDir, m); err != nil {
		return nil, err
	}

	if m.Identity.Provider == mesh.IdentitySPIRE {
		// A workload may be entitled to several SVIDs; the control plane
		// presents its own.
		pick := func(svids []*x509svid.SVID) *x509svid.SVID {
			for _, s := range svids {
				if s.ID == cpID {
					return s
				}
			}
			return svids[0]
		}
		waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		src, err := workloadapi.NewX509Source(waitCtx, workloadapi.WithClientOptions(workloadapi.WithAddr("unix://"+m.Identity.SPIREAgentSocket)),
			workloadapi.WithDefaultX509SVIDPicker(pick))
		if err != nil {
			return nil, fmt.Errorf("SPIRE agent at %s gave no SVID for the control plane (is it registered as %s?): %w", m.Identity.SPIREAgentSocket, cpID, err)
		}
		go func() { <-ctx.Done(); src.Close() }()
		rt.svid, rt.bundle = src, src
		rt.creds = credentials.NewTLS(xds.ServerTLS(src, src, td))
		log.Info("identity from SPIRE", "socket", m.Identity.SPIREAgentSocket, "spiffe_id", cpID.String())
		return rt, nil
	}

	kek, err := keyEncryptionKey(cfg)
	if err != nil {
		return nil, err
	}
	a, err := identity.Open(ctx, log, td, st, identity.Config{
		CAPath: filepath.Join(cfg.DataDir, "ca.sealed"),
		KEK:    kek,
		CA:     ca.Options{SVIDTTL: cfg.SVIDTTL},
	})
	if err != nil {
		return nil, err
	}
	rt.authority = a
	xs.SetSecretSource(a)
	xs.Register((&identity.Service{A: a}).Register)
	rt.svid, rt.bundle = a.Source(cpID), a
	rt.creds = credentials.NewTLS(xds.ServerTLS(a.Source(cpID), a, td))
	bundlePath := identity.BundlePath(cfg.DataDir)
	if err := identity.WriteBundle(cfg.DataDir, a.Bundle()); err != nil {
		return nil, fmt.Errorf("publish trust bundle: %w", err)
	}
	changed, _ := a.Subscribe()
	go func() {
		published := a.Bundle()
		for {
			select {
			case <-ctx.Done():
				return
			case <-changed:
			}
			// Most changes are SVID renewals; the bundle files (which Envoy
			// watches) are rewritten only when the roots change.
			if b := a.Bundle(); !b.Equal(published) {
				if err := identity.WriteBundle(cfg.DataDir, b); err != nil {
					log.Error("cannot publish the trust bundle", "error", err)
				} else {
					published = b
				}
			}
			if err := xs.RefreshSecrets(ctx); err != nil {
				log.Error("cannot push rotated secrets", "error", err)
			}
		}
	}()
	ttl := cfg.SVIDTTL
	if ttl <= 0 {
		ttl = ca.DefaultSVIDTTL
	}
	go a.Run(ctx, min(ttl/20, 30*time.Second))
	log.Info("built-in CA serving", "trust_domain", td.Name(), "svid_ttl", ttl, "bundle", bundlePath)
	return rt, nil
}

// forgetRemoved drops the SVIDs of workloads the mesh no longer has.
func (rt *identityRuntime) forgetRemoved(m *mesh.Mesh) {
	if rt.authority == nil {
		return
	}
	ids := []spiffeid.ID{}
	for _, s := range append([]string{m.ControlPlane.SPIFFEID}, nodeSPIFFEIDs(m)...) {
		if id, err := spiffeid.FromString(s); err == nil {
			ids = append(ids, id)
		}
	}
	rt.authority.Keep(ids)
}

func nodeSPIFFEIDs(m *mesh.Mesh) []string {
	out := make([]string, 0, len(m.Nodes()))
	for _, n := range m.Nodes() {
		out = append(out, n.SPIFFEID)
	}
	return out
}

// refreshNodes makes sure every node of m has an xDS credential.
func (rt *identityRuntime) refreshNodes(dataDir string, m *mesh.Mesh) error {
	ids := make([]string, 0, len(m.Nodes()))
	for _, n := range m.Nodes() {
		ids = append(ids, n.ID)
	}
	tokens, err := identity.NodeCredentials(dataDir, ids)
	if err != nil {
		return err
	}
	rt.tokens = tokens
	rt.auth.SetTokens(tokens)
	return nil
}

// keyEncryptionKey picks where the CA's sealing key lives.
func keyEncryptionKey(cfg Config) (ca.KEK, error) {
	if cfg.CAKEKVault != "" {
		if cfg.CAKEKFile != "" {
			return nil, fmt.Errorf("--ca-kek-file and --ca-kek-vault are exclusive")
		}
		mount, path, field, err := ca.ParseVaultKEKRef(cfg.CAKEKVault)
		if err != nil {
			return nil, err
		}
		client, err := vault.NewClient(vault.DefaultConfig())
		if err != nil {
			return nil, fmt.Errorf("vault client (VAULT_ADDR, VAULT_TOKEN, VAULT_CACERT): %w", err)
		}
		return ca.VaultKEK{Client: client, Mount: mount, Path: path, Field: field}, nil
	}
	path := cfg.CAKEKFile
	if path == "" {
		path = filepath.Join(cfg.DataDir, "ca.kek")
	}
	return ca.FileKEK{Path: path}, nil
}

// startAdminMTLS serves the admin API over mTLS to the allowed SPIFFE ids.
func startAdminMTLS(ctx context.Context, log *slog.Logger, cfg Config, api *admin.API, rt *identityRuntime, errc chan<- error) (*http.Server, error) {
	if len(cfg.AdminSPIFFEIDs) == 0 {
		return nil, fmt.Errorf("--admin-mtls-addr needs at least one --admin-spiffe-id")
	}
	ids := make([]spiffeid.ID, 0, len(cfg.AdminSPIFFEIDs))
	for _, s := range cfg.AdminSPIFFEIDs {
		id, err := spiffeid.FromString(s)
		if err != nil {
			return nil, fmt.Errorf("--admin-spiffe-id %q: %w", s, err)
		}
		ids = append(ids, id)
	}
	allowed := tlsconfig.AuthorizeOneOf(ids...)
	authorize := func(id spiffeid.ID, chains [][]*x509.Certificate) error {
		if err := allowed(id, chains); err != nil {
			log.Warn("admin mTLS peer refused", "spiffe_id", id.String(), "reason", err)
			return err
		}
		return nil
	}
	lis, err := net.Listen("tcp", cfg.AdminMTLSAddr)
	if err != nil {
		return nil, fmt.Errorf("listen for the admin API (mTLS) on %s: %w", cfg.AdminMTLSAddr, err)
	}
	mtlsAPI := *api
	mtlsAPI.Auth = admin.SPIFFEAuth{}
	tlsCfg := tlsconfig.MTLSServerConfig(rt.svid, rt.bundle, authorize)
	tlsCfg.MinVersion = tls.VersionTLS12
	hs := &http.Server{
		Addr:              lis.Addr().String(),
		Handler:           mtlsAPI.Handler(),
		TLSConfig:         tlsCfg,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	go func() {
		err := hs.ServeTLS(lis, "", "")
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		errc <- err
	}()
	log.Info("admin API over mTLS", "addr", hs.Addr, "allowed", cfg.AdminSPIFFEIDs)
	return hs, nil
}
