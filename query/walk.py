"""Walking a filter expression: the one tree walker every part of attune uses.

- `children(node)`: the direct sub-expressions (And/Or items, the item of a Not).
- `walk(node)`: every node, parent before children, left to right.
- `leaves(node)`: the predicates a person reads, left to right; a Not of a predicate
  counts as one (for explanations: "- artist:x").
- `conjuncts(node)`: the items of a top-level And (the node itself otherwise).
- `depth(node)`: nesting depth (a predicate has depth 1).
- `rebuild(node, fn)`: a copy with `fn` applied bottom-up (a node's children first).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from .ast import And, Expr, Not, Or


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
