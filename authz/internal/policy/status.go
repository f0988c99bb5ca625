package policy

import (
	"fmt"
	"net/http"
	"strings"

	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/open-policy-agent/opa/v1/ast"
)

// checkConstantStatuses refuses a set whose decision rules write an
// http_status Envoy cannot send as a constant of their value
// ({"allowed": false, "http_status": 451} in any branch, or
// allow.http_status := 451): that mistake is certain, so it is caught
// before the set serves, not on the first denial. A literal that allows
// is left alone, as opa-envoy-plugin never reads its status.
// A status computed at evaluation time is checked then, and a bad one is a
// fail-closed denial with the reason in the decision log.
func checkConstantStatuses(modules map[string]*ast.Module, query string) error {
	q, err := ast.ParseRef(query)
	if err != nil {
		return err
	}
	var problems []string
	for _, mod := range modules {
		for _, rule := range mod.Rules {
			for r := rule; r != nil; r = r.Else {
				ref := r.Ref()
				switch {
				case ref.Equal(q):
					// The decision's value, when it is an object literal
					// that may deny: http_status is read only on a denial,
					// so an allowing literal's status is never sent.
					if r.Head.Value == nil {
						continue
					}
					obj, ok := r.Head.Value.Value.(ast.Object)
					if !ok {
						continue
					}
					if a := obj.Get(ast.InternedTerm("allowed")); a != nil && a.Equal(ast.InternedTerm(true)) {
						continue
					}
					if v := obj.Get(ast.InternedTerm("http_status")); v != nil {
						problems = appendStatusProblem(problems, v)
					}
				case len(ref) == len(q)+1 && ref.HasPrefix(q) && ref[len(q)].Equal(ast.InternedTerm("http_status")):
					if r.Head.Value != nil {
						problems = appendStatusProblem(problems, r.Head.Value)
					}
				}
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("decision %s: %s", query, strings.Join(problems, "; "))
	}
	return nil
}

func appendStatusProblem(problems []string, v *ast.Term) []string {
	n, ok := v.Value.(ast.Number)
	if !ok {
		return problems
	}
	where := ""
	if v.Location != nil {
		where = fmt.Sprintf("%s:%d: ", v.Location.File, v.Location.Row)
	}
	code, ok := n.Int()
	switch {
	case !ok || http.StatusText(code) == "":
		return append(problems, fmt.Sprintf("%shttp_status %s is not an HTTP status", where, n))
	default:
		if _, known := typev3.StatusCode_name[int32(code)]; !known {
			return append(problems, fmt.Sprintf("%shttp_status %d is not a status Envoy can send (see envoy.type.v3.StatusCode)", where, code))
		}
	}
	return problems
}
