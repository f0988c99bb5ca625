package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/accessreview"
)

func accessReviewFlags(fs *flag.FlagSet) runFunc {
	output := fs.String("o", "table", "output: table or json")
	return func(ctx context.Context, e *env, _ []string) error { return e.c.accessReview(ctx, e.stdout, *output) }
}

func (c *client) accessReview(ctx context.Context, w io.Writer, output string) error {
	if output != "table" && output != "json" {
		return fmt.Errorf("access-review: -o %q: want table or json", output)
	}
	var rep accessreview.Report
	if err := c.do(ctx, "GET", "/api/v1/admin/access-review", nil, &rep); err != nil {
		return err
	}
	if output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tID\tACCESS\tLAST USED\tEXPIRES\tREVIEW")
	stale := 0
	for _, p := range rep.Principals {
		flag := ""
		if p.Stale {
			flag, stale = "stale: never used or not in 90 days", stale+1
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.Kind, p.ID, p.Access, when(p.LastUsed, p.LastAction), when(p.Expires, ""), flag)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "%s, %d stale\n", plural(len(rep.Principals), "principal"), stale)
	for _, u := range rep.Unavailable {
		fmt.Fprintln(w, "INCOMPLETE:", u)
	}
	return nil
}

func when(t time.Time, what string) string {
	if t.IsZero() {
		if what != "" {
			return what
		}
		return "never"
	}
	s := t.UTC().Format(time.RFC3339)
	if what != "" {
		s += " (" + what + ")"
	}
	return s
}
