"""Playlist commands: recipe, expand, and the playlist group (list, show, create, add,
remove, rename, delete, import, export)."""

from __future__ import annotations

from pathlib import Path

import click
from attune.engine.playlists import PER_ARTIST

from ..output import FORMATS, render_results, sparkline
from .common import Group, cli, columns_option, library_option, open_library


@cli.command("recipe")
@click.argument("name")
@library_option
@click.option("--explain", is_flag=True, help="Describe the recipe in words (genre cluster, means and spreads).")
def recipe_command(name, library_path, explain) -> None:
    """Print a playlist's recipe as a query you can edit and run."""
    recipe = open_library(library_path).recipe(name, cluster=explain)
    click.echo(recipe.describe() if explain else str(recipe))


@cli.command("expand")
@click.argument("name")
@library_option
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--discover", is_flag=True, help="Only artists the playlist does not have yet.")
@click.option("--include", metavar="QUERY", help='A filter every candidate must meet, e.g. "year>=2000 genre:soul".')
@click.option("--exclude", metavar="QUERY", help='A filter no candidate may meet, e.g. "artist:\"Al Green\"".')
@click.option("--per-artist", type=click.IntRange(min=0), default=PER_ARTIST, show_default=True,
              help="At most this many tracks per artist (0: no cap).")
