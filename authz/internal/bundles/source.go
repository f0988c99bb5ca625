// Package bundles serves policy bundles from the OPA bundle services a
// config file names, as OPA's bundle plugin would: OPA's download package
// polls (or long-polls) each bundle with ETags, OPA's bundle reader checks
// signatures against the configured keys, and the bundles are merged into
// one for the policy manager.
package bundles

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/download"
	"github.com/open-policy-agent/opa/v1/plugins"
	"github.com/open-policy-agent/opa/v1/plugins/rest"

	"github.com/secureai-nexus/nexus/authz/internal/opaconfig"
)

// Options tune a Source.
type Options struct {
	// Logger receives download outcomes and OPA's own download logging;
	// nil discards.
	Logger *slog.Logger
	// RegoVersion is how modules that declare none are parsed (the zero
	// value is OPA's default, Rego v1).
	RegoVersion ast.RegoVersion
	// ClientOptions are added to every service's OPA rest client.
	ClientOptions []func(*rest.Client)
}

// Status is one bundle's download and activation state. Its JSON is that
// of OPA's bundle status, for the status API.
type Status struct {
	Name string `json:"name"`
	// ActiveRevision is the revision of the bundle in the serving policy
	// set, as told by ReportActivation.
	ActiveRevision           string    `json:"active_revision,omitempty"`
	LastSuccessfulActivation time.Time `json:"last_successful_activation"`
	Type                     string    `json:"type,omitempty"`
	// Size is the last downloaded bundle's size in bytes.
	Size                   int       `json:"size,omitempty"`
	LastSuccessfulDownload time.Time `json:"last_successful_download"`
	// LastSuccessfulRequest counts 304 Not Modified answers too.
	LastSuccessfulRequest time.Time `json:"last_successful_request"`
	LastRequest           time.Time `json:"last_request"`
	// Code is "bundle_error" while the last attempt failed; Message says
	// why and HTTPCode is the service's status when it answered one.
	Code     string      `json:"code,omitempty"`
	Message  string      `json:"message,omitempty"`
	HTTPCode json.Number `json:"http_code,omitempty"`

	// DownloadedRevision is the revision of the newest good download,
	// which may not be active yet (or may have been refused by the policy
	// manager). Not in OPA's status.
	DownloadedRevision string `json:"downloaded_revision,omitempty"`
}

const errCode = "bundle_error"

// Source is a policy.Source over the configured bundles. Downloads run in
// the background between Start and Stop; Fetch never waits on the network.
type Source struct {
	log      *slog.Logger
	regoVer  ast.RegoVersion
	entries  []*entry // sorted by name
	desc     string
	notify   chan struct{}
	stopped  chan struct{}
	startMu  sync.Mutex
	started  bool
	stopOnce sync.Once

	mu sync.Mutex
	// gen counts good downloads; fetchedGen is the gen the last Fetch
	// offered, so a state is offered once.
	gen, fetchedGen uint64
	// errSeq counts failed downloads; reportedSeq is the last one Fetch
	// returned, so each failure is returned (and logged) once.
	errSeq, reportedSeq uint64
	lastErr             *DownloadError
	// offered is the revisions of the state Fetch last returned, awaiting
	// ReportActivation.
	offered map[string]string
}

type entry struct {
	name     string
	service  string
	resource string
	manual   bool
	dl       *download.Downloader
	// called is signalled by each download callback, so Trigger can wait
	// for a download abandoned by its context before starting another.
	called    chan struct{}
	triggerMu sync.Mutex

	// Guarded by Source.mu.
	cur    *bundle.Bundle
	status Status
	// attemptErr is the outcome of the latest download, for Trigger.
	attemptErr *DownloadError
}

