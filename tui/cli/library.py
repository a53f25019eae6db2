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
@click.option("--full", is_flag=True, help="Refit the whitening and write the space indexes anew, even when adding would do.")
def optimize_command(library_path, full) -> None:
    """Build or refresh the indexes: the audio and co-listen spaces' vector indexes, the
    filters' scalar indexes and the row copy result rows are read from.

    Run it after big imports or index runs, and after playlist edits. A library over its
    memory budget (ATTUNE_MEMORY_BUDGET) serves the audio and co-listen spaces from these
    indexes and reads result rows from the copy; `attune explain` says when an index is
    behind the library (the newest tracks are then ranked exactly beside it; tracks written
    after the copy are read from the tracks table) or its playlists.
    """
    import sys

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    lib = open_library(library_path)
    rows = lib.store.count("tracks", "array_length(embedding) > 0")
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(file=sys.stderr), transient=True) as bar:
        tasks = {"audio": bar.add_task("audio vectors", total=rows or None, visible=bool(rows)),
                 "scalar": bar.add_task("scalar indexes", total=None),
                 "rows": bar.add_task("result rows", total=lib.store.count("tracks") or None),
                 "colisten": bar.add_task("co-listen positions", total=lib.store.count("tracks") or None),
                 "attr": bar.add_task("attribute space", total=lib.store.count("tracks") or None)}
        done = lib.optimize(full=full, progress=lambda stage, n: bar.advance(tasks[stage], n))
    s = done["scalar"]
    click.echo(f"filters: {len(s['indexes'])} scalar indexes ({', '.join(s['indexes'])}) in {s['seconds']:.1f} s")
    r = done["rows"]
    if r.get("current"):
        click.echo(f"result rows: the copy of {r['rows']:,} tracks is current")
    else:
        what = "written" if r.get("rebuilt") else f"brought up to date ({r['replaced']:,} tracks written since)"
        click.echo(f"result rows: the row copy of {r['rows']:,} tracks {what} in {r['seconds']:.1f} s "
                   "(a library over its memory budget reads result rows from it)")
    if "audio" in done:
        a = done["audio"]
        _echo_index("audio", a, f"{a['rows']:,} tracks written and indexed ({_index_kind(a)})",
                    f"{a.get('added', 0):,} tracks added to the index ({a['rows']:,} in all, {_index_kind(a)})")
    else:
        click.echo("audio: no indexed audio in this library (attune index FOLDER adds it)")
    if "colisten" in done:
        c = done["colisten"]
        _echo_index("co-listen", c, f"{c.get('learned', 0) + c.get('estimated', 0):,} tracks placed ({c.get('learned', 0):,} "
                    f"learned from the playlists, kept beside the index; {c.get('estimated', 0):,} estimated by the "
                    f"cold-start mapping and indexed: {_index_kind(c)})",
                    f"{c.get('added', 0):,} tracks placed and added to the index ({c['rows']:,} estimates in it, "
                    f"{_index_kind(c)})")
    else:
        click.echo("co-listen: no track is in a playlist (nothing to learn the space from)")
    p = done["attr"]
    if p.get("current"):
        click.echo(f"attribute space: the parts of {p['rows']:,} tracks are current")
    elif not p.get("skipped"):
        click.echo(f"attribute space: the parts of {p['rows']:,} tracks written and the whitening fitted in "
                   f"{p['seconds']:.1f} s (a library over its memory budget builds the space from them)")


def _echo_index(label: str, part: dict, rebuilt: str, added: str) -> None:
    """One line on what `attune optimize` did to a space's index."""
    if part.get("current"):
        click.echo(f"{label}: the index of {part['rows']:,} tracks is current")
    elif part.get("repaired"):
        click.echo(f"{label}: the index could not be used ({part['repaired']}): {rebuilt} anew in "
                   f"{part.get('seconds', 0.0):.1f} s")
    else:
        click.echo(f"{label}: {rebuilt if part.get('rebuilt') else added} in {part.get('seconds', 0.0):.1f} s")


def _index_kind(part: dict) -> str:
    """What `attune optimize` built for a space: the IVF index, or none (too few rows)."""
    return f"IVF_FLAT, {part['partitions']} partitions" if part["partitions"] else "too few rows for an IVF index: exact scans"


@cli.command("analyze")
@library_option
@click.option("--spaces", default="attr,audio", show_default=True, help="Comma-separated: attr, audio, colisten.")
@click.option("--outliers", "outliers_of", metavar="NAME", help="List the outliers of one playlist.")
@click.option("--plot", "plot_dir", type=click.Path(path_type=Path, file_okay=False), help="Write PNG charts here.")
@click.option("--top", type=int, default=15, show_default=True, help="Playlists listed per space.")
@click.option("--agreement", "agreement_of", metavar="A,B[,C]",
              help="Instead: how far the spaces agree, S_n (shared nearest neighbours), e.g. attr,audio,colisten.")
@click.option("--n", "n", type=click.IntRange(min=1), default=10, show_default=True, help="Neighbours per track for --agreement.")
@click.option("--sample", type=click.IntRange(min=2), default=20_000, show_default=True,
              help="At most this many tracks for --agreement (a seeded sample beyond).")
