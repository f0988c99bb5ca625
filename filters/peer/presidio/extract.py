#!/usr/bin/env python3
"""Turn Presidio's recognizer unit tests into JSONL fixtures for filters/peer.

Usage: extract.py PRESIDIO_DIR OUT_JSONL [SOURCE_JSON]

The tests are read, never imported: importing them would need Presidio, spaCy
and their models installed, and the parametrize lists are plain literals that
ast.literal_eval can read on its own. Files or cases that are not literals, or
whose parametrize shape carries no text, are reported on stderr.
"""

import ast
import json
import os
import subprocess
import sys

TESTS = os.path.join("presidio-analyzer", "tests")
RECOGNIZERS = os.path.join("presidio-analyzer", "presidio_analyzer", "predefined_recognizers")

# Names a parametrize list uses for the scanned text and for the expected spans.
TEXT_ARGS = ("text", "iban")
SPAN_ARGS = ("expected_positions", "expected_res", "expected_position")
# Arguments that only describe Presidio's scores or explanations: a case that
# carries nothing else is scored as an ordinary case.
SCORE_ARGS = {"expected_len", "expected_score_ranges", "expected_score", "expected_scores",
              "score", "expected_textual_explanations", "entity_num", "entities",
              "expected_start", "expected_end"}


def warn(msg):
    print("extract.py: " + msg, file=sys.stderr)


def literal(node):
    try:
        return ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError):
        return None


def supported_entities(presidio_dir):
    """Map recognizer class name -> its default supported_entity, read from
    the recognizers' own source, for test files that have no entities fixture."""
    out = {}
    root = os.path.join(presidio_dir, RECOGNIZERS)
    for dirpath, _, files in os.walk(root):
        for f in files:
            if not f.endswith(".py"):
                continue
            try:
                tree = ast.parse(open(os.path.join(dirpath, f), encoding="utf-8").read())
            except SyntaxError:
                continue
            for cls in [n for n in tree.body if isinstance(n, ast.ClassDef)]:
                for fn in [n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"]:
                    args = fn.args
                    defaults = dict(zip([a.arg for a in args.args][-len(args.defaults):] if args.defaults else [],
                                        args.defaults))
                    defaults.update({a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None})
                    v = literal(defaults["supported_entity"]) if "supported_entity" in defaults else None
                    if isinstance(v, str):
                        out[cls.name] = v
    return out


def fixture_value(tree, name):
    for fn in [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name]:
        for st in ast.walk(fn):
            if isinstance(st, ast.Return) and st.value is not None:
                return st.value
    return None


def recognizer_class(tree):
    ret = fixture_value(tree, "recognizer")
    if isinstance(ret, ast.Call):
        f = ret.func
        return f.id if isinstance(f, ast.Name) else getattr(f, "attr", None)
    return None


def parametrize_lists(tree):
    """Yield (function name, argnames, argvalues node) for each
    @pytest.mark.parametrize on a module-level test function. A list held in
    a module-level variable is resolved."""
    assigns = {}
    for n in tree.body:
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name):
            assigns[n.targets[0].id] = n.value
    for fn in [n for n in tree.body if isinstance(n, ast.FunctionDef)]:
        for d in fn.decorator_list:
            if not (isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and d.func.attr == "parametrize"):
                continue
            if len(d.args) < 2:
                continue
            names = literal(d.args[0])
            values = d.args[1]
            if isinstance(values, ast.Name):
                values = assigns.get(values.id, values)
            if isinstance(names, str):
                names = [s.strip() for s in names.split(",") if s.strip()]
            yield fn.name, names, values


def case_values(elt, names, consts):
    """Evaluate one parametrize case item by item: a module constant (say a
    score _PATTERN_SCORE) is looked up, and an expression in a score-only
    argument becomes None since scores are not compared here."""
    v = literal(elt)
    if v is not None or not isinstance(elt, ast.Tuple) or len(elt.elts) != len(names):
        return v
    items = []
    for name, item in zip(names, elt.elts):
        x = resolve(item, consts)
        if x is None and name not in SCORE_ARGS - {"expected_len", "entities", "expected_start", "expected_end"}:
            return None
        items.append(x)
    return tuple(items)


