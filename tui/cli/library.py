"""Library commands: import, fit, analyze, eval, genres and tags."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np
from attune.query import AttuneError

from .common import Group, cli, library_option, open_library


@cli.group("import", cls=Group)
def import_group() -> None:
    """Import data curators already have."""


@import_group.command("spotify")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@library_option
@click.option("--encoding", metavar="NAME", help="The files' text encoding (default: UTF-8, or UTF-16 with a byte-order mark).")
def import_spotify_command(files, library_path, encoding) -> None:
    """Import Spotify audio-feature CSVs (spotifyr/TidyTuesday or Exportify layout, .csv or .csv.gz)."""
    click.echo(str(open_library(library_path, create=True).import_spotify(files, encoding=encoding)))


@cli.command("fit")
@library_option
def fit_command(library_path) -> None:
    """Refit the whitening of every space from the library's playlists."""
    for name, w in open_library(library_path).fit().items():
        how = f"pooled over {w.n_playlists} playlists ({w.n_entries} entries), lambda {w.lam:.4f}" if w.pooled else "global standardisation (too few playlists)"
        click.echo(f"{name}: {len(w.dims)} dimensions, {how}")


@cli.command("optimize")
@library_option
@click.option("--full", is_flag=True, help="Refit the whitening and write the audio index anew, even when adding would do.")
def optimize_command(library_path, full) -> None:
    """Build or refresh the indexes: the audio space's vector index and the filters' scalar indexes.

    Run it after big imports or index runs. A library over its memory budget
    (ATTUNE_MEMORY_BUDGET) serves the audio space from this index; `attune explain` says
    when the index is behind the library (the newest tracks are then ranked exactly beside it).
    """
    import sys

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    lib = open_library(library_path)
    rows = lib.store.count("tracks", "array_length(embedding) > 0")
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(file=sys.stderr), transient=True) as bar:
        tasks = {"audio": bar.add_task("audio vectors", total=rows or None, visible=bool(rows)),
                 "scalar": bar.add_task("scalar indexes", total=None)}
        done = lib.optimize(full=full, progress=lambda stage, n: bar.advance(tasks[stage], n))
    s = done["scalar"]
    click.echo(f"filters: {len(s['indexes'])} scalar indexes ({', '.join(s['indexes'])}) in {s['seconds']:.1f} s")
    if "audio" in done:
        a = done["audio"]
        how = f"IVF_FLAT, {a['partitions']} partitions" if a["partitions"] else "too few rows for an IVF index: exact scans"
        if a.get("current"):
            click.echo(f"audio: the index of {a['rows']:,} tracks is current")
        elif a.get("rebuilt"):
            click.echo(f"audio: {a['rows']:,} tracks written and indexed ({how}) in {a['seconds']:.1f} s")
        else:
            click.echo(f"audio: {a['added']:,} tracks added to the index ({a['rows']:,} in all, {how}) in {a['seconds']:.1f} s")
    else:
        click.echo("audio: no indexed audio in this library (attune index FOLDER adds it)")


@cli.command("analyze")
@library_option
@click.option("--spaces", default="attr,audio", show_default=True, help="Comma-separated: attr, audio, colisten.")
@click.option("--outliers", "outliers_of", metavar="NAME", help="List the outliers of one playlist.")
@click.option("--plot", "plot_dir", type=click.Path(path_type=Path, file_okay=False), help="Write PNG charts here (needs matplotlib).")
@click.option("--top", type=int, default=15, show_default=True, help="Playlists listed per space.")
def analyze_command(library_path, spaces, outliers_of, plot_dir, top) -> None:
    """Does each playlist hang together, and in which space? (Patwari et al. 2020)"""
    from attune.engine.analysis import histogram

    lib = open_library(library_path)
    names = [s.strip() for s in spaces.split(",") if s.strip()]
    analysis = lib.analyze(spaces=names)
    for space, why in analysis.skipped.items():
        click.echo(f"{space}: skipped ({why})")
    if not analysis.spaces:
        click.echo("nothing to analyze: " + "; ".join(sorted(set(analysis.skipped.values()))))
        return
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
            try:
                t, p, tw, pw = analysis.ttest(a, b)
            except AttuneError as exc:
                click.echo(f"\n{a} vs {b}: no test ({exc})")
                continue
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


