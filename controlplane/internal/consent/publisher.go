package consent

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Bundle roots: nexus-authz takes exactly these from the consent bundle
// and lays them over its local policy data.
const (
	RootConsent    = "nexus/consent"
	RootBreakGlass = "nexus/breakglass"
	// BundleContentType is what OPA's downloader needs on a 200 to keep
	// long-polling.
	BundleContentType = "application/vnd.openpolicyagent.bundles"
	// MaxWait bounds a long poll (OPA's Prefer: wait=N), below the admin
	// server's write timeout.
	MaxWait = 20 * time.Second
)

// ConsentGrant is one active consent for one purpose, as policy data.
type ConsentGrant struct {
	ID         string   `json:"id"`
	Categories []string `json:"categories"`
	Sharing    bool     `json:"sharing"`
	ExpiresNS  int64    `json:"expires_ns"`
}

// BreakGlassData is one active break-glass grant, as policy data.
type BreakGlassData struct {
	ID        string `json:"id"`
	Model     string `json:"model"`
	ExpiresNS int64  `json:"expires_ns"`
}

// Data is the published policy data: data.nexus.consent is keyed by
// subject id then purpose; data.nexus.breakglass by caller SPIFFE id and
// by subject id. Only active entries are published: the publisher
// republishes at each expiry, so the policy needs no clock (which would
// turn nexus-authz's decision cache off).
type Data struct {
	Consent    map[string]map[string][]ConsentGrant `json:"consent"`
	BreakGlass struct {
		Callers  map[string][]BreakGlassData `json:"callers"`
		Subjects map[string][]BreakGlassData `json:"subjects"`
	} `json:"breakglass"`
}

type snapshot struct {
	revision string
	etag     string
	tarball  []byte
	// changed is closed when a newer snapshot replaces this one.
	changed chan struct{}
}

// Publisher serves the current Data as an OPA bundle with ETags and long
// polling.
type Publisher struct {
	svc *Service
	// refreshMu serializes Refresh: two changes committed one after the
	// other must not publish in the other order, or the older state
	// would be served (a revocation lost) until the next change.
	refreshMu sync.Mutex
	mu        sync.Mutex
	cur       *snapshot
	// timer republishes at the next expiry.
	timer   *time.Timer
	stopped bool
	// served is when a bundle client was last answered (200 or 304): the
	// freshness nexus-authz's copy of the consent data can have.
	served atomic.Int64
}

// LastServed is when a bundle client was last answered (zero: never).
func (p *Publisher) LastServed() time.Time {
	ns := p.served.Load()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

func newPublisher(s *Service) *Publisher {
	return &Publisher{svc: s, cur: &snapshot{changed: make(chan struct{})}}
}

func (p *Publisher) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
	if p.timer != nil {
		p.timer.Stop()
	}
}

// Revision is the revision being served.
func (p *Publisher) Revision() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur.revision
}

// build reads the active consents and grants at now, and when the next
// of them expires.
func (p *Publisher) build(ctx context.Context, now time.Time) (Data, time.Time, error) {
	var d Data
	d.Consent = map[string]map[string][]ConsentGrant{}
	d.BreakGlass.Callers = map[string][]BreakGlassData{}
	d.BreakGlass.Subjects = map[string][]BreakGlassData{}
	var next time.Time
	soonest := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	rows, err := p.svc.tables.Query(ctx, `SELECT id, subject_id, purposes, categories, sharing, expires_at FROM consent_records
		WHERE revoked_at IS NULL AND expires_at > ? ORDER BY id`, now.UnixNano())
	if err != nil {
		return d, next, fmt.Errorf("read active consents: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id, sid, purposes, cats string
			sharing                 bool
			exp                     int64
		)
		if err := rows.Scan(&id, &sid, &purposes, &cats, &sharing, &exp); err != nil {
			return d, next, fmt.Errorf("read active consents: %w", err)
		}
		var ps, cs []string
		if json.Unmarshal([]byte(purposes), &ps) != nil || json.Unmarshal([]byte(cats), &cs) != nil {
			return d, next, fmt.Errorf("consent %s: unreadable purposes or categories", id)
		}
		bySubject := d.Consent[sid]
		if bySubject == nil {
			bySubject = map[string][]ConsentGrant{}
			d.Consent[sid] = bySubject
		}
		for _, purpose := range ps {
			bySubject[purpose] = append(bySubject[purpose], ConsentGrant{ID: id, Categories: cs, Sharing: sharing, ExpiresNS: exp})
		}
		soonest(time.Unix(0, exp))
	}
	if err := rows.Err(); err != nil {
		return d, next, err
	}
	grows, err := p.svc.tables.Query(ctx, `SELECT id, kind, principal, model, expires_at FROM breakglass_grants
		WHERE ended_at IS NULL AND expires_at > ? ORDER BY id`, now.UnixNano())
	if err != nil {
		return d, next, fmt.Errorf("read active break-glass grants: %w", err)
	}
	defer grows.Close()
	for grows.Next() {
		var (
			g               BreakGlassData
			kind, principal string
		)
		if err := grows.Scan(&g.ID, &kind, &principal, &g.Model, &g.ExpiresNS); err != nil {
			return d, next, fmt.Errorf("read active break-glass grants: %w", err)
		}
		if kind == "spiffe" {
			d.BreakGlass.Callers[principal] = append(d.BreakGlass.Callers[principal], g)
		} else {
			d.BreakGlass.Subjects[principal] = append(d.BreakGlass.Subjects[principal], g)
		}
		soonest(time.Unix(0, g.ExpiresNS))
	}
	return d, next, grows.Err()
}

