// Package consentfeed lays the control plane's consent bundle over
// nexus-authz's local policies: OPA's downloader long-polls the bundle
// (data under nexus/consent and nexus/breakglass), and the feed serves the
// local set with that data merged in — or without it, so the shipped
// policy denies every call that needs consent, when the bundle service
// has not answered (200 or 304) within the staleness bound.
package consentfeed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/download"
	"github.com/open-policy-agent/opa/v1/plugins"
	"github.com/open-policy-agent/opa/v1/plugins/rest"

	"github.com/secureai-nexus/nexus/authz/internal/policy"
)

// The data the consent bundle may carry, and nothing else.
const (
	RootConsent    = "nexus/consent"
	RootBreakGlass = "nexus/breakglass"
)

// Options configure a Feed.
type Options struct {
	// URL is the consent bundle, e.g.
	// https://controlplane:8443/api/v1/bundles/nexus-consent.tar.gz.
	URL string
	// Token is the bearer token the control plane's admin API accepts.
	Token string
	// HTTPClient, when set, fetches the bundle: nexus-authz's mTLS client
	// that accepts only the control plane's SPIFFE id. The control plane's
	// mTLS admin listener authenticates the SVID, so Token is optional.
	HTTPClient *http.Client
	// MaxStaleness is how long consent data is served after the bundle
	// service last answered (default 5s).
	MaxStaleness time.Duration
	// LongPoll is the wait nexus-authz asks the service to hold a request
	// for (Prefer: wait=N, whole seconds, default 2s); it must be shorter
	// than MaxStaleness, or a quiet service would look stale.
	LongPoll    time.Duration
	RegoVersion ast.RegoVersion
	Logger      *slog.Logger
	// ClientOptions are added to the OPA rest client (tests, TLS).
	ClientOptions []func(*rest.Client)
	// Now is the staleness clock (default time.Now).
	Now func() time.Time
}

// Feed is a policy.Source: the base source's bundle with the consent
// bundle's data merged in while it is fresh.
type Feed struct {
	base   policy.Source
	opts   Options
	log    *slog.Logger
	dl     *download.Downloader
	notify chan struct{}
	now    func() time.Time

	mu sync.Mutex
	// lastBase is the base source's last bundle.
	lastBase *bundle.Bundle
	// data is the last good consent bundle's nexus object; revision its
	// revision; lastOK when the service last answered 200 or 304.
	data     map[string]any
	revision string
	lastOK   time.Time
	// gen counts changes to data; servedGen and servedFresh are what the
	// last Fetch offered.
	gen, servedGen uint64
	servedFresh    bool
	offered        bool
	lastErr        string

	stopOnce sync.Once
	done     chan struct{}
	wg       sync.WaitGroup
}

// New builds a Feed over base. Nothing is downloaded until Start.
func New(base policy.Source, opts Options) (*Feed, error) {
	if opts.MaxStaleness <= 0 {
		opts.MaxStaleness = 5 * time.Second
	}
	if opts.LongPoll <= 0 {
		opts.LongPoll = 2 * time.Second
	}
	if opts.LongPoll < time.Second || opts.LongPoll%time.Second != 0 {
		return nil, fmt.Errorf("--consent-long-poll %s: must be whole seconds, at least 1s", opts.LongPoll)
	}
	if opts.LongPoll >= opts.MaxStaleness {
		return nil, fmt.Errorf("--consent-long-poll %s must be shorter than --consent-max-staleness %s, or a quiet control plane would look stale", opts.LongPoll, opts.MaxStaleness)
	}
	if opts.Token == "" && opts.HTTPClient == nil {
		return nil, errors.New("the consent bundle needs a bearer token (--consent-token or $NEXUS_CONSENT_TOKEN): the control plane serves consent data to authenticated callers only")
	}
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("--consent-bundle %q: want an http(s) URL of the control plane's consent bundle", opts.URL)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	creds := map[string]any{"bearer": map[string]any{"token": opts.Token}}
	clientOpts := opts.ClientOptions
	if opts.HTTPClient != nil {
		creds = map[string]any{"plugin": clientPluginName}
		plugin := clientPlugin{client: opts.HTTPClient, token: opts.Token}
		clientOpts = append(clientOpts, rest.AuthPluginLookup(func(name string) rest.HTTPAuthPlugin {
			if name == clientPluginName {
				return plugin
			}
			return nil
		}))
	}
	svc, err := json.Marshal(map[string]any{
		"name": "nexus-consent",
		"url":  u.Scheme + "://" + u.Host,
		// The long poll clears this for its own requests; it bounds the
		// ones that are not.
		"response_header_timeout_seconds": int64(opts.MaxStaleness/time.Second) + 1,
		"credentials":                     creds,
	})
	if err != nil {
		return nil, err
	}
	client, err := rest.New(svc, nil, clientOpts...)
	if err != nil {
		return nil, fmt.Errorf("consent bundle client: %w", err)
	}
	wait := int64(opts.LongPoll / time.Second)
	// Retries after an error back off to at most a second, so a control
	// plane that comes back is heard from well within the bound.
	one := int64(1)
	trigger := plugins.TriggerPeriodic
	dc := download.Config{Trigger: &trigger, Polling: download.PollingConfig{MinDelaySeconds: &one, MaxDelaySeconds: &one, LongPollingTimeoutSeconds: &wait}}
	if err := dc.ValidateAndInjectDefaults(); err != nil {
		return nil, err
	}
	f := &Feed{base: base, opts: opts, log: log, notify: make(chan struct{}, 1), now: now, done: make(chan struct{})}
	path := strings.TrimPrefix(u.RequestURI(), "/")
	f.dl = download.New(dc, client, path).
		WithCallback(f.callback).
		WithBundleName("nexus-consent").
		WithSizeLimitBytes(64 << 20).
		WithBundleParserOpts(ast.ParserOptions{RegoVersion: opts.RegoVersion})
	return f, nil
}

