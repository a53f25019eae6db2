"""docs/query-language.md must mention every keyword, operator, field and option."""

import re
from pathlib import Path

import pytest
from attune.query import fields as vocab
from attune.query import grammar_text, parse

DOC = Path(__file__).parent.parent / "docs" / "query-language.md"


def grammar_keywords() -> set[str]:
    # Terminal definitions only, e.g. `_OR.2: "OR" | "|"`; comments and regexes aside.
    grammar = "\n".join(
        line for line in grammar_text().splitlines() if re.match(r"_?[A-Z_]+(\.\d+)?:", line)
    )
    literals = set()
    for line in grammar.splitlines():
        if "/" not in line:
            literals |= set(re.findall(r'"([^"]+)"', line))
    # Keywords written as regex alternatives, e.g. /(?:in|limit|sort|per|weight):/
    for alternatives, suffix in re.findall(r"/\(\?:([a-z|]+)\)(:?)/", grammar):
        literals |= {word + suffix for word in alternatives.split("|")}
    literals |= {"like:", "unlike:"}
    return literals


@pytest.mark.parametrize(
    "word",
    sorted(grammar_keywords() | {f"{o}:" for o in vocab.OPTIONS} | set(vocab.TEXT_FIELDS)
           | set(vocab.NUMERIC_FIELDS) | set(vocab.SPACES) | {".."}),
)
def test_documented(word):
    """Each word appears as a whole token inside an inline code span of the reference."""
    spans = re.findall(r"`([^`\n]+)`", DOC.read_text(encoding="utf-8"))
    token = re.compile(r"(?<![A-Za-z_])" + re.escape(word) + (r"(?![A-Za-z_])" if word[-1].isalnum() else ""))
    assert any(token.search(span) for span in spans), f"{word!r} is not shown in code in {DOC.name}"


def test_documented_check_can_fail():
    """The check above rejects a word that is only in prose or only part of a longer name."""
    spans = ["energy<0.4", "genre:soul"]
    token = re.compile(r"(?<![A-Za-z_])" + re.escape("ene") + r"(?![A-Za-z_])")
    assert not any(token.search(span) for span in spans)


def test_grammar_keywords_found():
    words = grammar_keywords()
    assert {"OR", "AND", "NOT", "playlist(", "limit:", "weight:", ":=", ":~", "<="} <= words


def test_doc_examples_parse():
    """Every inline example in backticks that looks like a query parses."""
    text = DOC.read_text(encoding="utf-8")
    examples = [m for m in re.findall(r"`([^`\n]+)`", text) if re.match(r"-?[a-z_]+(:|<|>|=|!)", m)]
    assert len(examples) > 20
    for example in examples:
        if example.endswith(":") or re.search(r"^field|FIELD|DIM|=N$|:N$|low|high|^m:ss|^h:mm|=X$", example):
            continue  # a keyword or a placeholder, not a query
        if example in ("genre:soul OR limit:5", "-like:"):
            continue  # shown as an error on purpose
        parse(example)
