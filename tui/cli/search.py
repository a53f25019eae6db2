"""Commands that read queries: parse, search, explain, and ask (plain words)."""

from __future__ import annotations

import click
from attune.query import outline, parse, render

from ..output import FORMATS, render_results, result_rows
from .common import QUERY_ARGS, cli, columns_option, library_option, open_library


@cli.command("parse", context_settings=QUERY_ARGS)
@click.argument("query", nargs=-1, type=click.UNPROCESSED)
@click.option("--explain", is_flag=True, help="Also print the query's parts in plain words.")
def parse_command(query: tuple[str, ...], explain: bool) -> None:
    """Parse QUERY and print its canonical form.

    Several arguments are joined with spaces, so quoting the whole query is optional.
    A malformed query prints the error with a caret under the column and exits 2.
    """
    q = parse(" ".join(query))
    click.echo(outline(q) if explain else render(q))


# -- searching ---------------------------------------------------------------------------


@cli.command("search", context_settings=QUERY_ARGS)
@click.argument("query", nargs=-1, type=click.UNPROCESSED)
@library_option
@click.option("--explain", is_flag=True, help="Explain each result: predicates met, distance by dimension.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--limit", type=click.IntRange(min=1), help="At most this many results (a cap: a smaller limit: in the query wins).")
@columns_option
def search_command(query, library_path, explain, fmt, limit, columns) -> None:
    """Run QUERY against the library and print the results, best first."""
    lib = open_library(library_path)
    results = lib.search(" ".join(query), limit=limit)
    click.echo(results.explain() if explain else render_results(results, fmt, columns))


@cli.command("explain", context_settings=QUERY_ARGS)
@click.argument("query", nargs=-1, type=click.UNPROCESSED)
@library_option
def explain_command(query, library_path) -> None:
    """Print the plan QUERY compiles to: filters, vector terms, space, executor."""
    click.echo(open_library(library_path).explain(" ".join(query)))


@cli.command("ask", context_settings=QUERY_ARGS)
@click.argument("text", nargs=-1, required=True, type=click.UNPROCESSED)
@library_option
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--limit", type=click.IntRange(min=1), help="At most this many results.")
@click.option("--query-only", is_flag=True, help="Print only the query the words became.")
@columns_option
def ask_command(text, library_path, fmt, limit, query_only, columns) -> None:
    """Search in plain words: prints how each word was read, the query, and the results.

    With --format json: one object with the reading (asked, query, terms, unmapped,
    notes) and the results; csv and m3u print the reading on stderr.
    """
    answer = open_library(library_path).ask(" ".join(text), limit=limit)
    if query_only:
        click.echo(answer.query)
        return
    if fmt == "json":  # one object: the reading and the results, for voice and text front ends
        import json

        click.echo(json.dumps(answer.to_dict() | {"results": result_rows(answer.results, columns)}, ensure_ascii=False, indent=2))
        return
    click.echo(answer.explain(), err=fmt != "table")
    click.echo(render_results(answer.results, fmt, columns))