// New builds a Source for every bundle in cfg. It does not download
// anything until Start or Trigger.
func New(cfg *opaconfig.Config, opts Options) (*Source, error) {
	if len(cfg.Bundles) == 0 {
		return nil, errors.New("no bundles are configured")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Source{
		log:     log,
		regoVer: opts.RegoVersion,
		notify:  make(chan struct{}, 1),
		stopped: make(chan struct{}),
	}
	names := make([]string, 0, len(cfg.Bundles))
	for n := range cfg.Bundles {
		names = append(names, n)
	}
	slices.Sort(names)
	var desc []string
	for _, name := range names {
		b := cfg.Bundles[name]
		dc, err := b.DownloadConfig()
		if err != nil {
			return nil, err
		}
		vc, err := cfg.VerificationConfig(b)
		if err != nil {
			return nil, err
		}
		ol := opaLogger{l: log.With("bundle", name)}
		client, err := cfg.RESTClient(b.Service, append([]func(*rest.Client){rest.Logger(ol)}, opts.ClientOptions...)...)
		if err != nil {
			return nil, fmt.Errorf("bundle %q: %w", name, err)
		}
		e := &entry{
			name:     name,
			service:  b.Service,
			resource: b.Resource,
			manual:   b.Trigger == plugins.TriggerManual,
			called:   make(chan struct{}, 1),
			status:   Status{Name: name},
		}
		e.dl = download.New(dc, client, b.Resource).
			WithCallback(s.callback(e)).
			WithBundleVerificationConfig(vc).
			WithSizeLimitBytes(b.SizeLimitBytes).
			WithBundleName(name).
			WithBundleParserOpts(ast.ParserOptions{RegoVersion: opts.RegoVersion})
		s.entries = append(s.entries, e)
		desc = append(desc, name+"="+redactedURL(client.Config().URL)+"/"+strings.TrimLeft(b.Resource, "/"))
	}
	s.desc = "bundles " + strings.Join(desc, ", ")
	return s, nil
}

// redactedURL drops any user:password from a service URL, since String
// ends up in logs and /readyz.
func redactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User = nil
	return strings.TrimRight(u.String(), "/")
}

// String names the bundles and where they come from.
func (s *Source) String() string { return s.desc }

// Changes is signalled (without blocking, so it may coalesce) after each
// download outcome, so a caller can Reload at once instead of on its next
// tick.
func (s *Source) Changes() <-chan struct{} { return s.notify }

// Start begins polling every bundle whose trigger is periodic. Polling
// stops at Stop or when ctx ends. Start after Stop does nothing.
func (s *Source) Start(ctx context.Context) {
	s.startMu.Lock()
	defer s.startMu.Unlock()
	select {
	case <-s.stopped:
		return
	default:
	}
	if s.started {
		return
	}
	s.started = true
	for _, e := range s.entries {
		if !e.manual {
			e.dl.Start(ctx)
		}
	}
	go func() {
		select {
		case <-ctx.Done():
			_ = s.Stop(context.Background())
		case <-s.stopped:
		}
	}()
}

// Stop ends polling and waits for in-flight downloads to be abandoned, or
// for ctx to end.
func (s *Source) Stop(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.stopOnce.Do(func() {
			s.startMu.Lock()
			started := s.started
			close(s.stopped)
			s.startMu.Unlock()
			if !started {
				return
			}
			var wg sync.WaitGroup
			for _, e := range s.entries {
				if !e.manual {
					wg.Go(func() { e.dl.Stop(context.Background()) })
				}
			}
			wg.Wait()
		})
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stopping bundle downloads: %w", ctx.Err())
	}
}