@cli.group("eval", cls=Group)
def eval_group() -> None:
    """Measure how well attune does on the current library."""


@eval_group.command("expand")
@library_option
@click.option("--holdout", type=click.FloatRange(0.01, 0.9), default=0.2, show_default=True)
@click.option("--k", "k", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--min-size", type=click.IntRange(min=2), default=40, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def eval_expand_command(library_path, holdout, k, min_size, seed) -> None:
    """Hide part of every playlist, expand the rest, report recall@k next to baselines."""
    from attune.engine.analysis.evaluate import evaluate_expansion

    lib = open_library(library_path)
    click.echo(str(evaluate_expansion(lib.snapshot(), holdout=holdout, k=k, min_size=min_size, seed=seed)))


@cli.group("genres", cls=Group, invoke_without_command=True)
@library_option
@click.pass_context
def genres_group(ctx, library_path) -> None:
    """How raw genre strings (file tags, imports) map onto the library's genres.

    Without a subcommand: the mapping of every raw string seen, with the tracks
    that carry it. `attune genres set RAW GENRE...` overrides one mapping.
    """
    if ctx.invoked_subcommand is not None:
        return
    lib = open_library(library_path)
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
@library_option
def genres_set(raw, genres, library_path) -> None:
    """Map the raw genre string RAW to GENRES (one or more), for existing and future tracks."""
    changed = open_library(library_path).set_genre_override(raw, genres)
    click.echo(f"'{raw}' -> {', '.join(genres)}; {changed} tracks updated")


@genres_group.command("unset")
@click.argument("raw")
@library_option
def genres_unset(raw, library_path) -> None:
    """Remove the override of RAW (it is mapped automatically again)."""
    changed = open_library(library_path).set_genre_override(raw, None)
    click.echo(f"override of '{raw}' removed; {changed} tracks updated")


@cli.group("tags", cls=Group)
def tags_group() -> None:
    """Tags and genres, and how they relate."""


@tags_group.command("related")
@click.argument("tag", nargs=-1, required=True)
@library_option
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True)
def tags_related(tag, library_path, limit) -> None:
    """Tags related to TAG: cosine similarity in an LSI space of the track-by-tag matrix."""
    lib = open_library(library_path)
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


# -- history --------------------------------------------------------------------------------


@cli.command("history")
@library_option
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
def history_command(library_path, limit) -> None:
    """The library's recent writes, newest first: number, when, what, which tables.

    `attune restore N` brings the library back to how it was before write N.
    """
    entries = open_library(library_path).history(limit)
    if not entries:
        click.echo("no writes recorded yet")
        return
    for e in entries:
        click.echo(f"{e.number:>5}  {e.at:%Y-%m-%d %H:%M:%S}  {e.what}  [{', '.join(e.tables) or 'no change'}]")


@cli.command("restore")
@click.argument("number", type=click.IntRange(min=1))
@library_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def restore_command(number, library_path, yes) -> None:
    """Bring the library back to how it was before write NUMBER (`attune history`).

    That write and every later one are undone; the restore is itself a write, so it can
    be undone the same way.
    """
    lib = open_library(library_path)
    entry = next((e for e in lib.history(None) if e.number == number), None)
    if entry is not None and not yes:
        later = sum(e.number > number for e in lib.history(None))
        if not click.confirm(f"undo write {number} ({entry.what})" + (f" and the {later} after it" if later else "") + "?"):
            raise click.exceptions.Exit(1)
    restored = lib.restore(number)
    changed = ", ".join(f"{t} to version {v}" for t, v in restored.items()) or "nothing to change"
    click.echo(f"restored the library to before write {number}: {changed}")
