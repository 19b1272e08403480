#!/usr/bin/env python3
"""Lists import cycles between the modules of src/ (one module per file).

An edge A -> B means a file of module A names an item through `crate::B...` or `super::...`
resolving to B. Edges between a module and its own ancestors or descendants are left out (a
folder's mod.rs re-exporting its children, a child using its parent's items); so are `#[cfg(test)]`
blocks. Prints each strongly connected component of more than one module; exits 1 if any.

    python3 scripts/import_cycles.py
"""
import os, re, sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")

def module_of(path):
    rel = os.path.relpath(path, ROOT)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib", "main"):
        rel = rel[:-1]
    return tuple(rel)

mods = {}
for d, _, files in os.walk(ROOT):
    for f in files:
        if f.endswith(".rs"):
            p = os.path.join(d, f)
            mods[module_of(p)] = p
# test-only files (`#[cfg(test)] mod tests;` with a tests.rs / *_tests.rs file)
test_files = {m for m in mods if m and (m[-1] == "tests" or m[-1].endswith("_tests"))}

def strip_tests(text):
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\([^\]]*\btest\b[^\]]*\)\]\s*mod\s+\w+\s*\{", text):
        if m.start() < i:
            continue
        out.append(text[i:m.start()])
        depth, j = 1, m.end()
        while depth and j < len(text):
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    out.append(text[i:])
    return "".join(out)

def resolve(parts):
    for n in range(len(parts), -1, -1):
        if tuple(parts[:n]) in mods:
            return tuple(parts[:n])
    return ()

edges = {m: set() for m in mods}
for m, p in mods.items():
    if m in test_files:
        continue
    text = strip_tests(open(p, encoding="utf-8").read())
    text = re.sub(r"//[^\n]*", "", text)
    for ref in re.finditer(r"\b(crate|super)((?:::\w+)+)", text):
        parts = ref.group(2).strip(":").split("::")
        base = [] if ref.group(1) == "crate" else list(m[:-1])
        target = resolve(base + parts)
        # `use crate::a::{b, c}` names several modules: add each.
        tail = text[ref.end():ref.end() + 400]
        targets = [target]
        if tail.startswith("::{"):
            inner = tail[3:tail.find("}")]
            for name in re.findall(r"\b(\w+)\b", inner):
                targets.append(resolve(base + parts + [name]))
        for t in targets:
            if t and t != m and t[:len(m)] != m and m[:len(t)] != t:
                edges[m].add(t)

# Tarjan's strongly connected components
index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]
sys.setrecursionlimit(10000)
def visit(v):
    index[v] = low[v] = counter[0]; counter[0] += 1
    stack.append(v); on.add(v)
    for w in edges[v]:
        if w not in index:
            visit(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v:
                break
        comps.append(comp)
for v in list(edges):
    if v not in index:
        visit(v)
cycles = [c for c in comps if len(c) > 1]
for c in cycles:
    names = sorted("::".join(x) for x in c)
    print("cycle:", " <-> ".join(names))
    for a in c:
        for b in edges[a]:
            if b in c:
                print(f"    {'::'.join(a)} -> {'::'.join(b)}")
print(f"{len(mods)} modules, {sum(len(e) for e in edges.values())} edges, {len(cycles)} cycles")
sys.exit(1 if cycles else 0)