@click.option("--versions", is_flag=True, help="Keep every version of a song (live, remaster, edit) as its own row.")
@click.option("--explain", is_flag=True, help="Explain each candidate's score (and the versions folded into it).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@columns_option
def expand_command(name, library_path, limit, discover, include, exclude, per_artist, versions, explain, fmt, columns) -> None:
    """Suggest tracks to add to playlist NAME: by default a mix of its own artists and
    artists it lacks; the recipe the candidates fit is printed with --explain."""
    results = open_library(library_path).expand(name, limit=limit, discover=discover, include=include, exclude=exclude,
                                                per_artist=per_artist or None, versions=versions)
    click.echo(results.explain() if explain else render_results(results, fmt, columns))


@cli.command("sequence")
@click.argument("name")
@library_option
@click.option("--arc", type=click.Choice(["rise", "fall", "peak", "valley", "flat"]), default="peak", show_default=True,
              help="The shape the attribute follows from the first track to the last.")
@click.option("--by", default="energy", show_default=True, help="The attribute that follows the arc (energy, valence, tempo, ...).")
@click.option("--space", type=click.Choice(["attr", "audio", "colisten"]), default="attr", show_default=True,
              help="Where steps between consecutive tracks are measured (kept short within the arc).")
@click.option("--save", is_flag=True, help="Rewrite the playlist in this order (undo with `attune restore`).")
def sequence_command(name, library_path, arc, by, space, save) -> None:
    """Order a playlist: an arc of one attribute (an opening, a build, a peak, a cool-down),
    with short steps between consecutive tracks."""
    lib = open_library(library_path)
    done = lib.sequence(name, arc=arc, by=by, space=space, save=save)
    rows = {r["track_id"]: r for r in (lib.track(t) or {"track_id": t} for t in done.track_ids)}
    for i, (tid, value) in enumerate(zip(done.track_ids, done.values), start=1):
        row = rows.get(tid, {})
        click.echo(f"{i:>4}. {value:6.2f}  {row.get('artist') or '?'} - {row.get('title') or '?'}\t{tid}")
    click.echo(f"{by}: {sparkline(done.values)}  ({arc})")
    click.echo(f"mean step in {space}: {done.mean_step:.2f} (the playlist's own order: {done.mean_step_before:.2f}; "
               f"a plain sort into the arc: {sum(done.sorted_steps) / max(len(done.sorted_steps), 1):.2f})")
    if save:
        click.echo(f"saved: {name} is in this order now (`attune history` lists the edit, `attune restore N` undoes it)")


@cli.command("path", context_settings={"ignore_unknown_options": True})
@click.argument("start")
@click.argument("end")
@library_option
@click.option("--steps", type=click.IntRange(min=2), default=10, show_default=True, help="Tracks in the path, both ends included.")
@click.option("--space", type=click.Choice(["attr", "audio", "colisten"]), default="attr", show_default=True)
@click.option("--where", metavar="QUERY", help='A filter every step in between must pass, e.g. "genre:soul year>=1970".')
def path_command(start, end, library_path, steps, space, where) -> None:
    """Tracks stepping from START to END (ids, file paths or unique titles): each nearer to
    END and farther from START than the one before, no artist twice."""
    found = open_library(library_path).path_between(start, end, steps=steps, space=space, where=where)
    assert found.frame is not None
    for i, row in enumerate(found.frame.iter_rows(named=True), start=1):
        click.echo(f"{i:>4}. {row['artist'] or '?'} - {row['title'] or '?'}\t{row['track_id']}\t"
                   f"to start {row['to_start']:.2f}  to end {row['to_end']:.2f}")
    for note in found.notes:
        click.echo(f"note: {note}", err=True)


@cli.group("playlist", cls=Group)
def playlist_group() -> None:
    """Create, edit, import and export playlists."""


@playlist_group.command("list")
@library_option
def playlist_list(library_path) -> None:
    for p in open_library(library_path).playlists.all():
        click.echo(f"{p.name}\t{len(p.track_ids)} tracks")


@playlist_group.command("show")
@click.argument("name")
@library_option
def playlist_show(name, library_path) -> None:
    lib = open_library(library_path)
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
@library_option
def playlist_create(name, track_ids, library_path) -> None:
    p = open_library(library_path).playlists.create(name, track_ids)
    click.echo(f"created '{p.name}' with {len(p.track_ids)} tracks")


@playlist_group.command("add")
@click.argument("name")
@click.argument("track_ids", nargs=-1, required=True)
@library_option
def playlist_add(name, track_ids, library_path) -> None:
    p = open_library(library_path).playlists.add(name, track_ids)
    click.echo(f"'{p.name}' now has {len(p.track_ids)} tracks")


@playlist_group.command("remove")
@click.argument("name")
@click.argument("track_ids", nargs=-1, required=True)
@library_option
def playlist_remove(name, track_ids, library_path) -> None:
    p = open_library(library_path).playlists.remove(name, track_ids)
    click.echo(f"'{p.name}' now has {len(p.track_ids)} tracks")


@playlist_group.command("rename")
@click.argument("name")
@click.argument("new_name")
@library_option
def playlist_rename(name, new_name, library_path) -> None:
    p = open_library(library_path).playlists.rename(name, new_name)
    click.echo(f"renamed to '{p.name}'")


@playlist_group.command("delete")
@click.argument("name")
@library_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def playlist_delete(name, library_path, yes) -> None:
    lib = open_library(library_path)
    playlist = lib.playlists.get(name)
    if not yes and not click.confirm(f"delete playlist '{playlist.name}' ({len(playlist.track_ids)} tracks)?"):
        raise click.exceptions.Exit(1)
    lib.playlists.delete(playlist.name)
    click.echo(f"deleted '{playlist.name}'")


@playlist_group.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--as", "--name", "name", metavar="NAME", help="Playlist name (default: the file name).")
@click.option("--replace", is_flag=True, help="Replace the tracks of an existing playlist of that name.")
@library_option
def playlist_import(file, name, replace, library_path) -> None:
    """Import an M3U, M3U8, XSPF or CSV playlist, matching entries to library tracks.

    A playlist of the same name is never changed unless --replace is given; use --as NAME
    to import it under another name.
    """
    click.echo(str(open_library(library_path).playlists.import_file(file, name=name, replace=replace)))


@playlist_group.command("export")
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(["m3u", "xspf", "csv"]), default="m3u", show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), help="Write here instead of stdout.")
@library_option
def playlist_export(name, fmt, output, library_path) -> None:
    text = open_library(library_path).playlists.export(name, fmt)
    if output:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            from attune.engine import LibraryError

            raise LibraryError(f"cannot write {output}: {exc.strerror or exc}") from None
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)
