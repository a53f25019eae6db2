"""Audio in: decoding (PyAV), resampling (soxr), tags (mutagen) and the log-mel front end.

The front end reproduces musicnn's exactly (Pons & Serra, musicnn 0.1.0,
`extractor.batch_data`): 16 kHz mono; a power mel spectrogram with n_fft 512,
hop 256, 96 mel bands and librosa's (Slaney) mel filters, centred frames with
zero padding; values rounded to float16; then

    x = log10(10000 * mel + 1)

and cut into patches of 187 frames (3 s), without overlap by default.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from attune.engine import AttuneError

SAMPLE_RATE = 16_000
N_FFT = 512
HOP = 256
N_MELS = 96
PATCH_FRAMES = 187  # librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1
SECONDS_PER_FRAME = HOP / SAMPLE_RATE


#: Decoded samples gathered before they are mixed to mono and resampled.
CHUNK_SAMPLES = 1 << 16


class AudioError(AttuneError):
    """A file that cannot be read as audio; the message says why."""

    title = "audio error"


@dataclass
class Decoded:
    samples: np.ndarray  # float32 mono at `sample_rate`
    sample_rate: int
    channels: int
    source_rate: int

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


def decode(path: str | Path, *, sample_rate: int = SAMPLE_RATE, max_seconds: float | None = None) -> Decoded:
    """Decode any format FFmpeg reads to mono float32 at `sample_rate`.

    Channels are averaged (the (L+R)/2 of librosa's to_mono); resampling is
    soxr's high quality, as librosa 0.11 does by default.
    """
    import av
    import soxr

    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise AudioError(f"cannot read {path}: {exc.strerror or exc}") from None
    if size == 0:
        raise AudioError(f"{path.name} is empty (0 bytes)")
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise AudioError(f"{path.name} has no audio stream")
            stream = container.streams.audio[0]
            rate = stream.codec_context.sample_rate or stream.rate
            channels = stream.codec_context.channels or 1
            chunks, total = [], 0
            limit = None if max_seconds is None else int(max_seconds * rate)
            to_float = av.AudioResampler(format="fltp")  # planar float32, same rate and channels
            # Resampled as it is decoded, so a two-hour mix never sits in memory at 44.1 kHz,
            # in blocks of CHUNK_SAMPLES (the same samples as frame by frame, 15% faster).
            stream_out = soxr.ResampleStream(rate, sample_rate, 1, dtype="float32", quality="HQ") if rate != sample_rate else None
            pending: list[np.ndarray] = []
            held = 0

            def flush() -> None:
                array = np.concatenate(pending, axis=1) if len(pending) > 1 else pending[0]  # (channels, samples)
                mono = (array.mean(axis=0) if array.shape[0] > 1 else array[0]).astype(np.float32, copy=False)
                chunks.append(stream_out.resample_chunk(mono) if stream_out is not None else mono)
                pending.clear()

            for frame in container.decode(stream):
                for planar in to_float.resample(frame):
                    pending.append(planar.to_ndarray())
                    held += pending[-1].shape[1]
                    total += pending[-1].shape[1]
                if held >= CHUNK_SAMPLES:
                    flush()
                    held = 0
                if limit is not None and total >= limit:
                    break
            if pending:
                flush()
            if stream_out is not None:
                chunks.append(stream_out.resample_chunk(np.zeros(0, dtype=np.float32), last=True))
    except AudioError:
        raise
    except (av.error.FFmpegError, ValueError, IndexError) as exc:
        raise AudioError(f"{path.name} is not readable audio ({exc})") from None
    if not chunks or total == 0:
        raise AudioError(f"{path.name} holds no audio samples")
    samples = np.concatenate(chunks).astype(np.float32, copy=False)
    if max_seconds is not None:
        samples = samples[: int(max_seconds * sample_rate)]
    return Decoded(samples, sample_rate, channels, rate)


@lru_cache(maxsize=1)
def mel_filters() -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS).astype(np.float32)


def log_mel(samples: np.ndarray, *, block_frames: int = 1 << 14) -> np.ndarray:
    """(frames, 96) log-compressed mel spectrogram, as musicnn computes it.

    Frame t is centred on sample t * HOP, with zeros beyond the ends (librosa's
    center=True, pad_mode="constant"); long signals are processed a block of
    frames at a time, each block reading the samples its frames cover, so the
    result is the same as in one piece.
    """
    import torch

    x = np.ascontiguousarray(samples, dtype=np.float32)
    n_frames = 1 + len(x) // HOP
    padded = np.pad(x, (N_FFT // 2, N_FFT // 2))
    window = torch.hann_window(N_FFT, periodic=True)
    filters = torch.from_numpy(mel_filters())
    out = np.empty((n_frames, N_MELS), dtype=np.float32)
    for start in range(0, n_frames, block_frames):
        stop = min(n_frames, start + block_frames)
        piece = torch.from_numpy(padded[start * HOP : (stop - 1) * HOP + N_FFT])
        spec = torch.stft(piece, N_FFT, HOP, window=window, center=False, return_complex=True)
        power = spec.real.square() + spec.imag.square()
        out[start:stop] = (filters @ power).T.numpy()
    rounded = out.astype(np.float16).astype(np.float32)
    return np.log10(10000.0 * rounded + 1.0).astype(np.float32)


def patches(spectrogram: np.ndarray, *, frames: int = PATCH_FRAMES, hop: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Cut (T, 96) into (n, frames, 96) patches and their start times in seconds.

    Like musicnn, only whole patches are taken; a clip shorter than one patch is
    repeated to fill one (musicnn's training used "repeat-pad").
    """
    hop = hop or frames
    if len(spectrogram) < frames:
        reps = int(np.ceil(frames / max(len(spectrogram), 1)))
        spectrogram = np.tile(spectrogram, (reps, 1))[:frames]
    starts = np.arange(0, len(spectrogram) - frames + 1, hop)
    view = np.lib.stride_tricks.sliding_window_view(spectrogram, (frames, spectrogram.shape[1]))[:, 0]
    return np.ascontiguousarray(view[starts]), starts * SECONDS_PER_FRAME


def read_tags(path: str | Path) -> dict[str, str | None]:
    """title, artist, album, date, genre, track number and ISRC from the file's tags (mutagen;
    MP4 files keep their ISRC in iTunes' free-form ----:com.apple.iTunes:ISRC atom)."""
    import mutagen

    out: dict[str, str | None] = {k: None for k in ("title", "artist", "album", "date", "genre", "tracknumber", "isrc")}
    try:
        tags = mutagen.File(str(path), easy=True)
    except Exception:  # a broken tag block must not stop indexing: the audio may be fine
        return out
    if tags is None or not getattr(tags, "tags", None):
        return out
    for key in out:
        values = tags.tags.get(key) if hasattr(tags.tags, "get") else None
        if values and key == "genre":  # several genre frames: all of them, NUL-separated
            out[key] = "\x00".join(str(v).strip() for v in values if str(v).strip()) or None
        elif values:
            out[key] = str(values[0]).strip() or None
    if out["isrc"] is None and type(tags).__name__ == "EasyMP4":
        out["isrc"] = _mp4_isrc(path)
    return out


def _mp4_isrc(path: str | Path) -> str | None:
    import mutagen

    try:
        tags = mutagen.File(str(path)).tags or {}
    except Exception:
        return None
    for key in ("----:com.apple.iTunes:ISRC", "----:com.apple.iTunes:isrc"):
        if key in tags and tags[key]:
            value = tags[key][0]
            return (bytes(value).decode("utf-8", "replace") if isinstance(value, bytes | bytearray) or hasattr(value, "dataformat")
                    else str(value)).strip() or None
    return None