def analyze_command(library_path, spaces, outliers_of, plot_dir, top, agreement_of, n, sample) -> None:
    """Does each playlist hang together, and in which space? (Patwari et al. 2020)

    With --agreement: S_n of each pair of spaces (Tovstogan 2022), the mean share of a
    track's n nearest neighbours in one space that are also among its n nearest in the
    other, next to what chance gives (n / (N - 1))."""
    from attune.engine.analysis import histogram

    lib = open_library(library_path)
    if agreement_of:
        _agreement(lib, [s.strip() for s in agreement_of.split(",") if s.strip()], n, sample)
        return
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


def _agreement(lib, spaces: list[str], n: int, sample: int) -> None:
    found = lib.agreement(spaces, n=n, sample=sample)
    for note in found.notes:
        click.echo(note)
    if not found.pairs:
        raise click.UsageError("no two of these spaces could be compared")
    click.echo(f"{'spaces':<22}{'S_' + str(n):>8}{'chance':>9}{'tracks':>9}")
    for (a, b), (value, count) in found.pairs.items():
        click.echo(f"{a + ' vs ' + b:<22}{value:>8.3f}{found.chance((a, b)):>9.4f}{count:>9,}")


@cli.command("map")
@library_option
@click.option("--space", type=click.Choice(["attr", "audio", "colisten"]), default="attr", show_default=True)
@click.option("--playlist", "playlists", multiple=True, metavar="NAME", help="Colour this playlist's tracks (repeatable).")
@click.option("--method", type=click.Choice(["pca", "umap"]), default="pca", show_default=True)
@click.option("--sample", type=click.IntRange(min=3), default=20_000, show_default=True,
              help="At most this many tracks (a seeded sample; named playlists' tracks always included).")
@click.option("--out", "out", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="The PNG to write; the coordinates go to a CSV of the same name beside it.")
def map_command(library_path, space, playlists, method, sample, out) -> None:
    """A map of the library in one space: PCA or UMAP to two dimensions, playlists coloured."""
    plt = _pyplot()
    lib = open_library(library_path)
    found = lib.map(space=space, playlists=list(playlists), method=method, sample=sample)
    frame = found.frame
    out.parent.mkdir(parents=True, exist_ok=True)
    csv = out.with_suffix(".csv")
    frame.write_csv(csv)
    fig, ax = plt.subplots(figsize=(9, 7.5))
    rest = frame.filter(frame["playlist"] == "")
    ax.scatter(rest["x"], rest["y"], s=3, c="#c8c8c8", linewidths=0, label=f"other tracks ({rest.height:,})")
    for name in dict.fromkeys(frame["playlist"].to_list()):
        if name:
            part = frame.filter(frame["playlist"] == name)
            ax.scatter(part["x"], part["y"], s=14, linewidths=0, label=f"{name} ({part.height})")
    axes = ("PC1", "PC2") if method == "pca" else ("UMAP 1", "UMAP 2")
    if found.explained:
        axes = (f"PC1 ({found.explained[0]:.0%} of variance)", f"PC2 ({found.explained[1]:.0%})")
    # A few far-off tracks would squash everyone else into a dot: the view holds the
    # central 99% (plus a margin), and the CSV has every track.
    outside = 0
    if frame.height >= 50:
        xs, ys = frame["x"].to_numpy(), frame["y"].to_numpy()
        (x0, x1), (y0, y1) = np.percentile(xs, [0.5, 99.5]), np.percentile(ys, [0.5, 99.5])
        mx, my = 0.1 * (x1 - x0 or 1.0), 0.1 * (y1 - y0 or 1.0)
        ax.set_xlim(x0 - mx, x1 + mx)
        ax.set_ylim(y0 - my, y1 + my)
        outside = int(((xs < x0 - mx) | (xs > x1 + mx) | (ys < y0 - my) | (ys > y1 + my)).sum())
    ax.set_xlabel(axes[0])
    ax.set_ylabel(axes[1])
    ax.set_title(f"{frame.height:,} tracks in the {space} space ({method.upper()})")
    ax.legend(loc="best", fontsize=8, markerscale=2)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    for note in [*found.notes, *([f"{outside} far-off tracks lie outside the view (they are in the CSV)"] if outside else [])]:
        click.echo(note)
    share = f"; the axes hold {found.explained[0]:.0%} and {found.explained[1]:.0%} of the variance" if found.explained else ""
    click.echo(f"wrote {out} and {csv}: {frame.height:,} tracks, {len(playlists)} playlist{'' if len(playlists) == 1 else 's'} coloured{share}")


def _pyplot():
    """matplotlib's pyplot, drawing to files (no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plots(analysis, folder: Path) -> None:
    plt = _pyplot()
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
@click.option("--share", "shares", type=click.FloatRange(0.0, 1.0), multiple=True,
              help="Also rank with this share of the places kept for new artists (repeatable): "
                   "the trade-off between recall and discovery.")
def eval_expand_command(library_path, holdout, k, min_size, seed, shares) -> None:
    """Hide part of every playlist, expand the rest, report recall@k next to baselines."""
    lib = open_library(library_path)
    click.echo(str(lib.evaluate_expansion(holdout=holdout, k=k, min_size=min_size, seed=seed, shares=list(shares))))


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
