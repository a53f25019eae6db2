"""Walking a filter expression: the one tree walker every part of attune uses.

- `children(node)`: the direct sub-expressions (And/Or items, the item of a Not).
- `walk(node)`: every node, parent before children, left to right.
- `leaves(node)`: the predicates a person reads, left to right; a Not of a predicate
  counts as one (for explanations: "- artist:x").
- `conjuncts(node)`: the items of a top-level And (the node itself otherwise).
- `depth(node)`: nesting depth (a predicate has depth 1).
- `rebuild(node, fn)`: a copy with `fn` applied bottom-up (a node's children first).
- `normalize(node)`: NOT pushed down to the predicates, And/Or flattened (same rows).
- `size(node)`: how many predicates (and list values) a filter has.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from .ast import And, Expr, Not, Or, TextMatch


def children(node: Expr) -> tuple[Expr, ...]:
    if isinstance(node, (And, Or)):
        return node.items
    if isinstance(node, Not):
        return (node.item,)
    return ()


def walk(node: Expr | None) -> Iterator[Expr]:
    """Every node of the tree, parents first (iterative: deep trees do not recurse)."""
    if node is None:
        return
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))


def leaves(node: Expr | None) -> list[Expr]:
    """The filter's leaf predicates, left to right (for explanations)."""
    out: list[Expr] = []
    stack = [node] if node is not None else []
    while stack:
        current = stack.pop()
        if isinstance(current, Not) and not children(current.item):
            out.append(current)
        elif children(current):
            stack.extend(reversed(children(current)))
        else:
            out.append(current)
    return out


def conjuncts(node: Expr | None) -> list[Expr]:
    """The items of a top-level And, or the node alone."""
    if node is None:
        return []
    return list(node.items) if isinstance(node, And) else [node]


def depth(node: Expr | None) -> int:
    """How deeply the tree nests (0 for no filter, 1 for a single predicate)."""
    if node is None:
        return 0
    deepest, stack = 0, [(node, 1)]
    while stack:
        current, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children(current))
    return deepest


def rebuild(node: Expr, fn: Callable[[Expr], Expr]) -> Expr:
    """`fn` applied to every node bottom-up; And/Or/Not get their rebuilt children first."""
    if isinstance(node, (And, Or)):
        node = type(node)(tuple(rebuild(i, fn) for i in node.items), node.span)
    elif isinstance(node, Not):
        node = Not(rebuild(node.item, fn), node.span)
    return fn(node)


def normalize(node: Expr | None) -> Expr | None:
    """The same filter with NOT pushed down to the predicates and And/Or flattened.

    De Morgan's laws and NOT NOT x = x hold in the three-valued logic every backend uses
    (a comparison with an unknown number is unknown, and so is its NOT), so the rows are
    the same; what changes is that a filter like `- - - ... energy>0.5` no longer nests
    fifty levels deep on its way to SQL.
    """
    if node is None:
        return None
    return _normalize(node, False)


def _normalize(node: Expr, negate: bool) -> Expr:
    if isinstance(node, Not):
        return _normalize(node.item, not negate)
    if isinstance(node, (And, Or)):
        kind: type = type(node) if not negate else (Or if isinstance(node, And) else And)
        items: list[Expr] = []
        for item in node.items:
            child = _normalize(item, negate)
            items.extend(child.items if isinstance(child, kind) else [child])  # type: ignore[attr-defined]
        items = _merge_text(items, negated=kind is And)
        return kind(tuple(items), node.span) if len(items) > 1 else items[0]
    return Not(node, node.span) if negate else node


def _merge_text(items: list[Expr], *, negated: bool) -> list[Expr]:
    """`artist:a OR artist:b` is `artist:(a,b)`, and `-artist:a -artist:b` is `-artist:(a,b)`
    (text has no unknown values, so this holds in three-valued logic): a thousand terms on
    one field become one predicate with a thousand values."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i, item in enumerate(items):
        inner = item.item if negated and isinstance(item, Not) else (item if not negated else None)
        if isinstance(inner, TextMatch):
            groups.setdefault((inner.field, inner.mode), []).append(i)
    if all(len(at) < 2 for at in groups.values()):
        return items
    out: list[Expr] = []
    merged = {at[0]: at for at in groups.values() if len(at) > 1}
    skip = {i for at in merged.values() for i in at[1:]}
    for i, item in enumerate(items):
        if i in skip:
            continue
        if i in merged:
            parts = [items[j].item if negated else items[j] for j in merged[i]]  # type: ignore[union-attr]
            first = parts[0]
            values = tuple(dict.fromkeys(v for p in parts for v in p.values))  # type: ignore[union-attr]
            text = TextMatch(first.field, values, first.mode, first.span)  # type: ignore[union-attr]
            out.append(Not(text, item.span) if negated else text)
        else:
            out.append(item)
    return out


def size(node: Expr | None) -> int:
    """How many predicates the filter has (a value list counts each value)."""
    return sum(len(n.values) if isinstance(n, TextMatch) else 1 for n in walk(node) if not children(n))
