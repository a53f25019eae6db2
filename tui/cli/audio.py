"""Audio commands: index, train attributes, models install and list."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .common import Group, cli, library_option, open_library

BACKBONE_CHOICES = ("msd-musicnn", "mtt-musicnn", "msd-vgg", "mtt-vgg")


@cli.command("index")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@library_option
@click.option("--backbone", default="msd-musicnn", show_default=True,
              type=click.Choice([*BACKBONE_CHOICES, "dsp"]))
@click.option("--workers", type=click.IntRange(min=1), help="Worker processes (default: one per core).")
@click.option("--precision", type=click.Choice(["fp32", "bf16"]), help="Model precision (default: bf16 where the CPU or GPU has it).")
@click.option("--device", default="cpu", show_default=True, metavar="cpu|cuda|cuda:N",
              help="Where the model runs: the CPU, or a CUDA GPU (batched; decoding stays on the CPU workers).")
@click.option("--prune", is_flag=True, help="Remove tracks whose files are gone.")
@click.option("--errors", "show_errors", is_flag=True, help="List the files that could not be indexed, and why.")
@click.option("--ray", "ray_address", is_flag=False, flag_value="local", default=None, metavar="[ADDRESS]",
              help="Run on a Ray cluster with Ray Data: ADDRESS is auto, HOST:PORT or ray://HOST:PORT; alone, a Ray "
                   "instance started on this machine.")
def index_command(paths, library_path, backbone, workers, precision, device, prune, show_errors, ray_address) -> None:
    """Index audio files and folders: segments, embeddings and attributes."""
    if ray_address is not None and ray_address not in ("local", "auto") and ":" not in ray_address:
        # `--ray ~/Music`: click took the folder for the address; a Ray address is "auto",
        # "local" or has a colon (HOST:PORT, ray://HOST:PORT)
        paths, ray_address = (*paths, Path(ray_address)), "local"
    lib = open_library(library_path, create=not show_errors and bool(paths))
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
    from attune.indexer import index
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("indexing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  TextColumn("{task.description}"), transient=True, disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task("", total=None)

        def progress(done: int, total: int, path: str) -> None:
            bar.update(task, completed=done, total=total, description=Path(path).name[:40])

        options = {"workers": workers, "device": device} if ray_address is None else {}
        report = index(lib, paths, backbone=backbone, precision=precision, prune=prune, progress=progress, ray=ray_address,
                       **options)
    click.echo(str(report))


@cli.group("train", cls=Group)
def train_group() -> None:
    """Train models on your own labels."""


@train_group.command("attributes")
@click.argument("labels", required=False, type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--from-spotify", "spotify", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="Fit energy, valence, danceability and acousticness from a Spotify audio-feature export "
                   "(Exportify or TidyTuesday CSV) of the music you indexed.")
@click.option("--verbose", "-v", is_flag=True, help="List every matched and unmatched row.")
@library_option
def train_attributes(labels, spotify, verbose, library_path) -> None:
    """Fit attribute heads on the library's embeddings and re-score the library.

    From LABELS.csv: a track_id or path column and any of energy (0, 0.5, 1), valence
    (0, 0.5, 1), vocalness (0, 1), genres (separated by ';').

    With --from-spotify FILE.csv: Spotify's own values for the files you indexed, matched by
    ISRC (from the files' tags) or else by artist and title.
    """
    if (labels is None) == (spotify is None):
        raise click.UsageError("give LABELS.csv or --from-spotify FILE.csv (one of them)")
    if spotify is not None:
        _train_from_spotify(open_library(library_path), spotify, verbose)
        return
    from attune.indexer.heads import train

    quality, read, rescored = train(open_library(library_path), labels)
    click.echo(f"trained on {len(read.track_ids)} labelled tracks ({len(read.skipped)} rows skipped)")
    for line, reason in read.skipped:
        click.echo(f"  skipped line {line}: {reason}")
    click.echo("5-fold cross-validated quality:")
    for metric, value in quality.items():
        click.echo(f"  {metric:<32} {value:.3f}")
    click.echo(f"re-scored {rescored} tracks; `attune models list` shows the active heads")


def _train_from_spotify(lib, path: Path, verbose: bool) -> None:
    from attune.indexer.heads import train_from_spotify

    report = train_from_spotify(lib, path)
    isrc = sum(1 for *_, how in report.matched if how == "isrc")
    click.echo(f"matched {len(report.matched)} of {report.rows} rows to indexed files "
               f"({isrc} by ISRC, {len(report.matched) - isrc} by artist and title); "
               f"{len(report.unmatched)} matched none, {len(report.ambiguous)} ambiguous, {len(report.duplicates)} duplicates; "
               f"{report.unlabelled} indexed files have no row")
    shown = None if verbose else 10
    if verbose:
        for row, file, how in report.matched:
            click.echo(f"  matched   {row}  ->  {file}  (by {how})")
    for row in report.unmatched[:shown]:
        click.echo(f"  no match  {row}")
    if shown is not None and len(report.unmatched) > shown:
        click.echo(f"  ... and {len(report.unmatched) - shown} more (--verbose lists them all)")
    for row, why in report.ambiguous[:shown]:
        click.echo(f"  ambiguous {row}: {why}")
    for line in report.skipped[:shown]:
        click.echo(f"  unreadable {line}")
    click.echo("5-fold cross-validated quality (against Spotify's values):")
    for name, q in report.quality.items():
        click.echo(f"  {name:<13} Spearman {q['spearman']:.3f}  Pearson {q['pearson']:.3f}  "
                   f"mean abs error {q['mae']:.3f}  ({int(q['n'])} tracks)")
    click.echo(f"re-scored {report.rescored} tracks; `attune models list` shows the active heads")


@train_group.command("colisten")
@library_option
def train_colisten(library_path) -> None:
    """Learn the co-listen space now: its vectors (from the playlists) and the cold-start
    mapping that places tracks in no playlist, reported with its held-out loss.

    Both are otherwise learned on first use after the playlists change."""
    lib = open_library(library_path)
    mapping = lib.train_colisten()
    if mapping is None:
        raise click.ClickException("too few playlisted tracks to learn a cold-start mapping from "
                                   "(it needs 40 tracks with co-listen vectors in playlists that share them)")
    r = mapping.report
    click.echo(f"cold-start mapping: {r['features']} features -> {len(mapping.b2)} co-listen dimensions, "
               f"trained on {r['tracks']} tracks ({r['pairs']} playlist pairs) in {r['seconds']:.1f} s")
    click.echo(f"  contrastive loss: train {r['train_loss']:.3f}, held out ({r['held_out_tracks']} tracks) "
               f"{r['held_out_loss']:.3f}, chance {r['chance_loss']:.3f}")
    click.echo(f"  held-out squared error {r['residual']:.1f} (playlist mates {r['mate_distance']:.1f} apart, "
               f"random tracks {r['random_distance']:.1f}; added to an estimate's distances)")
    estimated = lib.space("colisten").estimated
    click.echo(f"  {0 if estimated is None else int(estimated.sum())} tracks in no playlist placed in the co-listen space")


@cli.group("models", cls=Group)
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
    """What is installed, and which attributes come from trained heads (else the zero-shot formulas)."""
    from attune.indexer.backbones import installed

    rows = installed()
    for row in rows:
        state = "installed" if row["installed"] else "not installed (attune models install)"
        click.echo(f"{row['name']:<14} {row['kind']:<34} {state:<40} {row['path']}")
    heads = {row["name"]: row for row in rows if row.get("heads")}
    for row in rows:
        if not row["kind"].startswith("backbone") or not row["installed"]:
            continue
        active = heads.get(row["name"])
        if active is None:
            click.echo(f"{row['name']}: attributes from the zero-shot formulas (tags + signal); "
                       "`attune train attributes` fits heads")
        else:
            from_heads = ", ".join(active["heads"])
            click.echo(f"{row['name']}: {from_heads} from heads trained on {active['tracks']} tracks "
                       f"({active['source']}); the other attributes from the zero-shot formulas")
