"""Mutation testing of the rule modules: does the test suite notice a changed rule?

Each mutant changes one thing in a copy of ``src/`` (a threshold, an operator, a scope, a
precondition, a nerve count, a rule's outcome or combination, a three-valued combinator) and
the fast tests run against it in a subprocess with that copy first on ``sys.path``; nothing
in the working tree is modified. A mutant is *killed* when a test fails, *survived* when all
pass. Equivalent mutants (no behaviour can tell them apart) are listed, with why, in
``tools/equivalent_mutants.txt``; the score is killed / (run - listed equivalents).

Usage::

    python tools/mutate.py --list                 # the mutants, one id per line
    python tools/mutate.py                        # run them all (about 40 minutes on 2 cores)
    python tools/mutate.py --sample 20 --seed 1   # a seeded sample (CI); exit 1 on a survivor
    python tools/mutate.py --match efns2010_mmn   # only mutant ids containing the text
"""

from __future__ import annotations

import argparse
import ast
import multiprocessing
import os
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: What to mutate: module (path under src/) -> top-level names (rule data: assignments;
#: rule code: functions or classes, whose methods are all included).
TARGETS: dict[str, tuple[str, ...]] = {
    "ncs/criteria.py": ("KATZ2002", "BOUCHE1995"),
    "ncs/guidelines.py": (
        "_distal_at_least",
        "EFNS2010_CIDP",
        "EAN2021_CIDP",
        "_MMN_FLOOR",
        "EFNS2010_MMN",
        "_AAN_SEGMENTS",
        "_AAN_SCOPE",
        "_aan_rule",
        "AAN1991_CIDP",
        "HADDEN1998_GBS",
        "SIMON2013",
    ),
    "ncs/engine.py": (
        "scope_mask",
        "threshold_values",
        "threshold_truth",
        "_rule_status",
        "_decide",
        "_judge_rules",
        "judge",
        "nerve_outcomes",
        "segment_items",
        "_either",
        "evaluate_item",
        "_absent",
        "_velocity_item",
        "_distal_duration_item",
        "item_codes",
        "_by_id",
        "item_rule",
        "_unless_unseen",
        "_three_valued",
        "_levels",
        "_first_met",
        "patient_verdicts",
        "_hadden",
        "_nerves_meeting",
    ),
    "ncs/schemes.py": (
        "_unseen",
        "_counts",
        "_three",
        "at_least",
        "one_plus_other",
        "two_plus_other",
        "k_of",
        "any_of",
        "all_of",
        "negate",
    ),
    "ncs/measures.py": ("truth",),
}

#: Which scheme's threshold data a top-level name holds (for the per-scheme score).
SCHEME_OF: dict[str, str] = {
    "KATZ2002": "katz2002",
    "BOUCHE1995": "bouche1995",
    "EFNS2010_CIDP": "efns2010_cidp",
    "EAN2021_CIDP": "ean2021_cidp",
    "_MMN_FLOOR": "efns2010_mmn",
    "EFNS2010_MMN": "efns2010_mmn",
    "_AAN_SEGMENTS": "aan1991_cidp",
    "_AAN_SCOPE": "aan1991_cidp",
    "_aan_rule": "aan1991_cidp",
    "AAN1991_CIDP": "aan1991_cidp",
    "HADDEN1998_GBS": "hadden1998_gbs",
    "SIMON2013": "simon2013",
}

#: The fast tests a mutant runs against (stopping at the first failure). A mutant of one
#: scheme's data runs against that scheme's own module (``tests/schemes/test_<scheme>.py``)
#: and :data:`SCHEME_TESTS` only: each scheme's tests must catch its own mutants.
TESTS: tuple[str, ...] = (
    "tests/test_criteria.py",
    "tests/test_schemes.py",
    "tests/schemes",
    "tests/test_compare.py",
    "tests/test_set_aside.py",
)

SCHEME_TESTS: tuple[str, ...] = ("tests/test_schemes.py",)

EQUIVALENTS = ROOT / "tools" / "equivalent_mutants.txt"

_OPERATOR_SWAP = {">": ">=", ">=": ">", "<": "<=", "<=": "<"}
_COMPARE_SWAP = {ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Lt: ast.LtE, ast.LtE: ast.Lt}
_COMPARE_SWAP.update({ast.Eq: ast.NotEq, ast.NotEq: ast.Eq})
_WORD_SWAP = {"yes": "probable", "probable": "yes", "any": "all", "all": "any"}
#: Nerve-count rules: each weakened to the plain count.
_CORROBORATION_SWAP = dict.fromkeys(
    ("or_one_plus_other", "one_plus_other", "two_plus_other"), "none"
)
#: Nerve-count rules that use ``min_nerves``.
_COUNTED = ("none", "or_one_plus_other")
_NAME_SWAP = {"maximum": "minimum", "minimum": "maximum", "any_of": "all_of", "all_of": "any_of"}
_TRUTH = ("TRUE", "FALSE", "UNKNOWN")
#: Keywords whose tuple of names is a scope (each element dropped in turn).
_SCOPE_KEYWORDS = {
    "nerves",
    "exclude_nerves",
    "exclude_zones",
    "only_pairs",
    "exclude_proximal_sites",
    "only_proximal_sites",
    "preconditions",
    "not_corroborated_by",
}
#: Keywords that are text or metadata, never mutated.
_TEXT_KEYWORDS = {"name", "source", "note", "notes", "title", "short", "count", "id", "verified"}
_TEXT_KEYWORDS |= {"citation", "applied_in"}


@dataclass(frozen=True)
class Mutant:
    id: str  # "module:owner/path: old -> new" (stable across unrelated edits)
    module: str  # short name, e.g. "guidelines"
    path: str  # under src/, e.g. "ncs/guidelines.py"
    owner: str  # top-level name
    lineno: int
    col: int
    end_lineno: int
    end_col: int
    replacement: str  # source text replacing the node's span

    @property
    def scheme(self) -> str:
        return SCHEME_OF.get(self.owner, "")


def _fmt(node: ast.AST) -> str:
    return ast.unparse(node)


class _Finder(ast.NodeVisitor):
    """Walks one top-level definition, recording mutants with a path of keyword names."""

    def __init__(self, path: str, owner: str, code: bool):
        self.file, self.owner, self.code = path, owner, code
        self.module = path.removeprefix("ncs/").removesuffix(".py")
        self.path: list[str] = [owner]
        self.keyword: list[str] = [""]
        self.compared = 0  # depth inside a comparison (code: integers mutated only there)
        self.skip: set[int] = set()  # nodes whose mutation cannot change anything
        self.found: list[Mutant] = []

    def add(self, node: ast.AST, new: str, what: str) -> None:
        where = "/".join(self.path)
        self.found.append(
            Mutant(
                id=f"{self.module}:{where}: {what}",
                module=self.module,
                path=self.file,
                owner=self.owner,
                lineno=node.lineno,
                col=node.col_offset,
                end_lineno=node.end_lineno,
                end_col=node.end_col_offset,
                replacement=new,
            )
        )

    def _enter(self, part: str, keyword: str | None = None):
        self.path.append(part)
        self.keyword.append(self.keyword[-1] if keyword is None else keyword)

    def _leave(self):
        self.path.pop()
        self.keyword.pop()

    def visit_FunctionDef(self, node):
        self._enter(node.name, "")
        for default in (*node.args.defaults, *node.args.kw_defaults):
            if default is not None:
                self.visit(default)
        for stmt in node.body:
            self.visit(stmt)
        self._leave()

    def visit_keyword(self, node):
        self._enter(node.arg or "**", node.arg or "")
        if node.arg in _SCOPE_KEYWORDS and isinstance(node.value, ast.Name):
            self.add(node.value, "()", f"{node.value.id} -> ()")  # a named tuple: drop it all
        if node.arg == "min_amplitude" and isinstance(node.value, ast.Tuple):
            self.add(node.value, "None", "drop the gate")
        self.visit(node.value)
        self._leave()

    def visit_Call(self, node):
        given = {kw.arg: kw.value for kw in node.keywords}
        one = given.get("thresholds")
        if isinstance(one, ast.Tuple) and len(one.elts) == 1 and "combine" in given:
            self.skip.add(id(given["combine"]))  # "any" and "all" of one threshold agree
        if _fmt(node.func) == "NerveItem" and not self.code:
            given = {kw.arg: kw.value for kw in node.keywords}
            rule = given.get("corroboration")
            counted = not isinstance(rule, ast.Constant) or rule.value in _COUNTED
            if "min_nerves" not in given and counted:  # the default (2 nerves), one up, one down
                for n in (1, 3):
                    new = ast.Call(node.func, node.args, [*node.keywords, _kw("min_nerves", n)])
                    self._enter("min_nerves")
                    self.add(node, _fmt(new), f"2 (default) -> {n}")
                    self._leave()
        self.visit(node.func)
        for k, arg in enumerate(node.args):
            self._enter(f"arg{k}", "")
            self.visit(arg)
            self._leave()
        for kw in node.keywords:
            self.visit(kw)

    def visit_Tuple(self, node):
        kw = self.keyword[-1]
        if kw in _SCOPE_KEYWORDS and node.elts:
            for k, elt in enumerate(node.elts):
                rest = [e for i, e in enumerate(node.elts) if i != k]
                text = _fmt(ast.Tuple(elts=rest, ctx=ast.Load()))
                self.add(node, text, f"drop {_fmt(elt)}")
        for k, elt in enumerate(node.elts):
            self._enter(str(k))
            self.visit(elt)
            self._leave()

    def visit_Constant(self, node):
        v, kw = node.value, self.keyword[-1]
        if kw in _TEXT_KEYWORDS or id(node) in self.skip:
            return
        if isinstance(v, bool):
            if not self.code:
                self.add(node, repr(not v), f"{v} -> {not v}")
        elif isinstance(v, int):
            if self.code and not self.compared:
                return  # sizes and indexes, not rule numbers
            for new in (v + 1, v - 1):
                if new >= 0:
                    self.add(node, repr(new), f"{v} -> {new}")
        elif isinstance(v, float):
            for new in (round(v * 1.05, 6), round(v * 0.95, 6)) if v else (0.05, -0.05):
                self.add(node, repr(new), f"{v!r} -> {new!r}")
        elif isinstance(v, str) and v in _OPERATOR_SWAP:
            self.add(node, repr(_OPERATOR_SWAP[v]), f"{v!r} -> {_OPERATOR_SWAP[v]!r}")
        elif isinstance(v, str) and v in _WORD_SWAP and kw in ("outcome", "combine"):
            self.add(node, repr(_WORD_SWAP[v]), f"{v!r} -> {_WORD_SWAP[v]!r}")
        elif isinstance(v, str) and v in _CORROBORATION_SWAP and kw == "corroboration":
            new = _CORROBORATION_SWAP[v]
            self.add(node, repr(new), f"{v!r} -> {new!r}")

    def visit_Compare(self, node):
        for k, op in enumerate(node.ops):
            swap = _COMPARE_SWAP.get(type(op))
            if swap is None:
                continue
            new = ast.Compare(
                left=node.left,
                ops=[swap() if i == k else o for i, o in enumerate(node.ops)],
                comparators=node.comparators,
            )
            self.add(node, _fmt(new), f"`{_fmt(node)}` -> `{_fmt(new)}`")
        self.compared += 1
        self.generic_visit(node)
        self.compared -= 1

    def visit_Attribute(self, node):
        if node.attr in _NAME_SWAP and isinstance(node.value, ast.Name):
            new = f"{node.value.id}.{_NAME_SWAP[node.attr]}"
            self.add(node, new, f"{_fmt(node)} -> {new}")
        self.generic_visit(node)

    def visit_Name(self, node):
        if node.id in _TRUTH and isinstance(node.ctx, ast.Load):
            for other in _TRUTH:
                if other != node.id:
                    self.add(node, other, f"{node.id} -> {other}")
        elif node.id in _NAME_SWAP and isinstance(node.ctx, ast.Load):
            self.add(node, _NAME_SWAP[node.id], f"{node.id} -> {_NAME_SWAP[node.id]}")

    def visit_Expr(self, node):  # docstrings
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return
        self.generic_visit(node)


def _kw(name: str, value: object) -> ast.keyword:
    return ast.keyword(arg=name, value=ast.Constant(value))


def find_mutants(targets: dict[str, tuple[str, ...]] = TARGETS) -> list[Mutant]:
    """Every mutant of the target definitions, with unique ids (repeats numbered #2, #3 ...)."""
    out: list[Mutant] = []
    for module, names in targets.items():
        text = (ROOT / "src" / module).read_text()
        tree = ast.parse(text)
        wanted = set(names)
        seen = set()
        definitions = []
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                methods = [f for f in node.body if isinstance(f, ast.FunctionDef)]
                definitions += [(f"{node.name}.{f.name}", f) for f in methods]
            elif isinstance(node, ast.FunctionDef):
                definitions.append((node.name, node))
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                target = node.targets[0] if isinstance(node, ast.Assign) else node.target
                definitions.append((getattr(target, "id", ""), node))
        for name, node in definitions:
            if name not in wanted:
                continue
            seen.add(name)
            if isinstance(node, ast.FunctionDef):
                finder = _Finder(module, name, code=True)
                for default in (*node.args.defaults, *node.args.kw_defaults):
                    if default is not None:
                        finder.visit(default)
                for stmt in node.body:
                    finder.visit(stmt)
            else:
                finder = _Finder(module, name, code=False)
                finder.visit(node.value)
            out.extend(finder.found)
        missing = wanted - seen
        if missing:
            raise SystemExit(f"{module}: target(s) not found: {sorted(missing)} (update TARGETS)")
    counts: Counter[str] = Counter()
    unique = []
    for m in out:
        counts[m.id] += 1
        n = counts[m.id]
        unique.append(m if n == 1 else Mutant(**{**m.__dict__, "id": f"{m.id} #{n}"}))
    return unique


def mutated_source(m: Mutant) -> str:
    lines = (ROOT / "src" / m.path).read_text().splitlines(keepends=True)
    start = sum(len(line) for line in lines[: m.lineno - 1]) + _byte_to_char(
        lines[m.lineno - 1], m.col
    )
    end = sum(len(line) for line in lines[: m.end_lineno - 1]) + _byte_to_char(
        lines[m.end_lineno - 1], m.end_col
    )
    text = "".join(lines)
    out = text[:start] + m.replacement + text[end:]
    ast.parse(out)  # a mutant that does not parse is a bug of this script, not a kill
    return out


def _byte_to_char(line: str, offset: int) -> int:
    return len(line.encode()[:offset].decode())


def load_equivalents(path: Path = EQUIVALENTS) -> dict[str, str]:
    """Mutant id -> why it is equivalent (file lines: ``<id>  # <why>``)."""
    out = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                mid, _, why = line.partition("  # ")
                out[mid.strip()] = why.strip()
    return out


def _child(src: str, tests: list[str]) -> None:
    """In the forked test process: import ncs from the mutant copy and run the tests."""
    os.environ["PYTHONPATH"] = src  # for any process the tests start
    sys.path.insert(0, src)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    import pytest

    code = pytest.main(["-x", "-q", "-p", "no:cacheprovider", "-o", "addopts=", *tests])
    ncs = sys.modules.get("ncs")
    if ncs is not None and not str(ncs.__file__).startswith(src):
        code = 99  # the tests did not run against the mutant
    os._exit(int(code))


def run_mutants(mutants: list[Mutant], jobs: int, timeout: float):
    """Yield (mutant, status, seconds) as each finishes; ``jobs`` test processes at a time.

    Each mutant's tests run in a process forked from this one (numpy, pandas and pytest
    already imported, ncs not), with the mutant's copy of ``src/`` first on ``sys.path``.
    """
    import numpy  # noqa: F401  (imported once here, shared by every forked test process)
    import pandas  # noqa: F401
    import pytest  # noqa: F401

    if "ncs" in sys.modules:
        raise RuntimeError("ncs must not be imported before the mutants are forked")
    context = multiprocessing.get_context("fork")
    tests = [str(ROOT / t) for t in TESTS if (ROOT / t).exists()]
    scheme_tests = [str(ROOT / t) for t in SCHEME_TESTS if (ROOT / t).exists()]
    _baseline(context, [*tests, str(ROOT / "tests" / "schemes")], timeout)
    pending = list(mutants)
    running: dict = {}
    while pending or running:
        while pending and len(running) < jobs:
            m = pending.pop(0)
            tmp = tempfile.mkdtemp(prefix="ncs-mutant-")
            src = Path(tmp) / "src"
            shutil.copytree(ROOT / "src", src, ignore=shutil.ignore_patterns("__pycache__"))
            (src / m.path).write_text(mutated_source(m))
            own = ROOT / "tests" / "schemes" / f"test_{m.scheme}.py"
            chosen = [str(own), *scheme_tests] if m.scheme and own.exists() else tests
            process = context.Process(target=_child, args=(str(src), chosen))
            process.start()
            running[process] = (m, time.perf_counter(), tmp)
        time.sleep(0.02)
        for process in [p for p in running if not p.is_alive()] or [
            p for p, (_, t0, _) in running.items() if time.perf_counter() - t0 > timeout
        ]:
            m, t0, tmp = running.pop(process)
            if process.is_alive():
                process.kill()
                status = "timeout"
            else:
                code = process.exitcode
                status = {0: "survived", 1: "killed", 2: "killed"}.get(code, f"error {code}")
            process.join()
            shutil.rmtree(tmp, ignore_errors=True)
            yield m, status, time.perf_counter() - t0


def _baseline(context, tests: list[str], timeout: float) -> None:
    """The tests must pass on an unchanged copy of ``src/`` first: otherwise a broken
    environment or a test module that fails to import (pytest's exit code 2, which a mutant
    that breaks an import also gives) would count every mutant as killed."""
    tmp = tempfile.mkdtemp(prefix="ncs-baseline-")
    try:
        src = Path(tmp) / "src"
        shutil.copytree(ROOT / "src", src, ignore=shutil.ignore_patterns("__pycache__"))
        process = context.Process(target=_child, args=(str(src), tests))
        process.start()
        process.join(timeout * 4)
        if process.is_alive():
            process.kill()
            process.join()
            raise SystemExit("mutate: the tests did not finish on the unchanged code")
        if process.exitcode != 0:
            raise SystemExit(
                f"mutate: the tests fail on the unchanged code (exit {process.exitcode}); "
                "no mutant was run"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _score(rows: list[tuple[Mutant, str]], equivalents: dict[str, str], key) -> dict[str, str]:
    groups: dict[str, list[int]] = {}
    for m, status in rows:
        k = key(m)
        if not k:
            continue
        g = groups.setdefault(k, [0, 0, 0])  # killed, run, equivalent
        g[1] += 1
        g[0] += status in ("killed", "timeout")
        g[2] += m.id in equivalents and status == "survived"
    out = {}
    for k, (killed, run, equivalent) in sorted(groups.items()):
        denominator = run - equivalent
        pct = 100.0 * killed / denominator if denominator else 100.0
        out[k] = f"{pct:5.1f} %  ({killed} killed / ({run} run - {equivalent} equivalent))"
    return out


def _statuses_in(log: Path) -> dict[str, str]:
    """Mutant id -> status, as an earlier run's output reports them."""
    out = {}
    for line in log.read_text().splitlines():
        head, _, rest = line.partition("] ")
        if head.startswith("[") and "s  " in rest:
            status = rest.split()[0]
            mid = rest.split("s  ", 1)[1].removesuffix(" (listed equivalent)")
            out[mid] = status
    return out


def _killed_in(log: Path) -> set[str]:
    """Ids of the mutants an earlier run's output reports as killed."""
    return {mid for mid, status in _statuses_in(log).items() if status == "killed"}


def _report(rows: list[tuple[Mutant, str]], equivalents: dict[str, str], stale: set[str]):
    """Print the scores per module and scheme; return the survivors not listed equivalent."""
    survivors = [m for m, s in rows if s == "survived" and m.id not in equivalents]
    print("\nScore per module:")
    for k, v in _score(rows, equivalents, lambda m: m.module).items():
        print(f"  {k:14s} {v}")
    print("\nScore per scheme (its threshold data):")
    for k, v in _score(rows, equivalents, lambda m: m.scheme).items():
        print(f"  {k:14s} {v}")
    print("\nAll rule modules: " + _score(rows, equivalents, lambda m: "all")["all"])
    wrongly_listed = [m for m, s in rows if m.id in equivalents and s != "survived"]
    if wrongly_listed:
        print(f"\nnote: {len(wrongly_listed)} listed equivalent(s) were killed (not equivalent):")
        for m in wrongly_listed:
            print(f"  {m.id}")
    if stale:
        print(f"\nnote: {len(stale)} listed equivalent(s) match no mutant any more:")
        for mid in sorted(stale):
            print(f"  {mid}")
    return survivors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="print the mutant ids and exit")
    parser.add_argument("--sample", type=int, help="run this many mutants, drawn at random")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample")
    parser.add_argument("--match", action="append", help="only ids containing this text")
    parser.add_argument(
        "--previous",
        type=Path,
        help="log of an earlier run: mutants it killed count as killed without a re-run "
        "(tests only ever grow, so a killed mutant stays killed)",
    )
    parser.add_argument(
        "--score-logs",
        type=Path,
        nargs="+",
        help="print the scores of earlier runs' outputs (a mutant killed in any counts as "
        "killed) instead of running",
    )
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per mutant")
    args = parser.parse_args(argv)

    mutants = find_mutants()
    equivalents = load_equivalents()
    stale = set(equivalents) - {m.id for m in mutants}
    if args.match:
        mutants = [m for m in mutants if any(s in m.id for s in args.match)]
    if args.list:
        for m in mutants:
            print(m.id + ("  [equivalent]" if m.id in equivalents else ""))
        return 0
    if args.sample is not None:
        candidates = [m for m in mutants if m.id not in equivalents]
        mutants = random.Random(args.seed).sample(candidates, min(args.sample, len(candidates)))
    if args.score_logs:
        seen: dict[str, str] = {}
        for log in args.score_logs:
            for mid, status in _statuses_in(log).items():
                if seen.get(mid) != "killed":
                    seen[mid] = status
        rows = [(m, seen[m.id]) for m in mutants if m.id in seen]
        print(f"{len(rows)} of {len(mutants)} mutants in the logs")
        _report(rows, equivalents, stale)
        return 0
    started = time.perf_counter()
    rows = []
    if args.previous:
        killed_before = _killed_in(args.previous)
        rows = [(m, "killed") for m in mutants if m.id in killed_before]
        mutants = [m for m in mutants if m.id not in killed_before]
        print(f"{len(rows)} mutants killed in {args.previous}; running the other {len(mutants)}")
    for k, (m, status, seconds) in enumerate(run_mutants(mutants, args.jobs, args.timeout), 1):
        rows.append((m, status))
        mark = " (listed equivalent)" if m.id in equivalents else ""
        print(f"[{k}/{len(mutants)}] {status:8s} {seconds:5.1f}s  {m.id}{mark}", flush=True)
    print(f"\n{len(rows)} mutants in {(time.perf_counter() - started) / 60:.1f} min")
    survivors = _report(rows, equivalents, stale)
    errors = [m for m, s in rows if s.startswith("error") or s == "timeout"]
    if errors:
        print(f"\n{len(errors)} mutant(s) could not be tested (harness error or timeout):")
        for m in errors:
            print(f"  {m.id}")
        return 2
    if survivors:
        print(f"\n{len(survivors)} surviving mutant(s) not listed as equivalent:")
        for m in survivors:
            print(f"  {m.id}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
