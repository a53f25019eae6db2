"""Trainable attribute heads on frozen embeddings (seed paper, section 2.2).

Small fully connected nets map a backbone's embedding to attributes:
energy (128-64), valence and vocalness (256-512-256) and genres (256-512-256,
multi-label). Labels are a curator's: energy and valence in buckets 0 / 0.5 / 1,
vocalness 0 / 1, genres as a list. Training uses Adam, early stopping on a
held-out tenth of the training rows, and a fixed seed. Quality is reported with
5-fold cross-validation in the paper's Table 1 terms: energy accuracy within
0.25, valence accuracy within 0.33, vocalness and genre precision / recall.

Heads are saved per backbone (config.json + heads.safetensors) under
`<models>/heads/<backbone>`, then the library is re-scored with them; the
indexer uses active heads for every track it indexes afterwards.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from attune.engine import AttuneError

HIDDEN = {"energy": (128, 64), "valence": (256, 512, 256), "vocalness": (256, 512, 256), "genres": (256, 512, 256),
          "danceability": (128, 64), "acousticness": (128, 64)}
#: Heads fitted from Spotify's audio features (values 0..1): small, for a few hundred tracks.
SPOTIFY_HIDDEN = (128, 64)
SPOTIFY_TARGETS = ("energy", "valence", "danceability", "acousticness")
SEED = 0


class TrainingError(AttuneError):
    title = "training error"


@dataclass
class Labels:
    track_ids: list[str]
    energy: np.ndarray  # NaN where unlabelled
    valence: np.ndarray
    vocalness: np.ndarray
    genres: list[list[str] | None]
    skipped: list[tuple[int, str]] = field(default_factory=list)


def read_labels(path: Path, known: dict[str, str]) -> Labels:
    """LABELS.csv: track_id or path, then any of energy, valence, vocalness, genres (';'-separated)."""
    rows: dict[str, list] = {"ids": [], "energy": [], "valence": [], "vocalness": [], "genres": []}
    skipped = []
    allowed = {"energy": (0.0, 0.5, 1.0), "valence": (0.0, 0.5, 1.0), "vocalness": (0.0, 1.0)}
    with Path(path).open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = {h.strip().lower(): h for h in reader.fieldnames or []}
        if "track_id" not in header and "path" not in header:
            raise TrainingError(f"{path} needs a track_id or path column")
        for line, row in enumerate(reader, start=2):
            key = (row.get(header.get("track_id", ""), "") or "").strip() or (row.get(header.get("path", ""), "") or "").strip()
            track = known.get(key)
            if track is None:
                skipped.append((line, f"no indexed track with id or path {key!r}"))
                continue
            values = {}
            try:
                for name, choices in allowed.items():
                    text = (row.get(header.get(name, ""), "") or "").strip()
                    values[name] = float(text) if text else np.nan
                    if text and values[name] not in choices:
                        raise ValueError(f"{name} {text} is not one of {', '.join(f'{c:g}' for c in choices)}")
            except ValueError as exc:
                skipped.append((line, str(exc)))
                continue
            text = (row.get(header.get("genres", ""), "") or "").strip()
            rows["ids"].append(track)
            for name in allowed:
                rows[name].append(values[name])
            rows["genres"].append([g.strip().lower() for g in text.split(";") if g.strip()] if text else None)
    return Labels(rows["ids"], np.array(rows["energy"]), np.array(rows["valence"]), np.array(rows["vocalness"]), rows["genres"], skipped)


def _mlp(inputs: int, hidden: tuple[int, ...], outputs: int):
    from torch import nn

    layers: list = []
    for width in hidden:
        layers += [nn.Linear(inputs, width), nn.ReLU()]
        inputs = width
    layers.append(nn.Linear(inputs, outputs))
    return nn.Sequential(*layers)


def _fit(x: np.ndarray, y: np.ndarray, hidden: tuple[int, ...], *, multilabel: bool, epochs: int = 400, patience: int = 30, min_epochs: int = 60):
    """Train one head with Adam and early stopping; returns (model, mean, std)."""
    import torch

    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    xs = torch.from_numpy(((x - mean) / std).astype(np.float32))
    ys = torch.from_numpy(y.astype(np.float32).reshape(len(y), -1))
    order = rng.permutation(len(xs))
    n_val = max(1, len(xs) // 10) if len(xs) >= 10 else 0
    val, train = order[:n_val], order[n_val:]
    model = _mlp(xs.shape[1], hidden, ys.shape[1])
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    best, best_state, waited = float("inf"), None, 0
    for epoch in range(epochs):
        model.train()
        for batch in np.array_split(rng.permutation(train), max(1, len(train) // 16)):
            optimiser.zero_grad()
            loss = loss_fn(model(xs[batch]), ys[batch])
            loss.backward()
            optimiser.step()
        model.eval()
        with torch.no_grad():
            check = val if n_val else train
            score = float(loss_fn(model(xs[check]), ys[check]))
        if score < best - 1e-5:
            best, best_state, waited = score, {k: v.clone() for k, v in model.state_dict().items()}, 0
        else:
            waited += 1
            if waited >= patience and epoch >= min_epochs:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    return model.eval(), mean, std


def _predict(model, mean, std, x: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return torch.sigmoid(model(torch.from_numpy(((x - mean) / std).astype(np.float32)))).numpy()


def _targets(labels: Labels, vocabulary: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """attribute -> (rows with a label, target matrix)."""
    out = {}
    for name in ("energy", "valence", "vocalness"):
        values = getattr(labels, name)
        rows = np.flatnonzero(~np.isnan(values))
        if len(rows) >= 10:
            out[name] = (rows, values[rows][:, None])
    rows = np.array([i for i, g in enumerate(labels.genres) if g is not None], dtype=int)
    if len(rows) >= 10 and vocabulary:
        y = np.array([[1.0 if v in labels.genres[i] else 0.0 for v in vocabulary] for i in rows])
        out["genres"] = (rows, y)
    return out


def _quality(name: str, truth: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    if name == "energy":
        return {"energy accuracy (within 0.25)": float(np.mean(np.abs(pred[:, 0] - truth[:, 0]) <= 0.25))}
    if name == "valence":
        return {"valence accuracy (within 0.33)": float(np.mean(np.abs(pred[:, 0] - truth[:, 0]) <= 0.33))}
    hit, yes = pred >= 0.5, truth >= 0.5
    precision = float((hit & yes).sum() / max(hit.sum(), 1))
    recall = float((hit & yes).sum() / max(yes.sum(), 1))
    label = "vocalness" if name == "vocalness" else "genre"
    return {f"{label} precision": precision, f"{label} recall": recall}


def cross_validate(x: np.ndarray, labels: Labels, vocabulary: list[str], folds: int = 5) -> dict[str, float]:
    report: dict[str, list[float]] = {}
    for name, (rows, y) in _targets(labels, vocabulary).items():
        order = np.random.default_rng(SEED).permutation(len(rows))
        truth, pred = [], []
        for k in range(folds):
            test = order[k::folds]
            train = np.setdiff1d(order, test)
            model, mean, std = _fit(x[rows[train]], y[train], HIDDEN[name], multilabel=name == "genres")
            truth.append(y[test])
            pred.append(_predict(model, mean, std, x[rows[test]]))
        for metric, value in _quality(name, np.concatenate(truth), np.concatenate(pred)).items():
            report.setdefault(metric, []).append(value)
    return {k: float(np.mean(v)) for k, v in report.items()}


class Heads:
    """Trained heads of one backbone: `predict(embeddings)` -> attribute arrays."""

    def __init__(self, backbone: str, models: dict, vocabulary: list[str], *, confidence: dict[str, float] | None = None,
                 source: str = "labels", tracks: int = 0) -> None:
        self.backbone = backbone
        self.models = models  # name -> (module, mean, std)
        self.vocabulary = vocabulary
        #: attribute -> how far its values can be trusted (from the cross-validation)
        self.confidence = confidence or {}
        self.source = source  # "labels" (a curator's LABELS.csv) or "spotify" (--from-spotify)
        self.tracks = tracks

    def predict(self, x: np.ndarray) -> dict[str, np.ndarray]:
        return {name: _predict(m, mean, std, x) for name, (m, mean, std) in self.models.items()}

    def save(self, directory: Path) -> None:
        import torch
        from safetensors.torch import save_file

        directory.mkdir(parents=True, exist_ok=True)
        tensors = {}
        config = {"backbone": self.backbone, "vocabulary": self.vocabulary, "heads": {}, "confidence": self.confidence,
                  "source": self.source, "tracks": self.tracks}
        for name, (model, mean, std) in self.models.items():
            hidden = [layer.out_features for layer in list(model)[:-1] if hasattr(layer, "out_features")]
            config["heads"][name] = {"hidden": hidden, "inputs": len(mean), "outputs": model[-1].out_features}
            for key, value in model.state_dict().items():
                tensors[f"{name}.{key}"] = value.contiguous()
            tensors[f"{name}.mean"] = torch.from_numpy(mean.astype(np.float32))
            tensors[f"{name}.std"] = torch.from_numpy(std.astype(np.float32))
        (directory / "config.json").write_text(json.dumps(config, indent=2))
        save_file(tensors, str(directory / "heads.safetensors"))

    @classmethod
    def load(cls, directory: Path) -> Heads:
        from safetensors.torch import load_file

        config = json.loads((directory / "config.json").read_text())
        tensors = load_file(str(directory / "heads.safetensors"))
        models = {}
        for name, spec in config["heads"].items():
            model = _mlp(spec["inputs"], tuple(spec["hidden"]), spec["outputs"])
            model.load_state_dict({k[len(name) + 1 :]: v for k, v in tensors.items() if k.startswith(name + ".") and k.split(".")[1].isdigit()})
            models[name] = (model.eval(), tensors[f"{name}.mean"].numpy(), tensors[f"{name}.std"].numpy())
        return cls(config["backbone"], models, config["vocabulary"], confidence=config.get("confidence", {}),
                   source=config.get("source", "labels"), tracks=config.get("tracks", 0))


def heads_dir(backbone: str, models: Path | None = None) -> Path:
    from .backbones import models_dir

    return (models or models_dir()) / "heads" / backbone


def active_heads(backbone: str, models: Path | None = None) -> Heads | None:
    folder = heads_dir(backbone, models)
    return Heads.load(folder) if (folder / "config.json").exists() else None


def train(lib, labels_path: Path, *, models_path: Path | None = None) -> tuple[dict[str, float], Labels, int]:
    """Cross-validate, train on everything, save the heads, re-score the library.

    Returns (quality, labels, tracks re-scored).
    """
    rows_read, backbone = _indexed(lib)
    known = {r["track_id"]: r["track_id"] for r in rows_read}
    known.update({r["path"]: r["track_id"] for r in rows_read if r.get("path")})
    labels = read_labels(labels_path, known)
    if len(labels.track_ids) < 10:
        raise TrainingError(f"{len(labels.track_ids)} usable labelled tracks; at least 10 are needed")
    rows = {r["track_id"]: i for i, r in enumerate(rows_read)}
    embeddings = np.stack([np.asarray(r["embedding"], dtype=np.float32) for r in rows_read])
    x = embeddings[[rows[t] for t in labels.track_ids]]
    vocabulary = sorted({g for gs in labels.genres if gs for g in gs})
    quality = cross_validate(x, labels, vocabulary)
    fitted = {name: _fit(x[r], y, HIDDEN[name], multilabel=name == "genres") for name, (r, y) in _targets(labels, vocabulary).items()}
    confidence = {name: float(quality[metric]) for name, metric in (("energy", "energy accuracy (within 0.25)"),
                                                                    ("valence", "valence accuracy (within 0.33)"),
                                                                    ("vocalness", "vocalness precision")) if metric in quality}
    heads = Heads(backbone, fitted, vocabulary, confidence=confidence, source="labels", tracks=len(labels.track_ids))
    heads.save(heads_dir(backbone, models_path))
    rescored = rescore(lib, heads, rows_read, embeddings)
    return quality, labels, rescored


# -- heads from a Spotify audio-feature export ---------------------------------------------------


@dataclass
class SpotifyTraining:
    """What `train_from_spotify` did: the matching report, the 5-fold quality, the re-scoring."""

    rows: int
    matched: list[tuple[str, str, str]]  # (the row's "artist - title", the file, "isrc" | "artist+title")
    unmatched: list[str]  # rows' "artist - title"
    ambiguous: list[tuple[str, str]]
    duplicates: list[str]
    unlabelled: int  # indexed files no row labels
    quality: dict[str, dict[str, float]]  # attribute -> {"spearman", "pearson", "mae", "n"}
    rescored: int = 0
    skipped: list[str] = field(default_factory=list)  # unreadable rows of the file


def _indexed(lib) -> tuple[list[dict], str]:
    rows = lib.indexed_rows()
    if not rows:
        raise TrainingError("no track in the library has an audio embedding; run `attune index` first")
    backbones = sorted({r["backbone"] for r in rows if r.get("backbone")})
    if len(backbones) != 1:
        raise TrainingError(f"the library mixes backbones ({', '.join(backbones)}); heads are trained per backbone")
    return rows, backbones[0]


def _isrc_of(row: dict) -> str | None:
    """The row's ISRC, else the one in its file's tags (libraries indexed before ISRCs were kept)."""
    if row.get("isrc"):
        return row["isrc"]
    path = row.get("path")
    if path and Path(path).exists():
        from .audio import read_tags

        return read_tags(path).get("isrc")
    return None


def cross_validate_regression(x: np.ndarray, y: np.ndarray, folds: int = 5) -> dict[str, float]:
    """5-fold Spearman, Pearson and mean absolute error of a 0..1 head."""
    from scipy.stats import pearsonr, spearmanr

    order = np.random.default_rng(SEED).permutation(len(y))
    pred = np.empty(len(y))
    for k in range(folds):
        test = order[k::folds]
        train = np.setdiff1d(order, test)
        model, mean, std = _fit(x[train], y[train, None], SPOTIFY_HIDDEN, multilabel=False)
        pred[test] = _predict(model, mean, std, x[test])[:, 0]
    flat = np.ptp(y) == 0 or np.ptp(pred) == 0
    return {"spearman": 0.0 if flat else float(spearmanr(y, pred)[0]), "pearson": 0.0 if flat else float(pearsonr(y, pred)[0]),
            "mae": float(np.mean(np.abs(pred - y))), "n": float(len(y))}


def train_from_spotify(lib, csv_path: Path, *, models_path: Path | None = None, min_tracks: int = 20) -> SpotifyTraining:
    """Match a Spotify audio-feature export (Exportify, TidyTuesday/spotifyr) to the indexed
    files (engine.ingest.matching: ISRC, else artist + title), fit heads for energy, valence,
    danceability and acousticness from Spotify's values, report 5-fold quality, save the heads
    and re-score the library. Attributes with fewer than `min_tracks` labelled files are left
    to the zero-shot formulas."""
    from attune.engine.ingest import read_spotify
    from attune.engine.ingest.matching import match_rows

    indexed, backbone = _indexed(lib)
    table = read_spotify([csv_path])
    rows = list(table.tracks.values())
    if not rows:
        raise TrainingError(f"{csv_path} has no readable rows" + (f" ({table.skipped[0]})" if table.skipped else ""))
    tracks = [{"track_id": r["track_id"], "title": r.get("title"), "artist": r.get("artist"), "isrc": _isrc_of(r)} for r in indexed]
    match = match_rows(tracks, rows)
    by_id = {r["track_id"]: r for r in indexed}

    def name(row: dict) -> str:
        return f"{row.get('artist') or '?'} - {row.get('title') or row.get('track_id')}"

    report = SpotifyTraining(
        rows=len(rows),
        matched=[(name(rows[i]), by_id[t].get("path") or t, how) for i, t, how in match.pairs],
        unmatched=[name(rows[i]) for i in match.unmatched_rows],
        ambiguous=[(name(rows[i]), why) for i, why in match.ambiguous_rows],
        duplicates=[name(rows[i]) for i, _ in match.duplicate_rows],
        unlabelled=len(match.unlabelled_tracks),
        quality={},
        skipped=[str(s) for s in table.skipped],
    )
    row_of = {r["track_id"]: i for i, r in enumerate(indexed)}
    embeddings = np.stack([np.asarray(r["embedding"], dtype=np.float32) for r in indexed])
    fitted, confidence = {}, {}
    for target in SPOTIFY_TARGETS:
        pairs = [(row_of[t], rows[i][target]) for i, t, _ in match.pairs if rows[i].get(target) is not None]
        if len(pairs) < min_tracks:
            continue
        x = embeddings[[p[0] for p in pairs]]
        y = np.array([p[1] for p in pairs], dtype=np.float64)
        report.quality[target] = cross_validate_regression(x, y)
        fitted[target] = _fit(x, y[:, None], SPOTIFY_HIDDEN, multilabel=False)
        confidence[target] = float(np.clip(report.quality[target]["spearman"], 0.0, 1.0))
    if not fitted:
        raise TrainingError(
            f"{len(match.pairs)} of {len(rows)} rows matched an indexed file; at least {min_tracks} with Spotify's "
            "values are needed to fit a head (is the CSV of the same music? see the matching report with --verbose)"
        )
    heads = Heads(backbone, fitted, [], confidence=confidence, source="spotify", tracks=len(match.pairs))
    heads.save(heads_dir(backbone, models_path))
    report.rescored = rescore(lib, heads, indexed, embeddings)
    return report


#: The 0..1 attributes a head may replace (each with its `_confidence` column where it has one).
HEAD_ATTRIBUTES = ("energy", "valence", "vocalness", "danceability", "acousticness")
CONFIDENCE_COLUMNS = ("energy", "valence", "vocalness")


def rescore(lib, heads: Heads, rows: list[dict], embeddings: np.ndarray) -> int:
    """Write the heads' predictions into the library's tracks (whole rows, one commit)."""
    predictions = heads.predict(embeddings)
    updated = [dict(row) for row in rows]
    for i, row in enumerate(updated):
        for name in HEAD_ATTRIBUTES:
            if name in predictions:
                row[name] = float(predictions[name][i, 0])
                if name in CONFIDENCE_COLUMNS:
                    row[name + "_confidence"] = heads.confidence.get(name)
        if "genres" in predictions:
            scores = predictions["genres"][i]
            row["genres"] = [g for g, s in sorted(zip(heads.vocabulary, scores), key=lambda kv: -kv[1]) if s >= 0.5]
            row["genre_scores"] = [{"genre": g, "score": float(s)} for g, s in zip(heads.vocabulary, scores)]
    lib.rescore(updated)
    return len(updated)
