// Command extract writes gitleaks' own rule examples as JSONL fixtures for
// filters/peer: every true- and false-positive sample that gitleaks' rule
// constructors (cmd/generate/config/rules) validate, with the secret
// gitleaks reports in it and whether gitleaks' default configuration finds
// it.
//
// The samples exist only as arguments to utils.Validate inside each
// constructor, and many are generated (utils.GenerateSampleSecrets,
// secrets.NewSecret), so reading the source with go/ast alone would miss
// them. Instead the rules package of the gitleaks module this module
// requires is copied into a temporary directory with utils.Validate and
// utils.ValidateWithPaths redirected to a recorder, and a generated program
// calls every constructor that gitleaks' own config generator calls, in
// its order. The copy is a build input outside the repository; nothing of
// it is kept.
//
// Usage (from filters/peer): go run ./gitleaks/extract -o testdata/gitleaks.jsonl
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

const gitleaksModule = "github.com/zricethezav/gitleaks/v8"

func main() {
	out := flag.String("o", "testdata/gitleaks.jsonl", "output JSONL")
	keep := flag.Bool("keep", false, "keep the generated program's directory (printed)")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("gitleaks/extract: ")

	dir, version := moduleDir()
	ctors, err := configRules(filepath.Join(dir, "cmd/generate/config/main.go"))
	if err != nil {
		log.Fatal(err)
	}
	tmp, err := os.MkdirTemp("", "gitleaks-examples-")
	if err != nil {
		log.Fatal(err)
	}
	if *keep {
		log.Printf("generated program in %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	if err := copyRules(filepath.Join(dir, "cmd/generate/config/rules"), filepath.Join(tmp, "rules")); err != nil {
		log.Fatal(err)
	}
	if err := writeProgram(tmp, version, ctors); err != nil {
		log.Fatal(err)
	}
	abs, err := filepath.Abs(*out)
	if err != nil {
		log.Fatal(err)
	}
	if err := run(tmp, nil, "go", "mod", "tidy"); err != nil {
		log.Fatal(err)
	}
	if err := run(tmp, nil, "go", "build", "-o", "examples", "."); err != nil {
		log.Fatal(err)
	}
	// secrets.NewSecret seeds each generator from the clock; the copy's
	// seededSecret seeds it from a counter instead, so a rerun produces the
	// same samples and regenerated fixtures diff only where gitleaks
	// changed. A random sample now and then fails gitleaks' own validation
	// (an entropy floor, say), which ends the program as it ends gitleaks'
	// generator: the next seed is tried then.
	for seed := 1; ; seed++ {
		err := run(tmp, nil, "./examples", "-o", abs, "-version", version, "-seed", fmt.Sprint(seed))
		if err == nil {
			break
		}
		if seed == 50 {
			log.Fatalf("no seed up to %d passes gitleaks' validation: %v", seed, err)
		}
		log.Printf("seed %d: a sample failed gitleaks' validation; trying seed %d", seed, seed+1)
	}
}

// moduleDir finds the gitleaks source of the version this module requires
// (downloading it into the module cache if it is not there yet).
func moduleDir() (dir, version string) {
	var m struct{ Dir, Version string }
	b, err := exec.Command("go", "mod", "download", "-json", gitleaksModule).Output()
	if err != nil {
		log.Fatalf("go mod download %s: %v", gitleaksModule, err)
	}
	if err := json.Unmarshal(b, &m); err != nil || m.Dir == "" {
		log.Fatalf("go mod download %s: no directory in %s", gitleaksModule, b)
	}
	return m.Dir, m.Version
}

// configRules lists the rules.X() constructors that gitleaks' config
// generator puts in its default configuration, in its order: that list,
// not every exported function, is what gitleaks ships.
func configRules(path string) ([]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		return nil, err
	}
	var names []string
	seen := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) != 0 {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if id, ok := sel.X.(*ast.Ident); ok && id.Name == "rules" && !seen[sel.Sel.Name] {
			seen[sel.Sel.Name] = true
			names = append(names, sel.Sel.Name)
		}
		return true
	})
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: no rules.X() calls", path)
	}
	return names, nil
}

