package admin

import (
	"net/http"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/compliance"
)

// complianceReport evaluates the catalogue for one framework against the
// live evidence and writes it as OSCAL, Markdown or HTML.
func (a *API) complianceReport(w http.ResponseWriter, r *http.Request, _ Principal) {
	q := r.URL.Query()
	fw, err := compliance.ParseFramework(q.Get("framework"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_argument", "framework", err.Error())
		return
	}
	format := compliance.FormatOSCAL
	if v := q.Get("format"); v != "" {
		if format, err = compliance.ParseFormat(v); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_argument", "format", err.Error())
			return
		}
	}
	ctx, cancel := commitContext(r)
	defer cancel()
	rep := compliance.Evaluate(ctx, fw, *a.Compliance, time.Now)
	out, err := compliance.Render(rep, format)
	if err != nil {
		a.Log.Error("render compliance report", "framework", fw, "format", format, "error", err)
		writeError(w, http.StatusInternalServerError, "internal", "", "could not render the report")
		return
	}
	w.Header().Set("Content-Type", format.ContentType())
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(out)
}
