// Package identity runs the built-in CA for the control plane: it keeps
// the CA sealed on disk, issues and renews the SVIDs it serves over SDS,
// exchanges single-use join tokens for SVIDs, renews workload SVIDs over
// mTLS, and tells subscribers when anything a peer must learn has changed.
package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/secureai-nexus/nexus/controlplane/internal/audit"
	"github.com/secureai-nexus/nexus/controlplane/internal/ca"
	"github.com/secureai-nexus/nexus/controlplane/internal/notify"
	"github.com/secureai-nexus/nexus/controlplane/internal/store"
)

// Config configures an Authority.
type Config struct {
	// CAPath is the sealed CA file; KEK unseals it.
	CAPath string
	KEK    ca.KEK
	CA     ca.Options
	// Propagation is how long a prepared root waits in the bundle before
	// it signs; default the SVID lifetime, so every workload has renewed
	// (and fetched the new bundle) at least once.
	Propagation time.Duration
	// MaxJoinTokenTTL caps join token lifetimes; default 24h.
	MaxJoinTokenTTL time.Duration
}

// Authority is the control plane's identity service.
type Authority struct {
	log   *slog.Logger
	cfg   Config
	ca    *ca.CA
	store store.Store
	now   func() time.Time

	changes notify.Hub

	mu     sync.Mutex
	svids  map[spiffeid.ID]*x509svid.SVID
	bundle []*x509.Certificate // last bundle subscribers were told about

	// refusals coalesces repeated refusals of the same kind, so a
	// misconfigured or hostile client retrying in a loop cannot flood the
	// audit log: the first is recorded at once, repeats at most once per
	// refusalWindow with their count.
	refusalMu sync.Mutex
	refusals  map[string]*refusal
}

type refusal struct {
	recorded time.Time
	repeats  int
}

const refusalWindow = time.Minute

// Open loads the sealed CA (creating it on first start) for td.
func Open(ctx context.Context, log *slog.Logger, td spiffeid.TrustDomain, st store.Store, cfg Config) (*Authority, error) {
	if cfg.CA.Now == nil {
		cfg.CA.Now = time.Now
	}
	c, created, err := ca.LoadOrCreate(ctx, cfg.CAPath, cfg.KEK, td, cfg.CA)
	if err != nil {
		return nil, err
	}
	if created {
		log.Info("created the built-in CA", "trust_domain", td.Name(), "sealed", cfg.CAPath, "kek", cfg.KEK.Name())
	}
	if cfg.Propagation <= 0 {
		cfg.Propagation = c.SVIDTTL()
	}
	if cfg.MaxJoinTokenTTL <= 0 {
		cfg.MaxJoinTokenTTL = 24 * time.Hour
	}
	a := &Authority{log: log, cfg: cfg, ca: c, store: st, now: cfg.CA.Now,
		svids: map[spiffeid.ID]*x509svid.SVID{}, refusals: map[string]*refusal{}}
	a.bundle = c.Bundle().X509Authorities()
	return a, nil
}

// TrustDomain is the trust domain the authority signs for.
func (a *Authority) TrustDomain() spiffeid.TrustDomain { return a.ca.TrustDomain() }

// Bundle is the current trust bundle.
func (a *Authority) Bundle() *x509bundle.Bundle { return a.ca.Bundle() }

// GetX509BundleForTrustDomain implements x509bundle.Source.
func (a *Authority) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	if td != a.ca.TrustDomain() {
		return nil, fmt.Errorf("no bundle for trust domain %q", td)
	}
	return a.ca.Bundle(), nil
}

// SVID returns the SVID the control plane holds for id (its own, or a
// sidecar's served over SDS), issuing or renewing it past half its life.
func (a *Authority) SVID(id spiffeid.ID) (*x509svid.SVID, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if s, ok := a.svids[id]; ok && !pastHalfLife(s.Certificates[0], a.now()) {
		return s, nil
	}
	s, err := a.ca.NewX509SVID(id)
	if err != nil {
		return nil, err
	}
	a.svids[id] = s
	return s, nil
}