// String names the sources.
func (f *Feed) String() string {
	u, _ := url.Parse(f.opts.URL)
	return f.base.String() + " + consent " + u.Redacted()
}

// Changes is signalled when the consent data changes or goes stale, so
// the caller can Reload at once.
func (f *Feed) Changes() <-chan struct{} { return f.notify }

func (f *Feed) signal() {
	select {
	case f.notify <- struct{}{}:
	default:
	}
}

// Start begins long-polling and watching staleness until Stop or ctx ends.
func (f *Feed) Start(ctx context.Context) {
	f.dl.Start(ctx)
	f.wg.Add(1)
	go f.watch(ctx)
}

// Stop ends the downloads.
func (f *Feed) Stop(ctx context.Context) {
	f.stopOnce.Do(func() {
		close(f.done)
		f.dl.Stop(ctx)
		f.wg.Wait()
	})
}

// watch signals when the data's freshness flips, which no download
// outcome announces when the service simply goes quiet.
func (f *Feed) watch(ctx context.Context) {
	defer f.wg.Done()
	tick := time.NewTicker(min(f.opts.MaxStaleness/10, 100*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.done:
			return
		case <-tick.C:
			f.mu.Lock()
			flip := f.offered && f.fresh() != f.servedFresh
			f.mu.Unlock()
			if flip {
				f.signal()
			}
		}
	}
}

// Serving says whether the set last offered carries the consent data.
func (f *Feed) Serving() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.offered && f.servedFresh
}

// fresh says whether the consent data may be served (f.mu held).
func (f *Feed) fresh() bool {
	return f.data != nil && f.now().Sub(f.lastOK) <= f.opts.MaxStaleness
}

// callback records one download outcome. It returns nil always: an error
// would keep the new ETag yet treat the bundle as failed.
func (f *Feed) callback(_ context.Context, u download.Update) error {
	defer f.signal()
	f.mu.Lock()
	defer f.mu.Unlock()
	if u.Error != nil {
		if msg := u.Error.Error(); msg != f.lastErr {
			f.log.Warn("consent bundle download failed; consent data goes stale after the bound", "error", msg, "max_staleness", f.opts.MaxStaleness.String())
			f.lastErr = msg
		}
		return nil
	}
	if u.Bundle == nil {
		// 304: the data we hold is still the service's.
		f.lastOK = f.now()
		f.lastErr = ""
		return nil
	}
	data, err := consentData(u.Bundle)
	if err != nil {
		// Forget the ETag, so the next answer is a download, not a 304
		// that would count a refused bundle as current.
		f.dl.SetCache("")
		if msg := err.Error(); msg != f.lastErr {
			f.log.Error("consent bundle refused; consent data goes stale after the bound", "error", msg)
			f.lastErr = msg
		}
		return nil
	}
	f.data, f.revision, f.lastOK, f.lastErr = data, u.Bundle.Manifest.Revision, f.now(), ""
	f.gen++
	return nil
}

