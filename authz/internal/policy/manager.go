package policy

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Status is what /readyz reports about policies.
type Status struct {
	Ready    bool   `json:"ready"`
	Source   string `json:"source"`
	Revision string `json:"revision,omitempty"`
	Tests    int    `json:"tests"`
	// DecisionCache is the serving set's decision cache.
	DecisionCache *CacheInfo `json:"decision_cache,omitempty"`
	LastSuccess   time.Time  `json:"last_success,omitempty"`
	LastAttempt   time.Time  `json:"last_attempt,omitempty"`
	// LastError is why the newest set was refused; the previous set, if
	// any, keeps serving.
	LastError string `json:"last_error,omitempty"`
}

// Manager serves the last good policy set and replaces it as the source
// changes.
type Manager struct {
	src  Source
	opts Options
	log  *slog.Logger
	// OnLoad, when set, is told of each load attempt's outcome: the new
	// set's revision, or why it was refused. It runs under the manager's
	// lock: it may call Current, not Status or Reload.
	OnLoad func(ok bool, revision string, err error)

	current atomic.Pointer[Set]
	mu      sync.Mutex
	status  Status
}

// NewManager returns a manager with nothing loaded yet.
func NewManager(src Source, opts Options, log *slog.Logger) *Manager {
	return &Manager{src: src, opts: opts, log: log, status: Status{Source: src.String()}}
}

// Current returns the serving set, or nil before the first good load.
func (m *Manager) Current() *Set { return m.current.Load() }

// Status returns the load status.
func (m *Manager) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.status
}

// Reload fetches the source and, if it changed, builds and swaps in the new
// set. A set that fails to load, compile or pass its tests is refused; the
// error is returned, logged and kept for /readyz.
func (m *Manager) Reload(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.status.LastAttempt = time.Now()
	b, changed, err := m.src.Fetch(ctx)
	if err == nil && !changed {
		return nil
	}
	var set *Set
	if err == nil {
		set, err = Build(ctx, b, m.opts)
	}
	if err != nil {
		// A source that stays broken is read again every poll; say so once.
		if err.Error() != m.status.LastError {
			m.log.Error("policy set refused; the previous set keeps serving", "source", m.src.String(), "serving_revision", m.status.Revision, "error", err)
		}
		m.status.LastError = err.Error()
		if m.OnLoad != nil {
			m.OnLoad(false, "", err)
		}
		return err
	}
	if rs, ok := m.src.(interface{ Revisions() map[string]string }); ok {
		set.Bundles = rs.Revisions()
	}
	m.current.Store(set)
	m.status.Ready = true
	m.status.Revision = set.Revision
	m.status.Tests = set.Tests
	ci := set.CacheInfo()
	m.status.DecisionCache = &ci
	m.status.LastSuccess = set.Loaded
	m.status.LastError = ""
	m.log.Info("policy set loaded", "source", m.src.String(), "revision", set.Revision, "query", set.Query, "rego_tests_passed", set.Tests)
	if m.OnLoad != nil {
		m.OnLoad(true, set.Revision, nil)
	}
	return nil
}

// Watch reloads every interval until ctx ends.
func (m *Manager) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = m.Reload(ctx)
		}
	}
}