// Trigger downloads, now, every bundle whose trigger is manual, and
// returns their errors. Bundles that poll are left to their schedule.
func (s *Source) Trigger(ctx context.Context) error {
	var errs []error
	for _, e := range s.entries {
		if !e.manual {
			continue
		}
		if err := s.trigger(ctx, e); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *Source) trigger(ctx context.Context, e *entry) error {
	e.triggerMu.Lock()
	defer e.triggerMu.Unlock()
	select {
	case <-e.called:
	default:
	}
	err := e.dl.Trigger(ctx)
	// The downloader runs the download in its own goroutine and stops
	// waiting when ctx ends; it calls back either way, and only after that
	// may the next download touch its state.
	<-e.called
	s.mu.Lock()
	de := e.attemptErr
	s.mu.Unlock()
	// The callback's verdict covers what the downloader does not count as
	// a failure (a delta bundle).
	if de != nil {
		return de
	}
	if err != nil {
		return classify(e.name, err)
	}
	return nil
}

// callback records one download outcome. It always returns nil: an error
// would make the downloader keep the new ETag yet treat the bundle as
// failed, so it would never be offered again.
func (s *Source) callback(e *entry) func(context.Context, download.Update) error {
	return func(_ context.Context, u download.Update) error {
		defer func() {
			select {
			case e.called <- struct{}{}:
			default:
			}
			select {
			case s.notify <- struct{}{}:
			default:
			}
		}()
		s.mu.Lock()
		defer s.mu.Unlock()
		now := time.Now().UTC()
		e.status.LastRequest = now
		if u.Error == nil && u.Bundle != nil && u.Bundle.Type() == bundle.DeltaBundleType {
			u.Error = errors.New("the service sent a delta bundle; nexus-authz applies snapshot bundles only")
			// Forget the delta's ETag, so that a snapshot served under it
			// is downloaded rather than answered 304.
			e.dl.SetCache("")
		}
		if u.Error != nil {
			de := classify(e.name, u.Error)
			if u.Bundle != nil {
				de.Reason = ReasonDelta
			}
			e.status.Code, e.status.Message, e.status.HTTPCode = errCode, de.Error(), ""
			if de.HTTPCode != 0 {
				e.status.HTTPCode = json.Number(strconv.Itoa(de.HTTPCode))
			}
			s.errSeq++
			s.lastErr = de
			e.attemptErr = de
			s.log.Warn("bundle download failed; the previous bundle, if any, stays", "bundle", e.name, "reason", string(de.Reason), "error", de.Error())
			return nil
		}
		e.attemptErr = nil
		if s.lastErr != nil && s.lastErr.Bundle == e.name {
			// Resolved before Fetch saw it: not worth a refusal in the
			// manager's log.
			s.reportedSeq = s.errSeq
		}
		e.status.LastSuccessfulRequest = now
		e.status.Code, e.status.Message, e.status.HTTPCode = "", "", ""
		if u.Bundle == nil {
			// 304 Not Modified (or an empty body): nothing new.
			return nil
		}
		e.status.LastSuccessfulDownload = now
		e.status.Size = u.Size
		e.status.Type = bundle.SnapshotBundleType
		e.status.DownloadedRevision = u.Bundle.Manifest.Revision
		e.cur = u.Bundle
		s.gen++
		s.log.Info("bundle downloaded", "bundle", e.name, "revision", u.Bundle.Manifest.Revision, "etag", u.ETag, "bytes", u.Size)
		return nil
	}
}

// Fetch returns the merge of the newest good download of every bundle,
// once, after any of them changed and only when each has been downloaded
// at least once. Failing that it returns a download failure not yet
// returned, or (nil, false, nil).
func (s *Source) Fetch(context.Context) (*bundle.Bundle, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offered = nil
	if s.gen != s.fetchedGen && s.complete() {
		s.fetchedGen = s.gen
		b, revs, err := s.merge()
		if err != nil {
			return nil, false, err
		}
		s.offered = revs
		return b, true, nil
	}
	if s.errSeq != s.reportedSeq {
		s.reportedSeq = s.errSeq
		return nil, false, s.lastErr
	}
	return nil, false, nil
}

func (s *Source) complete() bool {
	for _, e := range s.entries {
		if e.cur == nil {
			return false
		}
	}
	return true
}

// RootsOverlapError is two bundles claiming overlapping parts of data;
// OPA refuses to activate such a set and so does Fetch.
type RootsOverlapError struct {
	Bundles [2]string
	Roots   [2]string
}

func (e *RootsOverlapError) Error() string {
	return fmt.Sprintf("bundles %q and %q have overlapping roots %q and %q; each part of data may come from one bundle only",
		e.Bundles[0], e.Bundles[1], e.Roots[0], e.Roots[1])
}

func roots(b *bundle.Bundle) []string {
	if b.Manifest.Roots == nil {
		return []string{""}
	}
	return *b.Manifest.Roots
}

// merge combines the current bundles. Module paths get the bundle name as
// a prefix, as OPA does when it stores several bundles, so that two
// bundles' policy.rego do not collide.
func (s *Source) merge() (*bundle.Bundle, map[string]string, error) {
	for i, a := range s.entries {
		for _, b := range s.entries[i+1:] {
			for _, ra := range roots(a.cur) {
				for _, rb := range roots(b.cur) {
					if bundle.RootPathsOverlap(ra, rb) {
						return nil, nil, &RootsOverlapError{Bundles: [2]string{a.name, b.name}, Roots: [2]string{ra, rb}}
					}
				}
			}
		}
	}
	parts := make([]*bundle.Bundle, len(s.entries))
	revs := make(map[string]string, len(s.entries))
	var combined []string
	for i, e := range s.entries {
		c := *e.cur
		c.Modules = make([]bundle.ModuleFile, len(e.cur.Modules))
		for j, m := range e.cur.Modules {
			m.Path = path.Join(e.name, m.Path)
			c.Modules[j] = m
		}
		parts[i] = &c
		revs[e.name] = e.cur.Manifest.Revision
		combined = append(combined, e.name+"="+e.cur.Manifest.Revision)
	}
	merged, err := bundle.MergeWithRegoVersion(parts, s.regoVer, false)
	if err != nil {
		return nil, nil, fmt.Errorf("merging bundles %s: %w", strings.Join(s.names(), ", "), err)
	}
	if len(parts) > 1 {
		// The policy manager names sets by revision; one made of several
		// bundles is named by all of theirs.
		merged.Manifest.Revision = strings.Join(combined, ",")
	}
	return merged, revs, nil
}

func (s *Source) names() []string {
	ns := make([]string, len(s.entries))
	for i, e := range s.entries {
		ns[i] = e.name
	}
	return ns
}

// ReportActivation tells the source what became of the state Fetch last
// returned: err nil when the policy manager serves it. Wire it to the
// manager's OnLoad. Calls after a Fetch that returned no bundle are
// ignored.
func (s *Source) ReportActivation(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.offered == nil {
		return
	}
	now := time.Now().UTC()
	for _, e := range s.entries {
		rev, ok := s.offered[e.name]
		if !ok {
			continue
		}
		if err == nil {
			e.status.ActiveRevision = rev
			e.status.LastSuccessfulActivation = now
		} else if e.status.Code == "" {
			e.status.Code, e.status.Message = errCode, "activation failed: "+err.Error()
		}
	}
	s.offered = nil
}

// Status returns every bundle's status, by name.
func (s *Source) Status() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Status, len(s.entries))
	for i, e := range s.entries {
		out[i] = e.status
	}
	return out
}

// Activated reports whether every bundle has been activated at least once,
// which is what OPA's /health?bundles checks.
func (s *Source) Activated() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.entries {
		if e.status.LastSuccessfulActivation.IsZero() {
			return false
		}
	}
	return true
}

// Revisions are the revisions of the bundles the last Fetch offered, by
// bundle name, or nil; the policy manager stamps them on the set it builds
// from that state, for decision logs.
func (s *Source) Revisions() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.offered == nil {
		return nil
	}
	out := make(map[string]string, len(s.offered))
	for k, v := range s.offered {
		out[k] = v
	}
	return out
}
