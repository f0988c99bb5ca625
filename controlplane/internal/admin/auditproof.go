package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/secureai-nexus/nexus/controlplane/internal/audit"
)

// leaves reads the whole audit log as Merkle leaves.
func (a *API) leaves(ctx context.Context) ([]audit.Hash, error) {
	var out []audit.Hash
	var after int64
	for {
		recs, err := a.Audit.Audit(ctx, after, maxAuditPage)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			out = append(out, audit.RecordLeaf(r))
			after = r.Seq
		}
		if len(recs) < maxAuditPage {
			return out, nil
		}
	}
}

func (a *API) auditCheckpoint(w http.ResponseWriter, r *http.Request, _ Principal) {
	ctx, cancel := commitContext(r)
	defer cancel()
	leaves, err := a.leaves(ctx)
	if err != nil {
		a.Log.Error("read audit log", "error", err)
		writeError(w, http.StatusInternalServerError, "internal", "", "could not read the audit log")
		return
	}
	signed, err := a.AuditSigner.Sign(audit.Checkpoint{Origin: a.AuditOrigin, Size: int64(len(leaves)), Root: audit.RootHash(leaves)})
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
	}, func(leaves []audit.Hash, index, size int64) (proofView, error) {
		p, err := audit.InclusionProof(leaves, int(index), int(size))
		if err != nil {
			return proofView{}, err
		}
		return proofView{Index: &index, Size: size, LeafHash: leaves[index][:], Hashes: hashes(p)}, nil
	})
}

func (a *API) auditConsistency(w http.ResponseWriter, r *http.Request, _ Principal) {
	a.proof(w, r, [2]proofParam{
		{"from", 1, "from: required, the earlier checkpoint's size"},
		{"to", 1, "to: required, at least from"},
	}, func(leaves []audit.Hash, from, to int64) (proofView, error) {
		p, err := audit.ConsistencyProof(leaves, int(from), int(to))
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
func (a *API) proof(w http.ResponseWriter, r *http.Request, params [2]proofParam, build func([]audit.Hash, int64, int64) (proofView, error)) {
	var vals [2]int64
	for i, p := range params {
		v, err := intParam(r, p.name, -1)
		if err != nil || v < p.min {
			writeError(w, http.StatusBadRequest, "invalid_argument", p.name, p.msg)
			return
		}
		vals[i] = v
	}
	leaves, ok := a.proofLeaves(w, r)
	if !ok {
		return
	}
	view, err := build(leaves, vals[0], vals[1])
	if errors.Is(err, audit.ErrProofRange) {
		writeError(w, http.StatusBadRequest, "invalid_argument", params[0].name, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, view)
}

func (a *API) proofLeaves(w http.ResponseWriter, r *http.Request) ([]audit.Hash, bool) {
	ctx, cancel := commitContext(r)
	defer cancel()
	leaves, err := a.leaves(ctx)
	if err != nil {
		a.Log.Error("read audit log", "error", err)
		writeError(w, http.StatusInternalServerError, "internal", "", "could not read the audit log")
		return nil, false
	}
	return leaves, true
}