def resolve(node, consts):
    """A literal, a module constant, or an f-string or + of those (the way
    tests build a text around a valid number: f"NIN: {VALID_NIN_2}")."""
    v = literal(node)
    if v is not None:
        return v
    if isinstance(node, ast.Name):
        return consts.get(node.id)
    if isinstance(node, ast.JoinedStr):
        parts = []
        for p in node.values:
            x = resolve(p.value, consts) if isinstance(p, ast.FormattedValue) else resolve(p, consts)
            if x is None or (isinstance(p, ast.FormattedValue) and (p.format_spec or p.conversion != -1)):
                return None
            parts.append(str(x))
        return "".join(parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        a, b = resolve(node.left, consts), resolve(node.right, consts)
        if isinstance(a, str) and isinstance(b, str):
            return a + b
    if isinstance(node, (ast.Tuple, ast.List)):
        xs = [resolve(e, consts) for e in node.elts]
        if any(x is None for x in xs):
            return None
        return tuple(xs) if isinstance(node, ast.Tuple) else xs
    return None


def as_spans(v):
    """Presidio writes positions as ((s, e), ...), [(s, e)], or a bare (s, e)."""
    if v is None:
        return []
    if isinstance(v, (tuple, list)) and len(v) == 2 and all(isinstance(x, int) for x in v):
        return [[v[0], v[1]]]
    spans = []
    for p in v:
        if isinstance(p, (tuple, list)) and len(p) == 2 and all(isinstance(x, int) for x in p):
            spans.append([p[0], p[1]])
        else:
            raise ValueError("position %r" % (p,))
    return spans


def expected_top_scores(row, n):
    """The highest score Presidio's test accepts for each expected span: the
    top of expected_score_ranges, or expected_score(s) itself. None when the
    case says nothing of scores."""
    def top(v):
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v)
        if isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(x, (int, float)) for x in v):
            return float(max(v))
        return None
    r = row.get("expected_score_ranges")
    if isinstance(r, (list, tuple)) and len(r) == n and n > 0:
        tops = [top(x) for x in r]
        if all(t is not None for t in tops):
            return tops
    for key in ("expected_score", "expected_scores", "score"):
        v = row.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and n > 0:
            return [float(v)] * n
        if isinstance(v, (list, tuple)) and len(v) == n and n > 0 and all(isinstance(x, (int, float)) for x in v):
            return [float(x) for x in v]
    return None


