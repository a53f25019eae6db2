"""The `attune` command line.

Every command prints user errors (`AttuneError`) to stderr without a traceback
and exits with status 2; anything unexpected exits with status 1. Commands
that use a library take `--library PATH` (default: $ATTUNE_LIBRARY, else the
platform's data directory).
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import click
import numpy as np

from attune.query import AttuneError, outline, parse, render

from .output import FORMATS, render_results, result_rows


def _version() -> str:
    try:
        return version("attune")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


class _Group(click.Group):
    """Turns AttuneError into a clean message and exit status 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except AttuneError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(2 if exc.user_error else 1)


# Queries often start with '-' (a negation): commands that take a query have no
# short options, so click hands '-artist:x' through untouched.
_QUERY_ARGS = {"ignore_unknown_options": True, "help_option_names": ["--help"]}

# `--library` is taken before the command (`attune --library PATH search ...`, as beets
# takes -l) and after it (`attune search ... --library PATH`); after wins. Neither: the
# engine's default ($ATTUNE_LIBRARY, else the user data directory).
_library_option = click.option(
    "--library",
    "library_path",
    type=click.Path(path_type=Path, file_okay=False),
    help="Library directory (default: $ATTUNE_LIBRARY, else the user data directory).",
)


def _library_path(path: Path | None) -> Path | None:
    """The library the command names: its own --library, else the one given before it."""
    if path is not None:
        return path
    ctx = click.get_current_context(silent=True)
    return ctx.find_root().params.get("library_path") if ctx is not None else None


def _columns(ctx, param, value: str | None) -> tuple[str, ...] | None:
    return tuple(c.strip() for c in value.split(",") if c.strip()) if value else None


_columns_option = click.option(
    "--columns", callback=_columns, metavar="A,B,...",
    help="Result columns to print, in this order (e.g. title,artist,energy,tags).",
)


def _open(path: Path | None):
    from attune.engine import Library

    return Library.open(_library_path(path))


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version(), "--version", "-V", prog_name="attune")
@_library_option
def cli(library_path: Path | None) -> None:
    """attune: find music by what it sounds like and what it means.

    Every command that uses a library takes --library PATH, before the command
    or after it.
    """


@cli.command("parse", context_settings=_QUERY_ARGS)
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


@cli.command("search", context_settings=_QUERY_ARGS)
@click.argument("query", nargs=-1, type=click.UNPROCESSED)
@_library_option
@click.option("--explain", is_flag=True, help="Explain each result: predicates met, distance by dimension.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--limit", type=click.IntRange(min=1), help="At most this many results (a cap: a smaller limit: in the query wins).")
@_columns_option
def search_command(query, library_path, explain, fmt, limit, columns) -> None:
    """Run QUERY against the library and print the results, best first."""
    lib = _open(library_path)
    results = lib.search(" ".join(query), limit=limit)
    click.echo(results.explain() if explain else render_results(results, fmt, columns))


@cli.command("explain", context_settings=_QUERY_ARGS)
@click.argument("query", nargs=-1, type=click.UNPROCESSED)
@_library_option
def explain_command(query, library_path) -> None:
    """Print the plan QUERY compiles to: filters, vector terms, space, executor."""
    click.echo(_open(library_path).explain(" ".join(query)))


@cli.command("recipe")
@click.argument("name")
@_library_option
@click.option("--explain", is_flag=True, help="Describe the recipe in words (genre cluster, means and spreads).")
def recipe_command(name, library_path, explain) -> None:
    """Print a playlist's recipe as a query you can edit and run."""
    recipe = _open(library_path).recipe(name, cluster=explain)
    click.echo(recipe.describe() if explain else str(recipe))


@cli.command("expand")
@click.argument("name")
@_library_option
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--explain", is_flag=True, help="Explain each candidate's score.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@_columns_option
def expand_command(name, library_path, limit, explain, fmt, columns) -> None:
    """Suggest tracks to add to playlist NAME."""
    results = _open(library_path).expand(name, limit=limit)
    click.echo(results.explain() if explain else render_results(results, fmt, columns))


