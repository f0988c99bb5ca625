package compliance

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"slices"
	"strings"
	"text/template"
	"time"
)

// Format is a report's output format.
type Format string

const (
	FormatOSCAL    Format = "oscal"
	FormatMarkdown Format = "md"
	FormatHTML     Format = "html"
)

// ParseFormat reads a format name as the API and nexusctl take it.
func ParseFormat(s string) (Format, error) {
	f := Format(strings.ToLower(strings.TrimSpace(s)))
	if slices.Contains([]Format{FormatOSCAL, FormatMarkdown, FormatHTML}, f) {
		return f, nil
	}
	return "", fmt.Errorf("unknown format %q: want one of oscal, md, html", s)
}

// ContentType is the format's media type.
func (f Format) ContentType() string {
	switch f {
	case FormatOSCAL:
		return "application/json"
	case FormatMarkdown:
		return "text/markdown; charset=utf-8"
	case FormatHTML:
		return "text/html; charset=utf-8"
	}
	return "application/octet-stream"
}

// Render writes the report in format f.
func Render(r Report, f Format) ([]byte, error) {
	switch f {
	case FormatOSCAL:
		return OSCAL(r)
	case FormatMarkdown:
		return Markdown(r)
	case FormatHTML:
		return HTML(r)
	}
	return nil, fmt.Errorf("unknown format %q", f)
}

// view is what the templates see.
type view struct {
	Report
	Title     string
	Generated string
	Sat, Not  int
	Total     int
}

func newView(r Report) view {
	sat, not := r.Counts()
	return view{Report: r, Title: r.Framework.Title(), Generated: r.Generated.UTC().Format(time.RFC3339), Sat: sat, Not: not, Total: len(r.Findings)}
}

var funcs = map[string]any{
	"controls": func(cs []Control) string {
		ids := make([]string, len(cs))
		for i, c := range cs {
			ids[i] = c.ID
		}
		return strings.Join(ids, ", ")
	},
	"cell": func(s string) string { return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s) },
	"mark": func(s Status) string {
		if s == Satisfied {
			return "✅ satisfied"
		}
		return "❌ not satisfied"
	},
	"inc": func(i int) int { return i + 1 },
	"cls": func(s Status) string {
		if s == Satisfied {
			return "ok"
		}
		return "bad"
	},
}

const markdownTmpl = `# SecureAI Nexus compliance report: {{.Title}}

Generated {{.Generated}} from live evidence. **{{.Sat}} of {{.Total}} checks satisfied, {{.Not}} not satisfied.**
A check whose evidence cannot be collected is not satisfied.

## Summary

| Check | Controls | Method | Status | Result |
| --- | --- | --- | --- | --- |
{{range .Findings}}| ` + "`{{.CheckID}}`" + ` {{cell .Title}} | {{cell (controls .Controls)}} | {{.Method}} | {{mark .Status}} | {{cell .Summary}} |
{{end}}
## Violations and remediation
{{if not .Violations}}
None: every check is satisfied.
{{end}}{{range .Violations}}
### ` + "`{{.CheckID}}`" + ` {{.Title}}

Controls: {{controls .Controls}}. Evidence source: {{.Source}}.

{{.Summary}}
{{if .Violations}}
Violations:
{{range .Violations}}
- {{.}}{{end}}
{{end}}
Remediation:
{{range $i, $s := .Remediation}}
{{inc $i}}. {{$s}}{{end}}
{{end}}
## Evidence
{{range .Findings}}
### ` + "`{{.CheckID}}`" + ` ({{.Status}}, collected {{.Collected.UTC.Format "2006-01-02T15:04:05Z07:00"}})
{{if .Evidence}}{{range .Evidence}}
- {{.}}{{end}}{{else}}
- (no evidence collected: {{.Summary}}){{end}}
{{end}}`

