"""Energy, valence and tempo against labels: the indexer's attributes now and before.

    python bench/bench_attributes.py [--backbone msd-musicnn]

The labelled check of issue 14 (tests/indexer/labelled.py builds it; nothing is downloaded):

1. Tempo: 22 pieces at known BPM rendered from real instrument sounds (vibraphone, trumpet
   and string notes cut from examples/audio, synthesised drums; rock, half-time, waltz,
   melody, sixteenths) plus the 90 bpm trumpet loop time-stretched to 72..126 bpm and as
   its one 5.3-second pass. Accuracy 1: within 4% of the true BPM; accuracy 2: within 4%
   of it, half, double, a third or three times (octave errors allowed; MIREX's measures).
2. Energy and valence: 32 pieces that vary one cue at a time (major/minor x fast/slow x
   high/low register x loud/soft x dense and bright/sparse and dark). Their labels count
   the cues listening studies agree raise arousal (loud, fast, dense, bright: 0..4) and
   valence (major, fast, high: 0..3); reported as Spearman's rho and the ROC AUC of the
   upper half (energy cues >= 3, valence cues >= 2).
3. The seven openly licensed recordings of examples/audio and the musicnn reference clip,
   with the ordering a listener hears (whale and speech below orchestra, folk band,
   electronic) and the span of valence.

"Before" is the indexer of the first wave, computed here from the same backbone outputs:
energy = eq. 1 over 0.5 sigmoid(8 (high tags - low tags)) + 0.5 clip((RMS dB + 45) / 40),
valence = mean sigmoid(8 (happy tags - sad tags)), tempo = librosa.beat.beat_track.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ATTUNE_MODELS", str(ROOT / ".models"))


def old_attributes(samples, seg, tags, duration) -> dict:
    import librosa
    from attune.indexer import temporal
    from attune.indexer.attributes import ENERGY, VALENCE, _contrast

    hop = int(round(3 * 16000))
    rms = np.array([20 * np.log10(np.sqrt(np.mean(samples[int(s * 16000):int(s * 16000) + hop].astype(np.float64) ** 2)) + 1e-9)
                    for s in seg.starts])
    loud = np.clip((rms + 45.0) / 40.0, 0, 1)
    tag = _contrast(seg.taggram, tags, ENERGY)
    energy = temporal.peak_energy(temporal.tiles(seg.starts, loud if tag is None else 0.5 * tag + 0.5 * loud, duration))
    valence = _contrast(seg.taggram, tags, VALENCE)
    onset = librosa.onset.onset_strength(y=samples, sr=16000, hop_length=512)
    bpm, _ = librosa.beat.beat_track(onset_envelope=onset, sr=16000, hop_length=512)
    return {"energy": energy, "valence": None if valence is None else float(valence.mean()), "tempo": float(np.atleast_1d(bpm)[0])}


def new_attributes(samples, spec, seg, model, duration) -> dict:
    from attune.indexer.attributes import describe

    return describe(samples, spec, seg, model.tags, model.segment_seconds, duration)


def run(items, model):
    from attune.indexer.audio import log_mel

    out = []
    for item in items:
        duration = len(item.samples) / 16000
        spec = log_mel(item.samples)
        seg = model.embed_spectrogram(spec, item.samples)
        t0 = time.perf_counter()
        new = new_attributes(item.samples, spec, seg, model, duration)
        seconds = time.perf_counter() - t0
        out.append((item, old_attributes(item.samples, seg, model.tags, duration), new, seconds, duration))
    return out


def tempo_accuracy(bpm: float | None, truth: float) -> tuple[bool, bool]:
    if not bpm:
        return False, False
    close = abs(bpm - truth) <= 0.04 * truth
    octave = any(abs(bpm - truth * f) <= 0.04 * truth * f for f in (1, 0.5, 2, 1 / 3, 3))
    return close, octave


def main() -> None:
    from attune.indexer.audio import decode
    from attune.indexer.backbones import load_backbone
    from scipy.stats import spearmanr

    from tests.indexer.labelled import Rendered, mood_set, tempo_set

    parser = argparse.ArgumentParser()
    parser.add_argument("--backbone", default="msd-musicnn")
    args = parser.parse_args()
    model = load_backbone(args.backbone)

    print(f"== tempo ({args.backbone}) ==")
    rows = run(tempo_set(), model)
    acc = {"before": [], "now": []}
    for item, old, new, _, _ in rows:
        acc["before"].append(tempo_accuracy(old["tempo"], item.bpm))
        acc["now"].append(tempo_accuracy(new["tempo"], item.bpm))
        alt = f" (or {new['tempo_alternative']:.1f})" if new["tempo_alternative"] else ""
        print(f"  {item.name:<32} true {item.bpm:6.1f}  before {old['tempo']:6.1f}  now {new['tempo'] or 0:6.1f}{alt}"
              f"  confidence {new['tempo_confidence']:.2f}")
    for k, v in acc.items():
        a = np.array(v)
        print(f"  {k:<7} accuracy 1 (within 4%) {a[:, 0].mean():.2f}   accuracy 2 (octaves allowed) {a[:, 1].mean():.2f}   n={len(a)}")

    print("== energy and valence: cue-controlled pieces ==")
    rows = run(mood_set(), model)
    for name, cues, high in (("energy", "energy_cues", 3), ("valence", "valence_cues", 2)):
        truth = np.array([getattr(r[0], cues) for r in rows])
        for label, k in (("before", 1), ("now", 2)):
            pred = np.array([r[k][name] for r in rows])
            rho = spearmanr(truth, pred)[0]
            print(f"  {name:<8} {label:<7} Spearman {rho:+.3f}   AUC(cues >= {high}) {auc(truth >= high, pred):.3f}"
                  f"   range {pred.min():.2f}..{pred.max():.2f}")

    print("== the openly licensed recordings ==")
    files = sorted((ROOT / "examples" / "audio").glob("*.ogg"))
    reference = ROOT / "tests" / "data" / "joram-moments_of_clarity-08-solipsism-59-88.mp3"
    items = [Rendered(f.stem[:28], decode(f).samples) for f in files + ([reference] if reference.exists() else [])]
    rows = run(items, model)
    for item, old, new, seconds, duration in rows:
        print(f"  {item.name:<28} energy {old['energy']:.2f} -> {new['energy']:.2f} ({new['energy_confidence']:.2f})"
              f"  valence {old['valence']:.2f} -> {new['valence']:.2f} ({new['valence_confidence']:.2f})"
              f"  tempo {old['tempo']:6.1f} -> {new['tempo'] or 0:6.1f} ({new['tempo_confidence']:.2f})"
              f"  {seconds / duration * 1000:.1f} ms per s of audio")
    seven = [r for r in rows if r[0].name != reference.stem[:28]]
    for label, k in (("before", 1), ("now", 2)):
        v = [r[k]["valence"] for r in seven]
        def energy(part: str) -> float:
            return next(r[k]["energy"] for r in seven if part in r[0].name)

        quiet = max(energy(QUIET[0]), energy(QUIET[1]))
        loud = min(energy(n) for n in LOUDER)
        print(f"  {label:<7} valence span {max(v) - min(v):.2f}   whale/speech below orchestra/folk/electronic: "
              f"{'yes' if quiet < loud else 'no'} (highest of the two {quiet:.2f}, lowest of the three {loud:.2f})")


#: Parts of the file names: the whale and the read speech; the orchestra, the folk band and
#: the electronic piece.
QUIET = ("humpback", "198-209")
LOUDER = ("Hungarian", "Karissa", "Tchaikov")


def auc(positive: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC by the rank-sum formula (ties count half)."""
    from scipy.stats import rankdata

    positive = np.asarray(positive, dtype=bool)
    ranks = rankdata(score)
    n1, n0 = positive.sum(), (~positive).sum()
    return float((ranks[positive].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)) if n1 and n0 else float("nan")


if __name__ == "__main__":
    main()