@cli.command("fit")
@_library_option
def fit_command(library_path) -> None:
    """Refit the whitening of every space from the library's playlists."""
    for name, w in _open(library_path).fit().items():
        how = f"pooled over {w.n_playlists} playlists ({w.n_entries} entries), lambda {w.lam:.4f}" if w.pooled else "global standardisation (too few playlists)"
        click.echo(f"{name}: {len(w.dims)} dimensions, {how}")


@cli.command("analyze")
@_library_option
@click.option("--spaces", default="attr,audio", show_default=True, help="Comma-separated: attr, audio, colisten.")
@click.option("--outliers", "outliers_of", metavar="NAME", help="List the outliers of one playlist.")
@click.option("--plot", "plot_dir", type=click.Path(path_type=Path, file_okay=False), help="Write PNG charts here (needs matplotlib).")
@click.option("--top", type=int, default=15, show_default=True, help="Playlists listed per space.")
def analyze_command(library_path, spaces, outliers_of, plot_dir, top) -> None:
    """Does each playlist hang together, and in which space? (Patwari et al. 2020)"""
    from attune.engine.analysis import histogram

    lib = _open(library_path)
    names = [s.strip() for s in spaces.split(",") if s.strip()]
    analysis = lib.analyze(spaces=names)
    for space, why in analysis.skipped.items():
        click.echo(f"{space}: skipped ({why})")
    for space in analysis.spaces:
        deltas = analysis.spaces[space].deltas["delta"].to_numpy()
        click.echo(f"\n== {space}: {len(analysis.spaces[space].playlists)} playlists, {len(deltas)} entries, "
                   f"mean Delta {np.nanmean(deltas):.2f}, outliers (Delta < 0) {int((deltas < 0).sum())}")
        if outliers_of:
            playlist = lib.playlists.get(outliers_of).name
            rows = analysis.outliers(space, playlist)
            titles = dict(lib.snapshot().frame.select("track_id", "title").iter_rows())
            click.echo(f"outliers of '{playlist}' (closer to another playlist's centre):")
            for r in rows.iter_rows(named=True):
                click.echo(f"  {r['delta']:>8.2f}  {titles.get(r['track_id']) or r['track_id']}  (nearer to '{r['nearest']}')")
            continue
        summary = analysis.summary(space).head(top)
        click.echo(f"{'playlist':<40}{'entries':>8}{'compact':>9}{'mean Delta':>11}{'outliers':>9}  nearest")
        for r in summary.iter_rows(named=True):
            click.echo(f"{(r['playlist'] or '')[:39]:<40}{r['entries'] or 0:>8}{r['compactness']:>9.2f}{(r['mean_delta'] or 0):>11.2f}{r['outliers'] or 0:>9}  {r['nearest'] or ''}")
        click.echo("Delta histogram:\n" + histogram(deltas))
    done = list(analysis.spaces)
    for i, a in enumerate(done):
        for b in done[i + 1 :]:
            t, p, tw, pw = analysis.ttest(a, b)
            click.echo(f"\n{a} vs {b}: paired t = {t:.2f} (p = {p:.3g}), Welch t = {tw:.2f} (p = {pw:.3g})")
    if plot_dir:
        _plots(analysis, plot_dir)


