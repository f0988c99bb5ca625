package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/secureai-nexus/nexus/authz/internal/bundles"
	"github.com/secureai-nexus/nexus/authz/internal/opaconfig"
)

// statusReporter sends OPA status reports — labels, each bundle's
// download and activation state, each plugin's state — to the status
// service (POST <service>/status) and/or the log, whenever one of them
// may have changed, as OPA's status plugin does.
type statusReporter struct {
	log     *slog.Logger
	console bool
	client  *http.Client
	url     string
	labels  map[string]string
	health  healthSource
	bundles *bundles.Source
	kick    chan struct{}
}

func newStatusReporter(log *slog.Logger, oc *opaconfig.Config, labels map[string]string, hs healthSource, bs *bundles.Source) (*statusReporter, error) {
	if oc == nil || oc.Status == nil || (oc.Status.Service == "" && !oc.Status.Console) {
		return nil, nil
	}
	r := &statusReporter{log: log, console: oc.Status.Console, labels: labels, health: hs, bundles: bs, kick: make(chan struct{}, 1)}
	if oc.Status.Service != "" {
		client, base, err := serviceHTTPClient(oc, oc.Status.Service)
		if err != nil {
			return nil, fmt.Errorf("status.service: %w", err)
		}
		r.client, r.url = client, base+"/status"
	}
	return r, nil
}

// Changed asks for a report; it never blocks.
func (r *statusReporter) Changed() {
	if r == nil {
		return
	}
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

func (r *statusReporter) report() map[string]any {
	plugins := map[string]any{}
	for name, st := range r.health.Plugins() {
		plugins[name] = map[string]string{"state": string(st)}
	}
	out := map[string]any{"labels": r.labels, "plugins": plugins}
	if r.bundles != nil {
		bs := map[string]any{}
		for _, st := range r.bundles.Status() {
			bs[st.Name] = st
		}
		out["bundles"] = bs
	}
	return out
}

// Run sends a report at start and after each change, at most one a
// second, until ctx ends; a failed upload is retried with the next one.
func (r *statusReporter) Run(ctx context.Context) {
	r.Changed()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.kick:
		}
		body, err := json.Marshal(r.report())
		if err != nil {
			r.log.Error("status report", "error", err)
			continue
		}
		if r.console {
			r.log.Info("Status Log", "status", json.RawMessage(body))
		}
		if r.client != nil {
			if err := r.post(ctx, body); err != nil {
				r.log.Warn("status report not sent", "url", redactURL(r.url), "error", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (r *statusReporter) post(ctx context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("status service answered %s", resp.Status)
	}
	return nil
}

// redactURL drops credentials a service URL may carry.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User = nil
	u.RawQuery = ""
	return u.String()
}