// consentData checks a consent bundle holds data under its two roots and
// nothing else, and returns its nexus object.
func consentData(b *bundle.Bundle) (map[string]any, error) {
	if len(b.Modules) > 0 {
		return nil, fmt.Errorf("the consent bundle carries %d policy modules; it may carry only data under %s and %s", len(b.Modules), RootConsent, RootBreakGlass)
	}
	if b.Manifest.Roots != nil {
		for _, r := range *b.Manifest.Roots {
			if r != RootConsent && r != RootBreakGlass {
				return nil, fmt.Errorf("the consent bundle claims root %q; only %s and %s are allowed", r, RootConsent, RootBreakGlass)
			}
		}
	}
	for k := range b.Data {
		if k != "nexus" {
			return nil, fmt.Errorf("the consent bundle writes data.%s; only data.nexus.consent and data.nexus.breakglass are allowed", k)
		}
	}
	nx, _ := b.Data["nexus"].(map[string]any)
	out := map[string]any{}
	for k, v := range nx {
		if k != "consent" && k != "breakglass" {
			return nil, fmt.Errorf("the consent bundle writes data.nexus.%s; only consent and breakglass are allowed", k)
		}
		if _, ok := v.(map[string]any); !ok {
			return nil, fmt.Errorf("the consent bundle's data.nexus.%s is not an object", k)
		}
		out[k] = v
	}
	if _, ok := out["consent"]; !ok {
		return nil, errors.New("the consent bundle has no data.nexus.consent")
	}
	return out, nil
}

// Fetch returns the base bundle with the consent data merged in when it
// is fresh, and without it otherwise; changed when either the base, the
// data or its freshness changed since the last Fetch.
func (f *Feed) Fetch(ctx context.Context) (*bundle.Bundle, bool, error) {
	b, changed, err := f.base.Fetch(ctx)
	if err != nil {
		return nil, false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if changed {
		f.lastBase = b
	}
	if f.lastBase == nil {
		return nil, false, errors.New("the local policies have not loaded")
	}
	fresh := f.fresh()
	if f.offered && !changed && fresh == f.servedFresh && (!fresh || f.gen == f.servedGen) {
		return nil, false, nil
	}
	out, err := merge(f.lastBase, f.data, f.revision, fresh)
	if err != nil {
		return nil, false, err
	}
	if f.offered && fresh != f.servedFresh {
		if fresh {
			f.log.Info("consent data is current again", "revision", f.revision)
		} else {
			f.log.Warn("consent data is stale or missing: dropped, calls that need consent are denied", "last_answer", f.lastOK, "max_staleness", f.opts.MaxStaleness.String())
		}
	}
	f.offered, f.servedFresh, f.servedGen = true, fresh, f.gen
	return out, true, nil
}

// merge lays data under data.nexus of a copy of base (base is not
// changed: it is merged again at the next change).
func merge(base *bundle.Bundle, data map[string]any, revision string, fresh bool) (*bundle.Bundle, error) {
	out := *base
	out.Data = deepCopy(base.Data).(map[string]any)
	if out.Data == nil {
		out.Data = map[string]any{}
	}
	nx, _ := out.Data["nexus"].(map[string]any)
	if nx == nil {
		nx = map[string]any{}
		out.Data["nexus"] = nx
	}
	for _, k := range []string{"consent", "breakglass"} {
		if _, ok := nx[k]; ok {
			return nil, fmt.Errorf("the local policy data defines data.nexus.%s, which the consent bundle owns; remove it", k)
		}
	}
	rev := "consent:none"
	if fresh {
		maps.Copy(nx, data)
		rev = "consent:" + revision
	}
	out.Manifest = base.Manifest
	// A base without a revision is named by the digest of the merged
	// content, which covers the consent data too.
	if base.Manifest.Revision != "" {
		out.Manifest.Revision = base.Manifest.Revision + "+" + rev
	}
	if base.Manifest.Roots != nil && len(*base.Manifest.Roots) > 0 {
		roots := append([]string(nil), *base.Manifest.Roots...)
		roots = append(roots, RootConsent, RootBreakGlass)
		out.Manifest.Roots = &roots
	}
	return &out, nil
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = deepCopy(x)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i, x := range v {
			s[i] = deepCopy(x)
		}
		return s
	}
	return v
}

const clientPluginName = "nexus-consent-client"

// clientPlugin hands OPA's rest client the given HTTP client (mTLS) and
// adds the bearer token, if any, to each request.
type clientPlugin struct {
	client *http.Client
	token  string
}

func (p clientPlugin) NewClient(rest.Config) (*http.Client, error) { return p.client, nil }

func (p clientPlugin) Prepare(r *http.Request) error {
	if p.token != "" {
		r.Header.Set("Authorization", "Bearer "+p.token)
	}
	return nil
}