// Markdown writes the report as Markdown: a summary table, then the
// violations with their remediation, then the evidence.
func Markdown(r Report) ([]byte, error) {
	t, err := template.New("md").Funcs(funcs).Parse(markdownTmpl)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, newView(r)); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// htmlTmpl is one self-contained page: inline CSS, no scripts, no fonts,
// no images, nothing fetched, so it opens anywhere and can be archived
// as evidence.
const htmlTmpl = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Nexus compliance report: {{.Title}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f4f6f8;color:#1b1f24}
header{background:#12324a;color:#fff;padding:24px 32px}
header h1{margin:0 0 6px;font-size:24px}
main{padding:24px 32px;max-width:1200px}
.totals{display:flex;gap:16px;margin:0 0 24px}
.tile{flex:1;padding:16px;border-radius:8px;color:#fff;font-size:18px}
.tile b{display:block;font-size:32px}
.tile.ok{background:#1f7a3d}.tile.bad{background:#b3261e}.tile.all{background:#3b4b5c}
table{border-collapse:collapse;width:100%;background:#fff;margin-bottom:24px}
th,td{border:1px solid #d0d7de;padding:8px;text-align:left;vertical-align:top;font-size:14px}
th{background:#e8edf2}
td.ok{background:#dcf5e3;color:#14532d;font-weight:600}
td.bad{background:#fde2e0;color:#7f1d1d;font-weight:600}
section.violation{background:#fff;border-left:6px solid #b3261e;padding:12px 20px;margin-bottom:16px}
section.evidence{background:#fff;border-left:6px solid #3b4b5c;padding:12px 20px;margin-bottom:12px}
code{background:#eef1f4;padding:1px 4px;border-radius:3px}
li{margin:3px 0}
</style>
</head>
<body>
<header><h1>SecureAI Nexus compliance report</h1><div>{{.Title}} · generated {{.Generated}} from live evidence</div></header>
<main>
<div class="totals"><div class="tile all"><b>{{.Total}}</b>checks</div><div class="tile ok"><b>{{.Sat}}</b>satisfied</div><div class="tile bad"><b>{{.Not}}</b>not satisfied</div></div>
<p>A check whose evidence cannot be collected is not satisfied.</p>
<h2>Summary</h2>
<table>
<tr><th>Check</th><th>Controls</th><th>Method</th><th>Status</th><th>Result</th></tr>
{{range .Findings}}<tr><td><code>{{.CheckID}}</code><br>{{.Title}}</td><td>{{controls .Controls}}</td><td>{{.Method}}</td><td class="{{cls .Status}}">{{.Status}}</td><td>{{.Summary}}</td></tr>
{{end}}</table>
<h2>Violations and remediation</h2>
{{if not .Violations}}<p>None: every check is satisfied.</p>{{end}}
{{range .Violations}}<section class="violation">
<h3><code>{{.CheckID}}</code> {{.Title}}</h3>
<p>Controls: {{controls .Controls}}. Evidence source: {{.Source}}.</p>
<p>{{.Summary}}</p>
{{if .Violations}}<ul>{{range .Violations}}<li>{{.}}</li>{{end}}</ul>{{end}}
<h4>Remediation</h4>
<ol>{{range .Remediation}}<li>{{.}}</li>{{end}}</ol>
</section>
{{end}}
<h2>Evidence</h2>
{{range .Findings}}<section class="evidence">
<h3><code>{{.CheckID}}</code> {{.Status}} · collected {{.Collected.UTC.Format "2006-01-02T15:04:05Z07:00"}} · {{.Method}}</h3>
<ul>{{range .Evidence}}<li>{{.}}</li>{{else}}<li>No evidence collected: {{.Summary}}</li>{{end}}</ul>
</section>
{{end}}
</main>
</body>
</html>
`

// HTML writes the report as one self-contained HTML page.
func HTML(r Report) ([]byte, error) {
	t, err := htmltemplate.New("html").Funcs(funcs).Parse(htmlTmpl)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, newView(r)); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
