package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/rollout"
)

// hookPayload is Flagger's webhook payload: name and namespace name the
// canary, phase is Flagger's word for where it is, metadata carries the
// hook's own and, for events, the event.
type hookPayload struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace"`
	Phase     string            `json:"phase"`
	Checksum  string            `json:"checksum"`
	Metadata  map[string]string `json:"metadata,omitempty"`
}

// flaggerPhase maps a rollout's phase to Flagger's.
func flaggerPhase(p rollout.Phase) string {
	switch p {
	case rollout.Waiting, rollout.Paused:
		return "Waiting"
	case rollout.Progressing:
		return "Progressing"
	case rollout.Promoted:
		return "Succeeded"
	}
	return "Failed"
}

// callHooks calls st's webhooks of the given types and returns their
// answers.
func (r *Runner) callHooks(ctx context.Context, st rollout.State, types []string) []rollout.HookResult {
	var out []rollout.HookResult
	for _, typ := range types {
		for _, h := range st.Spec.HooksOf(typ) {
			out = append(out, r.call(ctx, st, h, nil))
		}
	}
	return out
}

func (r *Runner) call(ctx context.Context, st rollout.State, h rollout.Hook, extra map[string]string) rollout.HookResult {
	meta := map[string]string{"type": h.Type, "model": st.Model, "version": st.Canary, "baseline": st.Baseline, "weight": fmt.Sprint(st.Weight)}
	for k, v := range h.Metadata {
		meta[k] = v
	}
	for k, v := range extra {
		meta[k] = v
	}
	body, _ := json.Marshal(hookPayload{Name: st.Model, Namespace: "nexus", Phase: flaggerPhase(st.Phase), Checksum: st.Canary, Metadata: meta})
	ctx, cancel := context.WithTimeout(ctx, max(time.Duration(h.Timeout), time.Second))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", h.URL, bytes.NewReader(body))
	if err != nil {
		return rollout.HookResult{Hook: h.Name, Detail: err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	client := r.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return rollout.HookResult{Hook: h.Name, Detail: err.Error()}
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	res := rollout.HookResult{Hook: h.Name, OK: resp.StatusCode/100 == 2}
	if !res.OK {
		res.Detail = fmt.Sprintf("%d %s", resp.StatusCode, bytes.TrimSpace(msg))
	}
	return res
}

// announce tells event webhooks of each event and, when the rollout has
// just ended, calls its post-rollout webhooks. Their answers change
// nothing.
func (r *Runner) announce(ctx context.Context, st rollout.State, act rollout.Action) {
	for _, ev := range act.Events {
		for _, h := range st.Spec.HooksOf(rollout.HookEvent) {
			kind := "Normal"
			if ev.Type == "rolled_back" || ev.Type == "rolling_back" || ev.Type == "aborted" {
				kind = "Warning"
			}
			r.call(ctx, st, h, map[string]string{"eventMessage": ev.Message, "eventType": kind})
		}
	}
	if st.Phase.Terminal() && len(act.Events) > 0 {
		for _, h := range st.Spec.HooksOf(rollout.HookPostRollout) {
			if res := r.call(ctx, st, h, nil); !res.OK {
				r.Log.Warn("post-rollout webhook failed", "model", st.Model, "hook", h.Name, "detail", res.Detail)
			}
		}
	}
}
