package decision

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/secureai-nexus/nexus/authz/internal/decisionlog"
	"github.com/secureai-nexus/nexus/authz/internal/policy"
)

// applyMaskPolicy runs the set's decision log mask rule (OPA's
// data.system.log.mask) on the decision's event and applies its answer to
// the entry, as OPA does: a string is a JSON pointer to erase; an object
// {"op": "upsert", "path", "value"} replaces (or adds) a value and
// {"op": "remove", "path"} erases. Only /input and /result may be
// touched. It runs before nexus-authz's own masks, on the input the
// policy saw.
func applyMaskPolicy(ctx context.Context, set *policy.Set, e *decisionlog.Entry, input map[string]any) error {
	event := map[string]any{
		"decision_id": e.DecisionID, "path": e.Path, "labels": e.Labels, "input": input,
	}
	if e.RawResult != nil {
		event["result"] = e.RawResult
	}
	out, err := set.Mask(ctx, event)
	if err != nil || out == nil {
		return err
	}
	ops, ok := out.([]any)
	if !ok {
		return fmt.Errorf("mask rule must be a set of JSON pointers or upsert/remove objects, got %T", out)
	}
	doc := map[string]any{"input": input}
	resultCopied := false
	for _, op := range ops {
		kind, ptr, value := "remove", "", any(nil)
		switch o := op.(type) {
		case string:
			ptr = o
		case map[string]any:
			kind, _ = o["op"].(string)
			ptr, _ = o["path"].(string)
			value = o["value"]
		default:
			return fmt.Errorf("mask rule: %v is neither a JSON pointer nor an object", op)
		}
		segs, err := pointer(ptr)
		if err != nil {
			return fmt.Errorf("mask rule: %w", err)
		}
		if segs[0] == "result" && !resultCopied {
			// The result may be shared with the decision cache.
			doc["result"] = deepCopy(e.RawResult)
			resultCopied = true
		}
		switch kind {
		case "remove":
			if remove(doc, segs) {
				e.Erased = append(e.Erased, ptr)
			}
		case "upsert":
			if upsert(doc, segs, value) {
				e.Masked = append(e.Masked, ptr)
			}
		default:
			return fmt.Errorf("mask rule: op %q is not upsert or remove", kind)
		}
	}
	if resultCopied {
		e.RawResult = doc["result"]
	}
	slices.Sort(e.Erased)
	return nil
}

// pointer splits a JSON pointer under /input or /result.
func pointer(p string) ([]string, error) {
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("%q is not a JSON pointer", p)
	}
	segs := strings.Split(p[1:], "/")
	for i, s := range segs {
		segs[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	if segs[0] != "input" && segs[0] != "result" {
		return nil, fmt.Errorf("%q: only /input and /result may be masked", p)
	}
	return segs, nil
}

// remove deletes the value at segs; false when there was none.
func remove(doc any, segs []string) bool {
	for i, s := range segs {
		last := i == len(segs)-1
		switch d := doc.(type) {
		case map[string]any:
			v, ok := d[s]
			if !ok {
				return false
			}
			if last {
				delete(d, s)
				return true
			}
			doc = v
		case []any:
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 || n >= len(d) {
				return false
			}
			if last {
				// Arrays keep their length: the element is blanked.
				d[n] = nil
				return true
			}
			doc = d[n]
		default:
			return false
		}
	}
	return false
}

// upsert sets the value at segs, creating objects on the way.
func upsert(doc any, segs []string, value any) bool {
	for i, s := range segs {
		last := i == len(segs)-1
		switch d := doc.(type) {
		case map[string]any:
			if last {
				d[s] = value
				return true
			}
			next, ok := d[s]
			if !ok || next == nil {
				next = map[string]any{}
				d[s] = next
			}
			doc = next
		case []any:
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 || n >= len(d) {
				return false
			}
			if last {
				d[n] = value
				return true
			}
			doc = d[n]
		default:
			return false
		}
	}
	return false
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}
