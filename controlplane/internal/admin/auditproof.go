package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/secureai-nexus/nexus/controlplane/internal/audit"
)

func (a *API) auditCheckpoint(w http.ResponseWriter, r *http.Request, _ Principal) {
	ctx, cancel := commitContext(r)
	defer cancel()
	size, err := a.Audit.AuditSize(ctx)
	var root audit.Hash
	if err == nil {
		root, err = audit.TreeRoot(ctx, a.Audit, size)
	}
	if err != nil {
		a.Log.Error("read audit tree", "error", err)
		writeError(w, http.StatusInternalServerError, "internal", "", "could not read the audit log")
		return
	}
	signed, err := a.AuditSigner.Sign(audit.Checkpoint{Origin: a.AuditOrigin, Size: size, Root: root})
	if err != nil {
		a.Log.Error("sign checkpoint", "error", err)
		writeError(w, http.StatusInternalServerError, "internal", "", "could not sign the checkpoint")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Nexus-Checkpoint-Verifier", a.AuditSigner.Verifier)
	_, _ = w.Write(signed)
}

func (a *API) auditVerifier(w http.ResponseWriter, _ *http.Request, _ Principal) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = fmt.Fprintln(w, a.AuditSigner.Verifier)
}

// proofView is a proof as the API writes it: hashes in base64, as the
// checkpoint writes its root.
type proofView struct {
	Index    *int64   `json:"index,omitempty"`
	Size     int64    `json:"size,omitempty"`
	From     int64    `json:"from,omitempty"`
	To       int64    `json:"to,omitempty"`
	LeafHash []byte   `json:"leaf_hash,omitempty"`
	Hashes   [][]byte `json:"hashes"`
}

func hashes(p []audit.Hash) [][]byte {
	out := make([][]byte, len(p))
	for i := range p {
		out[i] = p[i][:]
	}
	return out
}

func (a *API) auditInclusion(w http.ResponseWriter, r *http.Request, _ Principal) {
	a.proof(w, r, [2]proofParam{
		{"index", 0, "index: required, the leaf's 0-based position (record seq − 1)"},
		{"size", 1, "size: required, the size of a checkpoint's tree"},
	}, func(ctx context.Context, logSize, index, size int64) (proofView, error) {
		p, err := audit.TreeInclusionProof(ctx, a.Audit, index, size, logSize)
		if err != nil {
			return proofView{}, err
		}
		leaf, err := a.Audit.Node(ctx, 0, index)
		if err != nil {
			return proofView{}, err
		}
		return proofView{Index: &index, Size: size, LeafHash: leaf[:], Hashes: hashes(p)}, nil
	})
}

func (a *API) auditConsistency(w http.ResponseWriter, r *http.Request, _ Principal) {
	a.proof(w, r, [2]proofParam{
		{"from", 1, "from: required, the earlier checkpoint's size"},
		{"to", 1, "to: required, at least from"},
	}, func(ctx context.Context, logSize, from, to int64) (proofView, error) {
		p, err := audit.TreeConsistencyProof(ctx, a.Audit, from, to, logSize)
		if err != nil {
			return proofView{}, err
		}
		return proofView{From: from, To: to, Hashes: hashes(p)}, nil
	})
}

// proofParam is a proof's query parameter, its least value and the
// message when it is missing or below it.
type proofParam struct {
	name string
	min  int64
	msg  string
}

// proof reads the two parameters and the log, and answers with what
// build makes of them; a proof outside the log is the second
// parameter's 400.
func (a *API) proof(w http.ResponseWriter, r *http.Request, params [2]proofParam, build func(context.Context, int64, int64, int64) (proofView, error)) {
	var vals [2]int64
	for i, p := range params {
		v, err := intParam(r, p.name, -1)
		if err != nil || v < p.min {
			writeError(w, http.StatusBadRequest, "invalid_argument", p.name, p.msg)
			return
		}
		vals[i] = v
	}
	ctx, cancel := commitContext(r)
	defer cancel()
	size, err := a.Audit.AuditSize(ctx)
	var view proofView
	if err == nil {
		view, err = build(ctx, size, vals[0], vals[1])
	}
	if errors.Is(err, audit.ErrProofRange) {
		writeError(w, http.StatusBadRequest, "invalid_argument", params[0].name, err.Error())
		return
	}
	if err != nil {
		a.Log.Error("read audit tree", "error", err)
		writeError(w, http.StatusInternalServerError, "internal", "", "could not read the audit log")
		return
	}
	writeJSON(w, http.StatusOK, view)
}
