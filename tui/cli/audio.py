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
@click.option("--precision", type=click.Choice(["fp32", "bf16"]), help="Model precision (default: bf16 where the CPU has it).")
@click.option("--prune", is_flag=True, help="Remove tracks whose files are gone.")
@click.option("--errors", "show_errors", is_flag=True, help="List the files that could not be indexed, and why.")
def index_command(paths, library_path, backbone, workers, precision, prune, show_errors) -> None:
    """Index audio files and folders: segments, embeddings and attributes."""
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
    from attune.indexer.pipeline import index
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("indexing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  TextColumn("{task.description}"), transient=True, disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task("", total=None)

        def progress(done: int, total: int, path: str) -> None:
            bar.update(task, completed=done, total=total, description=Path(path).name[:40])

        report = index(lib, paths, backbone=backbone, workers=workers, precision=precision, prune=prune, progress=progress)
    click.echo(str(report))


@cli.group("train", cls=Group)
def train_group() -> None:
    """Train models on your own labels."""


@train_group.command("attributes")
@click.argument("labels", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@library_option
def train_attributes(labels, library_path) -> None:
    """Fit attribute heads on the library's embeddings from LABELS.csv and re-score the library.

    LABELS.csv has a track_id or path column and any of: energy (0, 0.5, 1),
    valence (0, 0.5, 1), vocalness (0, 1), genres (separated by ';').
    """
    from attune.indexer.heads import train

    quality, read, rescored = train(open_library(library_path), labels)
    click.echo(f"trained on {len(read.track_ids)} labelled tracks ({len(read.skipped)} rows skipped)")
    for line, reason in read.skipped:
        click.echo(f"  skipped line {line}: {reason}")
    click.echo("5-fold cross-validated quality:")
    for metric, value in quality.items():
        click.echo(f"  {metric:<32} {value:.3f}")
    click.echo(f"re-scored {rescored} tracks; `attune models list` shows the active heads")


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
    """What is installed, and which attribute heads are active."""
    from attune.indexer.backbones import installed

    for row in installed():
        state = "installed" if row["installed"] else "not installed (attune models install)"
        click.echo(f"{row['name']:<14} {row['kind']:<34} {state:<40} {row['path']}")
