package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"

	"github.com/secureai-nexus/nexus/controlplane/internal/atomicfile"
	"github.com/secureai-nexus/nexus/controlplane/internal/compliance"
)

func complianceReportFlags(fs *flag.FlagSet) runFunc {
	framework := fs.String("framework", "", "hipaa, gdpr, soc2 or iso27001 (required)")
	format := fs.String("format", "oscal", "oscal (OSCAL Assessment Results JSON), md or html")
	outFile := fs.String("o", "", "write the report to this file instead of stdout")
	return func(ctx context.Context, e *env, _ []string) error {
		return e.c.complianceReport(ctx, e.stdout, *framework, *format, *outFile)
	}
}

// complianceReport runs `nexusctl compliance report`: the control plane
// evaluates the catalogue from its live evidence; the report is written
// as it came, to stdout or a file.
func (c *client) complianceReport(ctx context.Context, w io.Writer, framework, format, outFile string) error {
	fw, err := compliance.ParseFramework(framework)
	if err != nil {
		return fmt.Errorf("compliance report: --framework: %w", err)
	}
	f, err := compliance.ParseFormat(format)
	if err != nil {
		return fmt.Errorf("compliance report: --format: %w", err)
	}
	var body []byte
	q := url.Values{"framework": {string(fw)}, "format": {string(f)}}
	if err := c.do(ctx, "GET", "/api/v1/admin/compliance/report?"+q.Encode(), nil, &body); err != nil {
		return err
	}
	if outFile == "" {
		_, err := w.Write(body)
		return err
	}
	if err := atomicfile.Write(outFile, body, 0o600); err != nil {
		return fmt.Errorf("compliance report: %w", err)
	}
	fmt.Fprintf(w, "wrote the %s report (%s) to %s\n", fw, f, outFile)
	return nil
}