// Keep drops the SVIDs held for ids not listed (nodes removed from the
// mesh), so they are neither renewed nor kept in memory.
func (a *Authority) Keep(ids []spiffeid.ID) {
	keep := make(map[spiffeid.ID]bool, len(ids))
	for _, id := range ids {
		keep[id] = true
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for id := range a.svids {
		if !keep[id] {
			delete(a.svids, id)
		}
	}
}

// Source returns an x509svid.Source for id, for the control plane's own
// TLS servers: every handshake gets the current SVID.
func (a *Authority) Source(id spiffeid.ID) x509svid.Source { return svidSource{a, id} }

type svidSource struct {
	a  *Authority
	id spiffeid.ID
}

func (s svidSource) GetX509SVID() (*x509svid.SVID, error) { return s.a.SVID(s.id) }

func pastHalfLife(c *x509.Certificate, now time.Time) bool {
	return !now.Before(c.NotBefore.Add(c.NotAfter.Sub(c.NotBefore) / 2))
}

// Subscribe returns a channel that receives (coalesced) whenever a served
// SVID was renewed or the bundle changed; cancel stops it.
func (a *Authority) Subscribe() (<-chan struct{}, func()) { return a.changes.Subscribe() }

// Tick renews served SVIDs past half life, activates a prepared root whose
// time has come, drops retired roots, and notifies subscribers of any of
// it. Run calls it periodically; tests call it with a fake clock.
func (a *Authority) Tick(ctx context.Context) error {
	changed, err := a.ca.Tick()
	if err != nil {
		return err
	}
	if changed {
		if err := ca.Save(ctx, a.ca, a.cfg.CAPath, a.cfg.KEK); err != nil {
			return fmt.Errorf("save CA after rotation: %w", err)
		}
		a.log.Info("CA roots changed", "roots", len(a.ca.Bundle().X509Authorities()))
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	renewed := 0
	for id, s := range a.svids {
		if !pastHalfLife(s.Certificates[0], now) && !changed {
			continue
		}
		fresh, err := a.ca.NewX509SVID(id)
		if err != nil {
			return fmt.Errorf("renew %s: %w", id, err)
		}
		a.svids[id] = fresh
		renewed++
	}
	roots := a.ca.Bundle().X509Authorities()
	bundleChanged := !sameCerts(roots, a.bundle)
	a.bundle = roots
	if renewed > 0 || bundleChanged {
		a.log.Debug("identity rotated", "svids_renewed", renewed, "bundle_changed", bundleChanged)
		a.changes.Notify()
	}
	return nil
}

// Run ticks every interval until ctx ends.
func (a *Authority) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := a.Tick(ctx); err != nil {
				a.log.Error("identity rotation failed; retrying", "error", err)
			}
		}
	}
}

// RotateRoot prepares a new root: it joins the bundle now and signs after
// the propagation delay; the old root stays trusted for two SVID lifetimes
// after that.
func (a *Authority) RotateRoot(ctx context.Context, actor string) (activateAt time.Time, err error) {
	activateAt = a.now().Add(a.cfg.Propagation)
	if err := a.ca.PrepareRootRotation(activateAt, 2*a.ca.SVIDTTL()); err != nil {
		return time.Time{}, err
	}
	if err := ca.Save(ctx, a.ca, a.cfg.CAPath, a.cfg.KEK); err != nil {
		return time.Time{}, fmt.Errorf("save CA: %w", err)
	}
	after, _ := json.Marshal(map[string]any{"activate_at": activateAt})
	if _, err := a.store.Append(ctx, audit.Entry{Time: a.now(), Actor: actor, Action: "ca.root.rotate", Target: a.ca.TrustDomain().IDString(), After: after}); err != nil {
		return time.Time{}, err
	}
	a.log.Info("CA root rotation prepared", "activate_at", activateAt)
	return activateAt, a.Tick(ctx)
}

// JoinTokenPrefix marks Nexus join tokens so a leaked one is recognizable
// by secret scanners (and by piiguard's).
const JoinTokenPrefix = "nxjt_"

// MintJoinToken creates a single-use token bound to id, valid for ttl.
func (a *Authority) MintJoinToken(ctx context.Context, actor string, id spiffeid.ID, ttl time.Duration) (string, time.Time, error) {
	if id.TrustDomain() != a.ca.TrustDomain() {
		return "", time.Time{}, fmt.Errorf("%w: %s is not in %s", ca.ErrWrongTrustDomain, id, a.ca.TrustDomain())
	}
	if id.Path() == "" {
		return "", time.Time{}, fmt.Errorf("%w: %s", ca.ErrNoPath, id)
	}
	if ttl <= 0 || ttl > a.cfg.MaxJoinTokenTTL {
		return "", time.Time{}, fmt.Errorf("join token ttl %s: must be positive and at most %s", ttl, a.cfg.MaxJoinTokenTTL)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", time.Time{}, err
	}
	token := JoinTokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	now := a.now()
	t := store.JoinToken{Hash: tokenHash(token), SPIFFEID: id.String(), CreatedAt: now, ExpiresAt: now.Add(ttl)}
	after, _ := json.Marshal(map[string]any{"spiffe_id": t.SPIFFEID, "expires_at": t.ExpiresAt, "token_hash": t.Hash[:16]})
	if _, err := a.store.CreateJoinToken(ctx, t, audit.Entry{Time: now, Actor: actor, Action: "jointoken.create", Target: t.SPIFFEID, After: after}); err != nil {
		return "", time.Time{}, err
	}
	return token, t.ExpiresAt, nil
}

// RevokeJoinToken revokes an unused token.
func (a *Authority) RevokeJoinToken(ctx context.Context, actor, token string) error {
	h := tokenHash(token)
	_, err := a.store.RevokeJoinToken(ctx, h, a.now(), audit.Entry{Time: a.now(), Actor: actor, Action: "jointoken.revoke", Target: h[:16]})
	return err
}

// ErrJoinRefused wraps every reason a join is refused.
var ErrJoinRefused = errors.New("join refused")

