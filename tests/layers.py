"""layers.py: the layers of src/ hold. A file's layer is the header it
includes: api.h (resources; router.c, fcgi.c and main.c on top of them),
mw.h (middleware) or else the core (core.h, or a pure module header such
as schema.h). File A depends on file B when A names a function defined in
B. Checks that the dependencies form no cycle and never go up: no core
file names a middleware, resource or top function, no middleware file a
resource or top one, no resource a top one. Prints "N passed, N failed"
for tests/run.sh. Usage: python3 tests/layers.py [DIR]."""
import collections
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "src"
TOP = {"router.c", "fcgi.c", "main.c"}
RANK = {"core": 0, "mw": 1, "api": 2, "top": 3}
files = sorted(os.path.join(root, f) for f in os.listdir(root) if f.endswith(".c"))
strip = re.compile(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'', re.S)
# House style: a definition's name starts its line, the type on the line before.
definition = re.compile(r"^(static\s[^\n]*|[^\n#]*)\n([A-Za-z_]\w*)\([^;{]*\)\s*\{", re.M)
ident = re.compile(r"\b([A-Za-z_]\w*)\b")

texts, layer, defs = {}, {}, {}
for f in files:
    raw = open(f, errors="replace").read()
    includes = re.findall(r'^#include "([^"]+)"', raw, re.M)
    base = os.path.basename(f)
    if base in TOP:
        layer[f] = "top"
    elif "api.h" in includes:
        layer[f] = "api"
    elif "mw.h" in includes:
        layer[f] = "mw"
    else:
        layer[f] = "core"
    texts[f] = strip.sub(" ", raw)
    for m in definition.finditer(texts[f]):
        if not m.group(1).lstrip().startswith("static"):
            defs.setdefault(m.group(2), f)

edges = collections.defaultdict(dict)
for f in files:
    for name in set(ident.findall(texts[f])):
        g = defs.get(name)
        if g and g != f:
            edges[f].setdefault(g, []).append(name)

passed = failed = 0


def result(ok, what, lines=()):
    global passed, failed
    print(("ok - " if ok else "not ok - ") + what)
    for line in lines:
        print("#   " + line)
    if ok:
        passed += 1
    else:
        failed += 1


# Tarjan's strongly connected components.
index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]


def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in edges.get(v, {}):
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
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


sys.setrecursionlimit(10000)
for f in files:
    if f not in index:
        visit(f)
result(not sccs, "%d files, %d cycles" % (len(files), len(sccs)),
       ["cycle: " + ", ".join(c) for c in sccs])

up = []
for a in files:
    for b, names in sorted(edges.get(a, {}).items()):
        if RANK[layer[a]] < RANK[layer[b]]:
            up.append("%s (%s) -> %s (%s): %s" % (a, layer[a], b, layer[b],
                                                  ", ".join(sorted(names)[:4])))
result(not up, "no file calls a layer above its own", up)
counts = collections.Counter(layer.values())
result(len(defs) > 100 and counts["core"] > 5 and counts["mw"] > 3 and counts["api"] > 5,
       "layers found: %s; %d functions" % (dict(counts), len(defs)))
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
