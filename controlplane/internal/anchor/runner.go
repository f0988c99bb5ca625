package anchor

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/store"
)

// Feed is one nexus-authz's audit feed.
type Feed struct {
	// Name is the audit log's actor for its entries ("authz/HOST:PORT").
	Name string
	// URL is its GET /v1/nexus/audit-feed.
	URL string
}

// ParseFeed reads the --authz-audit-feed flag: a nexus-authz HTTP base
// URL ("http://127.0.0.1:9192") or the feed's full URL.
func ParseFeed(s string) (Feed, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Feed{}, fmt.Errorf("audit feed %q: want nexus-authz's HTTP address, e.g. http://127.0.0.1:9192", s)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/nexus/audit-feed"
	}
	return Feed{Name: "authz/" + u.Host, URL: u.String()}, nil
}

const schema = `CREATE TABLE IF NOT EXISTS anchor_cursors (
	feed       TEXT PRIMARY KEY,
	instance   TEXT NOT NULL,
	seq        INTEGER NOT NULL,
	head       TEXT NOT NULL,
	updated_at TEXT NOT NULL
);`

// Runner pulls every feed each Interval and writes what Plan says.
type Runner struct {
	Log      *slog.Logger
	Store    store.Tables
	Feeds    []Feed
	Client   *http.Client
	Interval time.Duration
	Now      func() time.Time

	mu      sync.Mutex
	cursors map[string]Cursor
	// last is each feed's last pull outcome, for the compliance report.
	last map[string]Status
}

// Status is a feed's last pull.
type Status struct {
	Feed      string    `json:"feed"`
	LastPull  time.Time `json:"last_pull,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	// LastAnchor is when the decision log's head was last anchored.
	LastAnchor time.Time `json:"last_anchor,omitzero"`
	Head       string    `json:"head,omitempty"`
	// DecisionLog is how the feed's nexus-authz keeps its decision log,
	// as its last page said.
	DecisionLog *LogConfig `json:"decision_log,omitempty"`
}

// Every is the pull interval in effect.
func (r *Runner) Every() time.Duration {
	if r.Interval <= 0 {
		return time.Minute
	}
	return r.Interval
}

// Load creates the cursor table and reads where each feed was left.
func (r *Runner) Load(ctx context.Context) error {
	if err := r.Store.EnsureSchema(ctx, schema); err != nil {
		return fmt.Errorf("anchor: %w", err)
	}
	rows, err := r.Store.Query(ctx, `SELECT feed, instance, seq, head FROM anchor_cursors`)
	if err != nil {
		return fmt.Errorf("anchor: read cursors: %w", err)
	}
	defer rows.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cursors, r.last = map[string]Cursor{}, map[string]Status{}
	for rows.Next() {
		var feed string
		var c Cursor
		if err := rows.Scan(&feed, &c.Instance, &c.Seq, &c.Head); err != nil {
			return fmt.Errorf("anchor: read cursors: %w", err)
		}
		r.cursors[feed] = c
	}
	return rows.Err()
}

// retryAfter is how soon a failed pull is tried again (at most the
// interval): a nexus-authz that starts after the control plane is anchored
// within seconds, not at the next interval.
const retryAfter = 2 * time.Second

// Run pulls until ctx ends.
func (r *Runner) Run(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		next := r.Every()
		for _, f := range r.Feeds {
			r.mu.Lock()
			before := r.last[f.Name].LastError
			r.mu.Unlock()
			if err := r.Pull(ctx, f); err != nil && ctx.Err() == nil {
				// Said once per new error, not at every retry.
				if err.Error() != before {
					r.Log.Warn("audit feed pull failed; retrying", "feed", f.Name, "error", err)
				}
				next = min(next, retryAfter)
			} else if err == nil && before != "" {
				r.Log.Info("audit feed pulled again", "feed", f.Name)
			}
		}
		t.Reset(next)
	}
}

// Statuses returns each feed's last pull.
func (r *Runner) Statuses() []Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Status, 0, len(r.Feeds))
	for _, f := range r.Feeds {
		s := r.last[f.Name]
		s.Feed = f.Name
		out = append(out, s)
	}
	return out
}

// Pull reads one feed and writes its entries, each with the cursor after
// it in the same transaction.
func (r *Runner) Pull(ctx context.Context, f Feed) error {
	err := r.pull(ctx, f)
	r.mu.Lock()
	s := r.last[f.Name]
	s.LastPull = r.now()
	s.LastError = ""
	if err != nil {
		s.LastError = err.Error()
	}
	r.last[f.Name] = s
	r.mu.Unlock()
	return err
}

func (r *Runner) pull(ctx context.Context, f Feed) error {
	r.mu.Lock()
	cur := r.cursors[f.Name]
	r.mu.Unlock()
	p, err := r.fetch(ctx, f, cur.Seq)
	if err != nil {
		return err
	}
	if p.Instance != cur.Instance && cur.Seq > 0 {
		// A restarted nexus-authz numbers its events from 1 again.
		if p, err = r.fetch(ctx, f, 0); err != nil {
			return err
		}
	}
	r.mu.Lock()
	s := r.last[f.Name]
	s.DecisionLog = p.DecisionLogConfig
	r.last[f.Name] = s
	r.mu.Unlock()
	for _, st := range Plan(f.Name, cur, p, r.now()) {
		c := st.Cursor
		_, err := r.Store.Change(ctx, st.Entry, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO anchor_cursors (feed, instance, seq, head, updated_at) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (feed) DO UPDATE SET instance = excluded.instance, seq = excluded.seq, head = excluded.head, updated_at = excluded.updated_at`,
				f.Name, c.Instance, c.Seq, c.Head, r.now().UTC().Format(time.RFC3339Nano))
			return err
		})
		if err != nil {
			return fmt.Errorf("write %s: %w", st.Entry.Action, err)
		}
		r.mu.Lock()
		r.cursors[f.Name] = c
		if st.Entry.Action == ActionAnchor {
			s := r.last[f.Name]
			s.LastAnchor, s.Head = st.Entry.Time, c.Head
			r.last[f.Name] = s
		}
		r.mu.Unlock()
	}
	return nil
}

// maxPage bounds a feed page: a thousand events with bounded reasons.
const maxPage = 4 << 20

func (r *Runner) fetch(ctx context.Context, f Feed, after int64) (Page, error) {
	u, err := url.Parse(f.URL)
	if err != nil {
		return Page{}, err
	}
	q := u.Query()
	q.Set("after", strconv.FormatInt(after, 10))
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Page{}, err
	}
	client := r.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return Page{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxPage+1))
	if err != nil {
		return Page{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return Page{}, fmt.Errorf("%s: %s", u.Redacted(), resp.Status)
	}
	if len(raw) > maxPage {
		return Page{}, errors.New("audit feed page is larger than 4 MiB")
	}
	return Parse(raw)
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}