// Join exchanges a join token and a CSR for an SVID chain. The token is
// spent whatever happens next; every refusal is audited with its reason.
func (a *Authority) Join(ctx context.Context, token string, csrDER []byte, peer string) ([]*x509.Certificate, error) {
	if !strings.HasPrefix(token, JoinTokenPrefix) {
		a.refuse(ctx, "", peer, "malformed token")
		return nil, fmt.Errorf("%w: malformed join token (want %s…)", ErrJoinRefused, JoinTokenPrefix)
	}
	now := a.now()
	tok, err := a.store.ConsumeJoinToken(ctx, tokenHash(token), now, func(t store.JoinToken, err error) audit.Entry {
		e := audit.Entry{Time: now, Actor: "join:" + peer, Action: "identity.join", Target: t.SPIFFEID}
		if err != nil {
			e.Action = "identity.join.refused"
			e.After, _ = json.Marshal(map[string]string{"reason": err.Error()})
		}
		return e
	})
	if err != nil {
		a.log.Warn("join refused", "peer", peer, "spiffe_id", tok.SPIFFEID, "reason", err)
		return nil, fmt.Errorf("%w: %w", ErrJoinRefused, err)
	}
	id, err := spiffeid.FromString(tok.SPIFFEID)
	if err != nil {
		return nil, fmt.Errorf("%w: stored id: %w", ErrJoinRefused, err)
	}
	chain, err := a.ca.SignCSR(id, csrDER)
	if err != nil {
		a.refuse(ctx, tok.SPIFFEID, peer, err.Error())
		return nil, fmt.Errorf("%w: %w", ErrJoinRefused, err)
	}
	a.log.Info("workload joined", "spiffe_id", id.String(), "peer", peer)
	return chain, nil
}

func (a *Authority) refuse(ctx context.Context, target, peer, reason string) {
	a.audit(ctx, "join:"+peer, "identity.join.refused", target, reason)
	a.log.Warn("join refused", "peer", peer, "spiffe_id", target, "reason", reason)
}

// RefuseJoin audits a join refused before it reached a token (none sent).
func (a *Authority) RefuseJoin(ctx context.Context, peer, reason string) {
	a.refuse(ctx, "", peer, reason)
}

// audit records a refusal, coalescing repeats of the same (action,
// target, reason) within refusalWindow into the next record's count. The
// peer address is left out of the key: a client reconnecting from a new
// port is the same refusal.
func (a *Authority) audit(ctx context.Context, actor, action, target, reason string) {
	key := action + "\x00" + target + "\x00" + reason
	now := a.now()
	a.refusalMu.Lock()
	r := a.refusals[key]
	if r != nil && now.Sub(r.recorded) < refusalWindow {
		r.repeats++
		a.refusalMu.Unlock()
		return
	}
	repeats := 0
	if r != nil {
		repeats = r.repeats
	}
	a.refusals[key] = &refusal{recorded: now}
	for k, old := range a.refusals {
		if now.Sub(old.recorded) >= refusalWindow && old.repeats == 0 {
			delete(a.refusals, k)
		}
	}
	a.refusalMu.Unlock()
	after := map[string]any{"reason": reason}
	if repeats > 0 {
		after["repeats_since_last_record"] = repeats
	}
	raw, _ := json.Marshal(after)
	if _, err := a.store.Append(ctx, audit.Entry{Time: now, Actor: actor, Action: action, Target: target, After: raw}); err != nil {
		a.log.Error("cannot audit a refusal", "action", action, "error", err)
	}
}

// Renew signs a new SVID for a workload that proved id with its current
// SVID over mTLS.
func (a *Authority) Renew(id spiffeid.ID, csrDER []byte) ([]*x509.Certificate, error) {
	return a.ca.SignCSR(id, csrDER)
}

// RefuseRenewal audits an SVID renewal that was refused.
func (a *Authority) RefuseRenewal(ctx context.Context, id, peer, reason string) {
	a.audit(ctx, "renew:"+peer, "identity.renew.refused", id, reason)
	a.log.Warn("SVID renewal refused", "peer", peer, "spiffe_id", id, "reason", reason)
}

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func sameCerts(a, b []*x509.Certificate) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

// Expiry is the state an operator pages on: when the SVID held that
// expires first runs out, when the first root of the bundle does, and
// whether a new root is waiting to sign.
type Expiry struct {
	EarliestSVID    time.Time // zero when none is held
	EarliestRoot    time.Time
	RotationPending bool
}

// Expiry reports the SVIDs' and roots' expiry.
func (a *Authority) Expiry() Expiry {
	var e Expiry
	a.mu.Lock()
	for _, s := range a.svids {
		if na := s.Certificates[0].NotAfter; e.EarliestSVID.IsZero() || na.Before(e.EarliestSVID) {
			e.EarliestSVID = na
		}
	}
	a.mu.Unlock()
	for _, r := range a.ca.Bundle().X509Authorities() {
		if e.EarliestRoot.IsZero() || r.NotAfter.Before(e.EarliestRoot) {
			e.EarliestRoot = r.NotAfter
		}
	}
	e.RotationPending = a.ca.RootRotationPending()
	return e
}