// copyRules copies the rules package with utils.Validate(...) and
// utils.ValidateWithPaths(...) calls renamed to the recorder's functions.
func copyRules(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	files, err := filepath.Glob(filepath.Join(src, "*.go"))
	if err != nil {
		return err
	}
	redirected := 0
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == "utils" {
				switch sel.Sel.Name {
				case "Validate":
					call.Fun = ast.NewIdent("recordValidate")
					redirected++
				case "ValidateWithPaths":
					call.Fun = ast.NewIdent("recordValidateWithPaths")
					redirected++
				}
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == "secrets" && sel.Sel.Name == "NewSecret" {
				call.Fun = ast.NewIdent("seededSecret")
			}
			return true
		})
		dropUnused(f, "utils", gitleaksModule+"/cmd/generate/config/utils")
		dropUnused(f, "secrets", gitleaksModule+"/cmd/generate/secrets")
		var buf bytes.Buffer
		if err := format.Node(&buf, fset, f); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, filepath.Base(path)), buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	if redirected == 0 {
		return fmt.Errorf("%s: no utils.Validate calls found", src)
	}
	return os.WriteFile(filepath.Join(dst, "zz_record.go"), []byte(recorderSrc), 0o644)
}

// dropUnused removes an import from a file whose only use of it was a call
// now redirected.
func dropUnused(f *ast.File, name, importPath string) {
	used := false
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == name {
				used = true
			}
		}
		return !used
	})
	if used {
		return
	}
	path := `"` + importPath + `"`
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.IMPORT {
			continue
		}
		specs := g.Specs[:0]
		for _, s := range g.Specs {
			if s.(*ast.ImportSpec).Path.Value != path {
				specs = append(specs, s)
			}
		}
		g.Specs = specs
	}
	imports := f.Imports[:0]
	for _, s := range f.Imports {
		if s.Path.Value != path {
			imports = append(imports, s)
		}
	}
	f.Imports = imports
}

func writeProgram(dir, version string, ctors []string) error {
	gomod := fmt.Sprintf("module gitleaksexamples\n\ngo 1.24\n\nrequire %s %s\n", gitleaksModule, version)
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644); err != nil {
		return err
	}
	var list strings.Builder
	for _, c := range ctors {
		fmt.Fprintf(&list, "\t{%q, rules.%s},\n", c, c)
	}
	src := strings.Replace(programSrc, "\t// CONSTRUCTORS\n", list.String(), 1)
	b, err := format.Source([]byte(src))
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "main.go"), b, 0o644)
}

func run(dir string, env []string, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod"), env...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return nil
}

// recorderSrc is added to the copied rules package. It still calls
// gitleaks' own validation, so a sample is recorded only once gitleaks has
// accepted it as it does when it generates its config.
const recorderSrc = `package rules

import (
	"sort"

	"github.com/lucasjones/reggen"
	"github.com/zricethezav/gitleaks/v8/cmd/generate/config/utils"
	"github.com/zricethezav/gitleaks/v8/config"
)

type Example struct {
	Rule     *config.Rule
	Text     string
	Path     string
	Positive bool
}

var Recorded []Example

// Seed is the first seed seededSecret uses; each call takes the next.
var Seed int64 = 1

func seededSecret(regex string) string {
	g, err := reggen.NewGenerator(regex)
	if err != nil {
		panic(err)
	}
	g.SetSeed(Seed)
	Seed++
	return g.Generate(1)
}

func recordValidate(r config.Rule, tps, fps []string) *config.Rule {
	v := utils.Validate(r, tps, fps)
	// utils.GenerateSampleSecrets builds its list from a map: sorted, the
	// fixtures keep one order from run to run.
	tps = append([]string(nil), tps...)
	sort.Strings(tps)
	for _, s := range tps {
		Recorded = append(Recorded, Example{Rule: v, Text: s, Positive: true})
	}
	for _, s := range fps {
		Recorded = append(Recorded, Example{Rule: v, Text: s})
	}
	return v
}

func recordValidateWithPaths(r config.Rule, tps, fps map[string]string) *config.Rule {
	v := utils.ValidateWithPaths(r, tps, fps)
	for _, p := range sortedKeys(tps) {
		Recorded = append(Recorded, Example{Rule: v, Text: tps[p], Path: p, Positive: true})
	}
	for _, p := range sortedKeys(fps) {
		Recorded = append(Recorded, Example{Rule: v, Text: fps[p], Path: p})
	}
	return v
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
`

