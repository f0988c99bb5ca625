package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/rollout"
)

// rolloutVerb runs rollout status, watch, abort, promote, pause or resume.
func (c *client) rolloutVerb(ctx context.Context, w io.Writer, verb, model string) error {
	switch verb {
	case "status":
		st, err := c.rolloutState(ctx, model)
		if err != nil {
			return err
		}
		return printRollout(w, st, time.Now())
	case "watch":
		return c.rolloutWatch(ctx, w, model)
	}
	var st rollout.State
	if err := c.do(ctx, "POST", "/api/v1/admin/models/"+model+"/rollouts/current/"+verb, nil, &st); err != nil {
		return err
	}
	return printRollout(w, st, time.Now())
}

// rolloutOptions is what `nexusctl rollout start` is called with.
type rolloutOptions struct {
	steps, rollback string
	interval        time.Duration
	passes          int
}

func rolloutStartFlags(fs *flag.FlagSet) runFunc {
	var o rolloutOptions
	fs.StringVar(&o.steps, "steps", "", "the canary's weight at each step, e.g. 5,15,25,50,100 (default 5, then +10 per step)")
	fs.DurationVar(&o.interval, "interval", 0, "time between evaluations (default 30m)")
	fs.IntVar(&o.passes, "passes", 0, "consecutive passing evaluations per step (default 1)")
	fs.StringVar(&o.rollback, "rollback", "", "immediate (default) or gradual")
	return func(ctx context.Context, e *env, args []string) error {
		return e.c.rolloutStart(ctx, e.stdout, args[0], args[1], o)
	}
}

func (c *client) rolloutStart(ctx context.Context, w io.Writer, model, version string, o rolloutOptions) error {
	spec := rollout.Spec{Version: version, Passes: o.passes, Rollback: o.rollback, Interval: rollout.Duration(o.interval)}
	if o.steps != "" {
		for _, s := range strings.Split(o.steps, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil {
				return fmt.Errorf("--steps: %q is not a number", s)
			}
			spec.Steps = append(spec.Steps, n)
		}
	}
	var st rollout.State
	if err := c.do(ctx, "POST", "/api/v1/admin/models/"+model+"/rollouts", spec, &st); err != nil {
		return err
	}
	return printRollout(w, st, time.Now())
}

func (c *client) rolloutState(ctx context.Context, model string) (rollout.State, error) {
	var st rollout.State
	err := c.do(ctx, "GET", "/api/v1/admin/models/"+model+"/rollouts/current", nil, &st)
	return st, err
}

func (c *client) rolloutWatch(ctx context.Context, w io.Writer, model string) error {
	for {
		st, err := c.rolloutState(ctx, model)
		if err != nil {
			return err
		}
		fmt.Fprint(w, "\x1b[H\x1b[2J") // redraw in place on a terminal
		if err := printRollout(w, st, time.Now()); err != nil {
			return err
		}
		if st.Phase.Terminal() {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(2 * time.Second):
		}
	}
}

// printRollout shows a rollout as an operator reads it: where it is, a
// progress bar of the canary's weight, each gate's verdict with its
// numbers, and the last events.
func printRollout(w io.Writer, st rollout.State, now time.Time) error {
	const width = 40
	filled := st.Weight * width / 100
	fmt.Fprintf(w, "%s: %s → %s  %s\n", st.Model, st.Baseline, st.Canary, strings.ToUpper(string(st.Phase)))
	fmt.Fprintf(w, "  [%s%s] %3d%%  step %d of %d", strings.Repeat("#", filled), strings.Repeat(".", width-filled), st.Weight, st.Step+1, len(st.Spec.Steps))
	if !st.Phase.Terminal() && st.Phase != rollout.Paused {
		next := st.LastEvaluated.Add(time.Duration(st.Spec.Interval))
		fmt.Fprintf(w, ", next evaluation in %s", max(0, next.Sub(now)).Round(time.Second))
	}
	fmt.Fprintln(w)
	if st.Reason != "" {
		fmt.Fprintf(w, "  %s\n", st.Reason)
	}
	if len(st.Gates) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  GATE\tVERDICT\tDETAIL")
		for _, g := range st.Gates {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", g.Name, g.Verdict, g.Detail)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	from := max(0, len(st.History)-5)
	for _, e := range st.History[from:] {
		fmt.Fprintf(w, "  %s  %-12s %3d%%  %s\n", e.Time.Local().Format("15:04:05"), e.Type, e.Weight, e.Message)
	}
	return nil
}