// Refresh rebuilds the bundle from the store; when its content changed,
// waiting long polls are answered with it at once.
func (p *Publisher) Refresh(ctx context.Context) error {
	p.refreshMu.Lock()
	defer p.refreshMu.Unlock()
	now := p.svc.now()
	d, next, err := p.build(ctx, now)
	if err != nil {
		return err
	}
	consent, err := json.Marshal(d.Consent)
	if err != nil {
		return err
	}
	bg, err := json.Marshal(d.BreakGlass)
	if err != nil {
		return err
	}
	h := sha256.New()
	h.Write(consent)
	h.Write([]byte{0})
	h.Write(bg)
	rev := hex.EncodeToString(h.Sum(nil)[:16])

	p.mu.Lock()
	defer p.mu.Unlock()
	p.schedule(next, now)
	if rev == p.cur.revision {
		return nil
	}
	tarball, err := tarBundle(rev, consent, bg)
	if err != nil {
		return err
	}
	old := p.cur
	p.cur = &snapshot{revision: rev, etag: strconv.Quote(rev), tarball: tarball, changed: make(chan struct{})}
	close(old.changed)
	return nil
}

// schedule arms the timer for the next expiry (p.mu held).
func (p *Publisher) schedule(next, now time.Time) {
	if p.stopped {
		return
	}
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	if next.IsZero() {
		return
	}
	// A hair past the expiry, so the refresh sees it expired.
	wait := next.Sub(now) + time.Millisecond
	p.timer = time.AfterFunc(wait, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := p.Refresh(ctx); err != nil {
			p.svc.log.Error("consent bundle not republished at expiry", "error", err)
		}
	})
}

func tarBundle(rev string, consent, breakglass []byte) ([]byte, error) {
	manifest, err := json.Marshal(map[string]any{"revision": rev, "roots": []string{RootConsent, RootBreakGlass}})
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range []struct {
		name string
		body []byte
	}{
		{"/.manifest", manifest},
		{"/" + RootConsent + "/data.json", consent},
		{"/" + RootBreakGlass + "/data.json", breakglass},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ServeHTTP answers a bundle download as OPA's bundle protocol has it: a
// 200 with the bundle and its ETag, a 304 when If-None-Match names the
// current ETag, and, with Prefer: wait=N, a request that names the current
// ETag is held until the bundle changes or N seconds pass. The caller
// authenticates the request.
func (p *Publisher) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	snap := p.cur
	p.mu.Unlock()
	inm := r.Header.Get("If-None-Match")
	if etagMatches(inm, snap.etag) {
		if wait := preferWait(r.Header.Get("Prefer")); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-snap.changed:
				p.mu.Lock()
				snap = p.cur
				p.mu.Unlock()
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
			t.Stop()
		}
	}
	p.served.Store(time.Now().UnixNano())
	w.Header().Set("Content-Type", BundleContentType)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("ETag", snap.etag)
	if etagMatches(inm, snap.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(snap.tarball)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(snap.tarball)
}

// etagMatches reads If-None-Match: a list of (possibly weak) ETags.
func etagMatches(header, etag string) bool {
	if header == "" || etag == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" || strconv.Quote(t) == etag {
			return true
		}
	}
	return false
}

// preferWait reads wait=N from a Prefer header (RFC 7240), bounded by
// MaxWait; 0 when absent or malformed.
func preferWait(header string) time.Duration {
	for _, part := range strings.FieldsFunc(header, func(r rune) bool { return r == ';' || r == ',' }) {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "wait") {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n <= 0 {
			return 0
		}
		return min(time.Duration(n)*time.Second, MaxWait)
	}
	return 0
}