// programSrc calls each constructor, then runs two detectors over each
// recorded sample: the rule alone (as utils.Validate builds it), for the
// secret gitleaks extracts, and gitleaks' default configuration with all
// its rules and allowlists, for what gitleaks itself reports.
const programSrc = `package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"sort"
	"strings"

	"gitleaksexamples/rules"

	"github.com/zricethezav/gitleaks/v8/cmd/generate/config/base"
	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/detect"
)

var constructors = []struct {
	name string
	fn   func() *config.Rule
}{
	// CONSTRUCTORS
}

type line struct {
	Rule          string   ` + "`json:\"rule\"`" + `
	Text          string   ` + "`json:\"text\"`" + `
	Positive      bool     ` + "`json:\"positive\"`" + `
	Secret        string   ` + "`json:\"secret,omitempty\"`" + `
	Path          string   ` + "`json:\"path,omitempty\"`" + `
	Gitleaks      bool     ` + "`json:\"gitleaks\"`" + `
	GitleaksRules []string ` + "`json:\"gitleaks_rules,omitempty\"`" + `
}

func single(r *config.Rule) *detect.Detector {
	cfg := base.CreateGlobalConfig()
	cfg.Rules = map[string]config.Rule{r.RuleID: *r}
	cfg.Keywords = map[string]struct{}{}
	for _, k := range r.Keywords {
		cfg.Keywords[strings.ToLower(k)] = struct{}{}
	}
	return detect.NewDetector(cfg)
}

func main() {
	out := flag.String("o", "", "output")
	version := flag.String("version", "", "gitleaks version")
	seed := flag.Int64("seed", 1, "math/rand seed for the generated samples")
	flag.Parse()
	rules.Seed = *seed << 20
	def, err := detect.NewDetectorDefaultConfig()
	if err != nil {
		log.Fatal(err)
	}
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	enc := json.NewEncoder(f)
	enc.SetEscapeHTML(false)
	fmt.Fprintf(f, "{\"source\":\"github.com/gitleaks/gitleaks cmd/generate/config/rules\",\"module\":\"github.com/zricethezav/gitleaks/v8\",\"version\":%q,\"license\":\"MIT\",\"seed\":%d}\n", *version, *seed)
	n := 0
	for _, c := range constructors {
		before := len(rules.Recorded)
		c.fn()
		for _, ex := range rules.Recorded[before:] {
			l := line{Rule: ex.Rule.RuleID, Text: ex.Text, Positive: ex.Positive, Path: ex.Path}
			frag := detect.Fragment{Raw: ex.Text, FilePath: ex.Path}
			if ex.Positive {
				for _, fd := range single(ex.Rule).Detect(frag) {
					l.Secret = fd.Secret
					break
				}
			}
			seen := map[string]bool{}
			for _, fd := range def.Detect(frag) {
				if !seen[fd.RuleID] {
					seen[fd.RuleID] = true
					l.GitleaksRules = append(l.GitleaksRules, fd.RuleID)
				}
				// A positive counts for gitleaks when its default
				// configuration reports the same secret (under any rule);
				// a negative counts when it reports anything.
				if !ex.Positive || l.Secret == "" || strings.Contains(fd.Secret, l.Secret) || strings.Contains(l.Secret, fd.Secret) {
					l.Gitleaks = true
				}
			}
			// The detector reports in no fixed order.
			sort.Strings(l.GitleaksRules)
			if err := enc.Encode(l); err != nil {
				log.Fatal(err)
			}
			n++
		}
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
	log.Printf("%d examples from %d rules -> %s", n, len(constructors), *out)
}
`