def _plots(analysis, folder: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise click.UsageError("--plot needs matplotlib: pip install matplotlib") from None
    folder.mkdir(parents=True, exist_ok=True)
    for space, a in analysis.spaces.items():
        fig, ax = plt.subplots(figsize=(8, 7))
        ax.imshow(a.mean_distances, cmap="viridis")
        ax.set_title(f"mean distance of playlist entries to playlist centres ({space})")
        fig.savefig(folder / f"distances-{space}.png", dpi=110)
        plt.close(fig)
        fig, ax = plt.subplots(figsize=(8, 4))
        ax.hist(a.deltas["delta"].drop_nans().to_numpy(), bins=40)
        ax.set_title(f"Delta ({space}); > 0: closer to its own playlist")
        fig.savefig(folder / f"delta-{space}.png", dpi=110)
        plt.close(fig)
    click.echo(f"charts written to {folder}")


@cli.group("eval", cls=_Group)
def eval_group() -> None:
    """Measure how well attune does on the current library."""


@eval_group.command("expand")
@_library_option
@click.option("--holdout", type=click.FloatRange(0.01, 0.9), default=0.2, show_default=True)
@click.option("--k", "k", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--min-size", type=click.IntRange(min=2), default=40, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def eval_expand_command(library_path, holdout, k, min_size, seed) -> None:
    """Hide part of every playlist, expand the rest, report recall@k next to baselines."""
    from attune.engine.evaluate import evaluate_expansion

    lib = _open(library_path)
    click.echo(str(evaluate_expansion(lib.snapshot(), holdout=holdout, k=k, min_size=min_size, seed=seed)))


@cli.command("tui")
@_library_option
def tui_command(library_path) -> None:
    """The curator's terminal app (press ? inside for the keys)."""
    from attune.engine.store import default_library_path

    from .app import AttuneApp

    AttuneApp(library_path=_library_path(library_path) or default_library_path()).run()


# -- audio ---------------------------------------------------------------------------------------


#: The backbones with learned weights (installed by `attune models install`).
BACKBONE_CHOICES = ("msd-musicnn", "mtt-musicnn", "msd-vgg", "mtt-vgg")


@cli.command("index")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@_library_option
@click.option("--backbone", default="msd-musicnn", show_default=True,
              type=click.Choice([*BACKBONE_CHOICES, "dsp"]))
@click.option("--workers", type=click.IntRange(min=1), help="Worker processes (default: one per core).")
@click.option("--precision", type=click.Choice(["fp32", "bf16"]), help="Model precision (default: bf16 where the CPU has it).")
@click.option("--prune", is_flag=True, help="Remove tracks whose files are gone.")
@click.option("--errors", "show_errors", is_flag=True, help="List the files that could not be indexed, and why.")
def index_command(paths, library_path, backbone, workers, precision, prune, show_errors) -> None:
    """Index audio files and folders: segments, embeddings and attributes."""
    lib = _open(library_path)
    if show_errors:
        rows = lib.index_errors()
        for path, reason in rows:
            click.echo(f"{path}\t{reason}")
        if not rows:
            click.echo("no indexing errors")
        return
    if not paths and not prune:
        raise click.UsageError("give at least one file or folder to index")
    from attune.indexer.backbones import install_musicnn, is_installed, models_dir

    if backbone in BACKBONE_CHOICES and not is_installed(backbone):
        click.echo(f"the {backbone} weights are not installed in {models_dir()}; installing them first (attune models install)", err=True)
        install_musicnn(None)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("indexing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  TextColumn("{task.description}"), transient=True, disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task("", total=None)

        def progress(done: int, total: int, path: str) -> None:
            bar.update(task, completed=done, total=total, description=Path(path).name[:40])

        report = lib.index(paths, backbone=backbone, workers=workers, precision=precision, prune=prune, progress=progress)
    click.echo(str(report))


@cli.group("train", cls=_Group)
def train_group() -> None:
    """Train models on your own labels."""


@train_group.command("attributes")
@click.argument("labels", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@_library_option
def train_attributes(labels, library_path) -> None:
    """Fit attribute heads on the library's embeddings from LABELS.csv and re-score the library.

    LABELS.csv has a track_id or path column and any of: energy (0, 0.5, 1),
    valence (0, 0.5, 1), vocalness (0, 1), genres (separated by ';').
    """
    from attune.indexer.heads import train

    quality, read, rescored = train(_open(library_path), labels)
    click.echo(f"trained on {len(read.track_ids)} labelled tracks ({len(read.skipped)} rows skipped)")
    for line, reason in read.skipped:
        click.echo(f"  skipped line {line}: {reason}")
    click.echo("5-fold cross-validated quality:")
    for metric, value in quality.items():
        click.echo(f"  {metric:<32} {value:.3f}")
    click.echo(f"re-scored {rescored} tracks; `attune models list` shows the active heads")


@cli.group("models", cls=_Group)
def models_group() -> None:
    """Install and list the pretrained models (in $ATTUNE_MODELS or the user data directory)."""


@models_group.command("install")
@click.argument("which", required=False, default="musicnn", type=click.Choice(["musicnn"]))
@click.option("--from", "wheel", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="A musicnn-0.1.0 wheel you already have (default: pip download it from PyPI).")
def models_install(which, wheel) -> None:
    """Convert musicnn 0.1.0's TensorFlow checkpoints (MSD/MTT x MusiCNN/VGG) to torch."""
    from attune.indexer.backbones import install_musicnn

    for folder in install_musicnn(wheel):
        click.echo(f"installed {folder.name} in {folder}")


@models_group.command("list")
def models_list() -> None:
    """What is installed, and which attribute heads are active."""
    from attune.indexer.backbones import installed

    for row in installed():
        state = "installed" if row["installed"] else "not installed (attune models install)"
        click.echo(f"{row['name']:<14} {row['kind']:<34} {state:<40} {row['path']}")


# -- importing and playlists -----------------------------------------------------------------


@cli.group("import", cls=_Group)
def import_group() -> None:
    """Import data curators already have."""


@import_group.command("spotify")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@_library_option
def import_spotify_command(files, library_path) -> None:
    """Import Spotify audio-feature CSVs (spotifyr/TidyTuesday or Exportify layout)."""
    click.echo(str(_open(library_path).import_spotify(files)))


@cli.group("playlist", cls=_Group)
def playlist_group() -> None:
    """Create, edit, import and export playlists."""


@playlist_group.command("list")
@_library_option
def playlist_list(library_path) -> None:
    for p in _open(library_path).playlists.all():
        click.echo(f"{p.name}\t{len(p.track_ids)} tracks")


@playlist_group.command("show")
@click.argument("name")
@_library_option
def playlist_show(name, library_path) -> None:
    lib = _open(library_path)
    playlist = lib.playlists.get(name)
    frame = lib.snapshot().frame
    by_id = {r["track_id"]: r for r in frame.filter(frame["track_id"].is_in(list(playlist.track_ids))).iter_rows(named=True)}
    click.echo(f"{playlist.name} ({len(playlist.track_ids)} tracks)")
    for i, tid in enumerate(playlist.track_ids, start=1):
        row = by_id.get(tid)
        label = f"{row['artist'] or '?'} - {row['title'] or '?'}" if row else "(not in the library)"
        click.echo(f"{i:>4}. {label}\t{tid}")


@playlist_group.command("create")
@click.argument("name")
@click.argument("track_ids", nargs=-1)
@_library_option
def playlist_create(name, track_ids, library_path) -> None:
    p = _open(library_path).playlists.create(name, track_ids)
    click.echo(f"created '{p.name}' with {len(p.track_ids)} tracks")


@playlist_group.command("add")
@click.argument("name")
@click.argument("track_ids", nargs=-1, required=True)
@_library_option
def playlist_add(name, track_ids, library_path) -> None:
    p = _open(library_path).playlists.add(name, track_ids)
    click.echo(f"'{p.name}' now has {len(p.track_ids)} tracks")


@playlist_group.command("remove")
@click.argument("name")
@click.argument("track_ids", nargs=-1, required=True)
@_library_option
def playlist_remove(name, track_ids, library_path) -> None:
    p = _open(library_path).playlists.remove(name, track_ids)
    click.echo(f"'{p.name}' now has {len(p.track_ids)} tracks")


@playlist_group.command("rename")
@click.argument("name")
@click.argument("new_name")
@_library_option
def playlist_rename(name, new_name, library_path) -> None:
    p = _open(library_path).playlists.rename(name, new_name)
    click.echo(f"renamed to '{p.name}'")


@playlist_group.command("delete")
@click.argument("name")
@_library_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def playlist_delete(name, library_path, yes) -> None:
    lib = _open(library_path)
    playlist = lib.playlists.get(name)
    if not yes and not click.confirm(f"delete playlist '{playlist.name}' ({len(playlist.track_ids)} tracks)?"):
        raise click.exceptions.Exit(1)
    lib.playlists.delete(playlist.name)
    click.echo(f"deleted '{playlist.name}'")


@playlist_group.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--name", help="Playlist name (default: the file name).")
@_library_option
def playlist_import(file, name, library_path) -> None:
    """Import an M3U, M3U8, XSPF or CSV playlist, matching entries to library tracks."""
    click.echo(str(_open(library_path).playlists.import_file(file, name=name)))


@playlist_group.command("export")
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(["m3u", "xspf", "csv"]), default="m3u", show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), help="Write here instead of stdout.")
@_library_option
def playlist_export(name, fmt, output, library_path) -> None:
    text = _open(library_path).playlists.export(name, fmt)
    if output:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)


# -- plain words, genres and tags ---------------------------------------------------------


@cli.command("ask", context_settings=_QUERY_ARGS)
@click.argument("text", nargs=-1, required=True, type=click.UNPROCESSED)
@_library_option
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--limit", type=click.IntRange(min=1), help="At most this many results.")
@click.option("--query-only", is_flag=True, help="Print only the query the words became.")
@_columns_option
def ask_command(text, library_path, fmt, limit, query_only, columns) -> None:
    """Search in plain words: prints how each word was read, the query, and the results.

    With --format json: one object with the reading (asked, query, terms, unmapped,
    notes) and the results; csv and m3u print the reading on stderr.
    """
    answer = _open(library_path).ask(" ".join(text), limit=limit)
    if query_only:
        click.echo(answer.query)
        return
    if fmt == "json":  # one object: the reading and the results, for voice and text front ends
        import json

        click.echo(json.dumps(answer.to_dict() | {"results": result_rows(answer.results, columns)}, ensure_ascii=False, indent=2))
        return
    click.echo(answer.explain(), err=fmt != "table")
    click.echo(render_results(answer.results, fmt, columns))


@cli.group("genres", cls=_Group, invoke_without_command=True)
@_library_option
@click.pass_context
def genres_group(ctx, library_path) -> None:
    """How raw genre strings (file tags, imports) map onto the library's genres.

    Without a subcommand: the mapping of every raw string seen, with the tracks
    that carry it. `attune genres set RAW GENRE...` overrides one mapping.
    """
    if ctx.invoked_subcommand is not None:
        return
    lib = _open(library_path)
    gm = lib.genre_map()
    counts = lib.tag_counts()
    if not gm.seen:
        click.echo("no genre strings imported or indexed yet")
        return
    click.echo(f"{'raw string':<32}{'genres':<36}{'how':<18}{'tagged':>7}")
    for raw in sorted(gm.seen, key=str.lower):
        m = gm.seen[raw]
        tagged = counts.get(raw.lower(), 0) or "-"  # playlist-level genres tag no track
        click.echo(f"{raw[:31]:<32}{', '.join(m.genres)[:35]:<36}{m.how[:17]:<18}{tagged:>7}")
    for raw, genres in sorted(gm.overrides.items()):
        if raw not in gm.seen:
            click.echo(f"{raw[:31]:<32}{', '.join(genres)[:35]:<36}{'override':<18}{'-':>7}")


@genres_group.command("set")
@click.argument("raw")
@click.argument("genres", nargs=-1, required=True)
@_library_option
def genres_set(raw, genres, library_path) -> None:
    """Map the raw genre string RAW to GENRES (one or more), for existing and future tracks."""
    changed = _open(library_path).set_genre_override(raw, genres)
    click.echo(f"'{raw}' -> {', '.join(genres)}; {changed} tracks updated")


@genres_group.command("unset")
@click.argument("raw")
@_library_option
def genres_unset(raw, library_path) -> None:
    """Remove the override of RAW (it is mapped automatically again)."""
    changed = _open(library_path).set_genre_override(raw, None)
    click.echo(f"override of '{raw}' removed; {changed} tracks updated")


@cli.group("tags", cls=_Group)
def tags_group() -> None:
    """Tags and genres, and how they relate."""


@tags_group.command("related")
@click.argument("tag", nargs=-1, required=True)
@_library_option
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True)
def tags_related(tag, library_path, limit) -> None:
    """Tags related to TAG: cosine similarity in an LSI space of the track-by-tag matrix."""
    lib = _open(library_path)
    name = " ".join(tag).lower().strip()  # as the tag model stores them
    space = lib.tags()
    if name not in space:
        from attune.engine import LibraryError
        from attune.query.fields import suggest

        guess = suggest(name, space.tags)
        raise LibraryError(f"no tag or genre '{name}' on two or more tracks" + (f"; did you mean '{guess}'?" if guess else ""))
    click.echo(f"tags related to '{name}' ({space.counts[name]} tracks):")
    for other, sim in space.related(name, limit=limit):
        click.echo(f"  {sim:6.3f}  {other}  ({space.counts[other]} tracks)")


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="attune")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
