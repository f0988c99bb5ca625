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
	index, err1 := intParam(r, "index", -1)
	size, err2 := intParam(r, "size", -1)
	switch {
	case err1 != nil || index < 0:
		writeError(w, http.StatusBadRequest, "invalid_argument", "index", "index: required, the leaf's 0-based position (record seq − 1)")
		return
	case err2 != nil || size < 1:
		writeError(w, http.StatusBadRequest, "invalid_argument", "size", "size: required, the size of a checkpoint's tree")
		return
	}
	leaves, ok := a.proofLeaves(w, r)
	if !ok {
		return
	}
	p, err := audit.InclusionProof(leaves, int(index), int(size))
	if errors.Is(err, audit.ErrProofRange) {
		writeError(w, http.StatusBadRequest, "invalid_argument", "index", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, proofView{Index: &index, Size: size, LeafHash: leaves[index][:], Hashes: hashes(p)})
}

func (a *API) auditConsistency(w http.ResponseWriter, r *http.Request, _ Principal) {
	from, err1 := intParam(r, "from", -1)
	to, err2 := intParam(r, "to", -1)
	switch {
	case err1 != nil || from < 1:
		writeError(w, http.StatusBadRequest, "invalid_argument", "from", "from: required, the earlier checkpoint's size")
		return
	case err2 != nil || to < from:
		writeError(w, http.StatusBadRequest, "invalid_argument", "to", "to: required, at least from")
		return
	}
	leaves, ok := a.proofLeaves(w, r)
	if !ok {
		return
	}
	p, err := audit.ConsistencyProof(leaves, int(from), int(to))
	if errors.Is(err, audit.ErrProofRange) {
		writeError(w, http.StatusBadRequest, "invalid_argument", "to", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, proofView{From: from, To: to, Hashes: hashes(p)})
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
