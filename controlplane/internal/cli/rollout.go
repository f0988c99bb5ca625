package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/rollout"
)

const rolloutUsage = `usage:
  nexusctl rollout start MODEL VERSION [--steps 5,15,…,100] [--interval 30m] [--passes 1] [--rollback immediate|gradual]
  nexusctl rollout status MODEL
  nexusctl rollout watch MODEL          redraw the status until the rollout ends
  nexusctl rollout abort|promote|pause|resume MODEL`

func (c *client) rollout(ctx context.Context, w io.Writer, args []string) error {
	if len(args) == 0 {
		return errors.New(rolloutUsage)
	}
	verb, rest := args[0], args[1:]
	switch verb {
	case "start":
		return c.rolloutStart(ctx, w, rest)
	case "status", "watch", "abort", "promote", "pause", "resume":
		if len(rest) != 1 {
			return fmt.Errorf("rollout %s takes one MODEL\n%s", verb, rolloutUsage)
		}
		model := rest[0]
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
	return fmt.Errorf("unknown rollout command %q\n%s", verb, rolloutUsage)
}

func (c *client) rolloutStart(ctx context.Context, w io.Writer, args []string) error {
	fs := flag.NewFlagSet("rollout start", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	steps := fs.String("steps", "", "the canary's weight at each step, e.g. 5,15,25,50,100 (default 5, then +10 per step)")
	interval := fs.Duration("interval", 0, "time between evaluations (default 30m)")
	passes := fs.Int("passes", 0, "consecutive passing evaluations per step (default 1)")
	rollback := fs.String("rollback", "", "immediate (default) or gradual")
	var pos []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return fmt.Errorf("rollout start: %v\n%s", err, rolloutUsage)
		}
		args = fs.Args()
		if len(args) > 0 {
			pos, args = append(pos, args[0]), args[1:]
		}
	}
	if len(pos) != 2 {
		return fmt.Errorf("rollout start takes MODEL VERSION\n%s", rolloutUsage)
	}
	spec := rollout.Spec{Version: pos[1], Passes: *passes, Rollback: *rollback, Interval: rollout.Duration(*interval)}
	if *steps != "" {
		for _, s := range strings.Split(*steps, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil {
				return fmt.Errorf("--steps: %q is not a number", s)
			}
			spec.Steps = append(spec.Steps, n)
		}
	}
	var st rollout.State
	if err := c.do(ctx, "POST", "/api/v1/admin/models/"+pos[0]+"/rollouts", spec, &st); err != nil {
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
