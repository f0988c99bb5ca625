package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/secureai-nexus/nexus/controlplane/internal/atomicfile"
	"github.com/secureai-nexus/nexus/controlplane/internal/audit"
)

func auditVerifyFlags(fs *flag.FlagSet) runFunc {
	def := ""
	if d, err := os.UserConfigDir(); err == nil {
		def = filepath.Join(d, "nexusctl", "audit-checkpoint")
	}
	state := fs.String("checkpoint-file", envOr("NEXUS_AUDIT_CHECKPOINT", def), "where the last checkpoint seen and the pinned checkpoint key are kept ($NEXUS_AUDIT_CHECKPOINT)")
	return func(ctx context.Context, e *env, _ []string) error { return e.c.auditVerify(ctx, e.stdout, *state) }
}

// checkpoint fetches the audit log's signed checkpoint, verifies it with
// the checkpoint key pinned on first use, proves it extends the last
// checkpoint this client saw, and keeps it as the new last one: a log
// that was rewritten or cut back is refused. state is the file that keeps
// the key and the last checkpoint.
func (c *client) checkpoint(ctx context.Context, w io.Writer, state string) error {
	var key, prevNote string
	if raw, err := os.ReadFile(state); err == nil {
		key, prevNote, _ = strings.Cut(string(raw), "\n")
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if key == "" {
		var raw []byte
		if err := c.do(ctx, "GET", "/api/v1/admin/audit/verifier", nil, &raw); err != nil {
			return err
		}
		key = strings.TrimSpace(string(raw))
		fmt.Fprintf(w, "pinned the checkpoint key %s (first use; kept in %s)\n", key, state)
	}
	var signed []byte
	if err := c.do(ctx, "GET", "/api/v1/admin/audit/checkpoint", nil, &signed); err != nil {
		return err
	}
	cp, err := audit.OpenCheckpoint(signed, key)
	if err != nil {
		return fmt.Errorf("the control plane's checkpoint does not verify with the key pinned in %s (another control plane, or its key changed: remove the file only if you know why): %w", state, err)
	}
	if prevNote != "" {
		prev, err := audit.OpenCheckpoint([]byte(prevNote), key)
		if err != nil {
			return fmt.Errorf("the saved checkpoint in %s: %w", state, err)
		}
		switch {
		case cp.Origin != prev.Origin:
			return fmt.Errorf("checkpoint of log %q, but the last one seen was of %q", cp.Origin, prev.Origin)
		case cp.Size < prev.Size:
			return fmt.Errorf("the audit log shrank: %d records, the last checkpoint seen had %d", cp.Size, prev.Size)
		case cp.Size == prev.Size && cp.Root != prev.Root:
			return fmt.Errorf("the audit log was rewritten: same size %d, another root", cp.Size)
		case cp.Size > prev.Size:
			var p struct{ Hashes [][]byte }
			if err := c.do(ctx, "GET", fmt.Sprintf("/api/v1/admin/audit/proof/consistency?from=%d&to=%d", prev.Size, cp.Size), nil, &p); err != nil {
				return err
			}
			proof := make([]audit.Hash, len(p.Hashes))
			for i, h := range p.Hashes {
				copy(proof[i][:], h)
			}
			if err := audit.VerifyConsistency(prev.Size, cp.Size, prev.Root, cp.Root, proof); err != nil {
				return fmt.Errorf("the audit log does not extend the checkpoint last seen (size %d): %w", prev.Size, err)
			}
		}
		fmt.Fprintf(w, "checkpoint OK: %s, extends the last one seen (%s)\n", plural(cp.Size, "record"), plural(prev.Size, "record"))
	} else {
		fmt.Fprintf(w, "checkpoint OK: %s (the first seen)\n", plural(cp.Size, "record"))
	}
	if err := os.MkdirAll(filepath.Dir(state), 0o700); err != nil {
		return err
	}
	return atomicfile.Write(state, []byte(key+"\n"+string(signed)), 0o600)
}