def cases_of(path, fname, presidio_entities):
    src = open(path, encoding="utf-8").read()
    tree = ast.parse(src, filename=path)
    rec = recognizer_class(tree)
    ents = literal(fixture_value(tree, "entities")) if fixture_value(tree, "entities") is not None else None
    if isinstance(ents, list) and ents and all(isinstance(e, str) for e in ents):
        entity = ents[0]
    else:
        entity = presidio_entities.get(rec)
    consts = {}
    for n in tree.body:
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name):
            v = literal(n.value)
            if v is not None:
                consts[n.targets[0].id] = v
    problems = []
    out = []
    for fn, names, values in parametrize_lists(tree):
        if not isinstance(names, list):
            problems.append("%s: argnames not a literal" % fn)
            continue
        text_arg = next((a for a in TEXT_ARGS if a in names), None)
        span_arg = next((a for a in SPAN_ARGS if a in names), None)
        if text_arg is None or ("expected_len" not in names and span_arg is None and "expected_start" not in names):
            problems.append("%s(%s): no text with expected results" % (fn, ", ".join(names)))
            continue
        extra = [a for a in names if a not in SCORE_ARGS and a != text_arg and a != span_arg]
        if not isinstance(values, (ast.List, ast.Tuple)):
            problems.append("%s: values not a literal list" % fn)
            continue
        for i, elt in enumerate(values.elts):
            v = case_values(elt, names, consts)
            if not isinstance(v, (tuple, list)) or len(v) != len(names):
                problems.append("%s[%d]: not a literal case of %d values" % (fn, i, len(names)))
                continue
            row = dict(zip(names, v))
            text = row[text_arg]
            if not isinstance(text, str):
                problems.append("%s[%d]: text not a string" % (fn, i))
                continue
            n = row.get("expected_len")
            try:
                if "expected_start" in row:
                    spans = [[row["expected_start"], row["expected_end"]]]
                else:
                    spans = as_spans(row.get(span_arg))
            except ValueError as e:
                problems.append("%s[%d]: %s" % (fn, i, e))
                continue
            if n == 0:
                # Some lists keep a placeholder position on a case that
                # expects nothing (in_aadhaar's "(0, 12)" with length 0).
                spans = []
            case = {"recognizer": rec, "entity": entity, "file": fname, "test": fn,
                    "text": text, "spans": spans}
            if isinstance(n, int) and n != len(spans):
                # Presidio checks only how many results there are, not where.
                case["expected_len"] = n
            top = expected_top_scores(row, len(spans))
            if top is not None:
                case["scores"] = top
            en = row.get("entity_num")
            if isinstance(en, int) and isinstance(ents, list) and 0 <= en < len(ents):
                # The spaCy and transformer tests name the entity by its
                # index in the file's entities fixture.
                case["entity"] = ents[en]
            ents_row = row.get("entities")
            if isinstance(ents_row, list) and ents_row and len(set(ents_row)) == 1:
                case["entity"] = ents_row[0]
            elif isinstance(ents_row, list) and ents_row:
                case["entities"] = ents_row
            if extra:
                case["params"] = {a: row[a] for a in extra}
            out.append(case)
    return rec, entity, out, problems


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: extract.py PRESIDIO_DIR OUT_JSONL [SOURCE_JSON]")
    pdir, outpath = sys.argv[1], sys.argv[2]
    srcpath = sys.argv[3] if len(sys.argv) > 3 else os.path.join(os.path.dirname(outpath), "presidio.source.json")
    tdir = os.path.join(pdir, TESTS)
    entities = supported_entities(pdir)
    cases, seen, skipped = [], set(), []
    for fname in sorted(os.listdir(tdir)):
        if not (fname.startswith("test_") and fname.endswith("_recognizer.py")):
            continue
        try:
            rec, entity, got, problems = cases_of(os.path.join(tdir, fname), fname, entities)
        except SyntaxError as e:
            skipped.append((fname, "syntax error: %s" % e))
            continue
        for p in problems:
            warn("%s: skipped %s" % (fname, p))
        if not got:
            skipped.append((fname, "no text cases" + (" (%s)" % "; ".join(problems[:2]) if problems else "")))
            continue
        if entity is None:
            warn("%s: no entity found for recognizer %s" % (fname, rec))
        for c in got:
            # Several tests reuse one text (a score test and a position
            # test): keep each (recognizer, text, params) once.
            key = (c["recognizer"], c["entity"], c["text"], json.dumps(c.get("params"), sort_keys=True))
            if key in seen:
                continue
            seen.add(key)
            cases.append(c)
    for f, why in skipped:
        warn("file without usable cases: %s: %s" % (f, why))
    with open(outpath, "w", encoding="utf-8") as out:
        for c in cases:
            out.write(json.dumps(c, ensure_ascii=False, sort_keys=True) + "\n")

    def git(*args):
        try:
            return subprocess.run(["git", "-C", pdir] + list(args), capture_output=True, text=True,
                                  check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""
    version = ""
    pyproject = os.path.join(pdir, "presidio-analyzer", "pyproject.toml")
    if os.path.exists(pyproject):
        for line in open(pyproject, encoding="utf-8"):
            if line.startswith("version"):
                version = line.split("=", 1)[1].strip().strip('"')
                break
    source = {"repo": "https://github.com/microsoft/presidio", "commit": git("rev-parse", "HEAD"),
              "describe": git("describe", "--tags", "--always"), "analyzer_version": version,
              "license": "MIT", "files": "presidio-analyzer/tests/test_*_recognizer.py",
              "cases": len(cases), "files_without_cases": [f for f, _ in skipped]}
    with open(srcpath, "w", encoding="utf-8") as out:
        json.dump(source, out, indent=2, sort_keys=True)
        out.write("\n")
    print("extract.py: %d cases -> %s" % (len(cases), outpath), file=sys.stderr)


if __name__ == "__main__":
    main()
