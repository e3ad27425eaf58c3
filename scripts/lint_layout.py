#!/usr/bin/env python3
"""Layout lint for src/ (issue 10, "Done means"), run by `make test`.

Rules:
  1. no file under src/ is over MAX_LINES (700) lines;
  2. no include circle between modules: a module is a .c/.h pair
     (src/guard/guard.c + guard.h), and A -> B when A.c or A.h includes
     B.h; a circle such as config -> limit_redis -> vault -> config means
     none of them can be understood, built or tested without the others;
  3. nothing under src/store/, src/vault/, src/credentials/ or src/audit/
     includes an http/ header (the core does not know about HTTP);
  4. no handler file (*_http.c) includes another handler's header
     (*_http.h): what two handlers share belongs in a logic module.

Usage: lint_layout.py [SRC_DIR]   (default: src/ next to this script's repo)
Exit 1 and one line per finding when a rule is broken.
"""
import os
import re
import sys

MAX_LINES = 700
CORE_DIRS = ("store", "vault", "credentials", "audit")
INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def read_sources(src):
    """{relative path: text} for every .c/.h file under src."""
    files = {}
    for root, _dirs, names in os.walk(src):
        for n in names:
            if n.endswith((".c", ".h")):
                p = os.path.join(root, n)
                with open(p, encoding="utf-8", errors="replace") as f:
                    files[os.path.relpath(p, src).replace(os.sep, "/")] = f.read()
    return files


def resolve(including, inc, files):
    """The src-relative path an #include "inc" names, or None (system, tests)."""
    # the tree's includes are relative to src/ ("http/server.h"); a bare
    # "x.h" may also be relative to the including file's directory
    if inc in files:
        return inc
    local = os.path.normpath(os.path.join(os.path.dirname(including), inc)).replace(os.sep, "/")
    return local if local in files else None


def includes(files):
    """{file: [included src files]}"""
    out = {}
    for path, text in files.items():
        out[path] = [r for r in (resolve(path, i, files) for i in INCLUDE_RE.findall(text)) if r]
    return out


def module(path):
    return path.rsplit(".", 1)[0]


def circles(inc):
    """Strongly connected components (size > 1) of the module graph, each
    as a sorted list, plus one example path around each."""
    graph = {}
    for f, targets in inc.items():
        a = module(f)
        graph.setdefault(a, set())
        for t in targets:
            b = module(t)
            graph.setdefault(b, set())
            if b != a:
                graph[a].add(b)
    # Tarjan, iterative
    index, low, on, stack, sccs = {}, {}, set(), [], []
    counter = [0]
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    advanced = True
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    sccs.append(sorted(comp))
    result = []
    for comp in sorted(sccs):
        result.append((comp, example_cycle(graph, comp)))
    return result


def example_cycle(graph, comp):
    """A shortest cycle through the component's first module (BFS)."""
    members = set(comp)
    start = comp[0]
    prev = {start: None}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v]):
            if w == start:
                path = [v]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                return list(reversed(path)) + [start]
            if w in members and w not in prev:
                prev[w] = v
                queue.append(w)
    return comp


def lint(src):
    files = read_sources(src)
    inc = includes(files)
    problems = []
    for path in sorted(files):
        n = files[path].count("\n")
        if n > MAX_LINES:
            problems.append(f"src/{path}: {n} lines (at most {MAX_LINES})")
    for comp, cycle in circles(inc):
        problems.append("include circle between modules " + ", ".join(comp) +
                        " (for example " + " -> ".join(cycle) + ")")
    for path in sorted(files):
        top = path.split("/", 1)[0]
        for t in inc[path]:
            if top in CORE_DIRS and t.startswith("http/"):
                problems.append(f"src/{path} includes {t}: src/{top}/ must not depend on http/")
            if (path.endswith("_http.c") and t.endswith("_http.h")
                    and module(t) != module(path)):
                problems.append(f"src/{path} includes {t}: a handler file includes another "
                                "handler's header (share a logic module instead)")
    return problems


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    src = argv[1] if len(argv) > 1 else os.path.join(here, "..", "src")
    if not os.path.isdir(src):
        print(f"lint_layout: no such directory {src}", file=sys.stderr)
        return 2
    problems = lint(src)
    for p in problems:
        print("lint_layout: " + p, file=sys.stderr)
    if problems:
        print(f"lint_layout: {len(problems)} problem(s); see the rules in scripts/lint_layout.py",
              file=sys.stderr)
        return 1
    print("lint_layout: src/ layout is clean")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
