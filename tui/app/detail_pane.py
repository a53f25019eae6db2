"""The detail pane: attribute bars, top genres, energy over time, playlists, why it matched."""

from __future__ import annotations

from attune.query.fields import CONFIDENCE_OF, LOW_CONFIDENCE
from attune.query.fields import DETAIL_BARS as BARS
from textual.widgets import Static

from ..output import sparkline


def bar(value, width: int = 20) -> str:
    if value is None or value != value:
        return "-" * width
    filled = int(round(max(0.0, min(1.0, value)) * width))
    return "█" * filled + "·" * (width - filled)


def confidence_note(row: dict, name: str) -> str:
    """The confidence after a value the indexer measured: " (0.83)", or " ? (0.27)" for a guess;
    "" for values that came with an import."""
    confidence = row.get(CONFIDENCE_OF.get(name, ""))
    if confidence is None or confidence != confidence:
        return ""
    return f" ? ({confidence:.2f})" if confidence < LOW_CONFIDENCE else f" ({confidence:.2f})"


class DetailPane(Static):
    def show(self, row: dict | None, playlists: list[str], why: str = "") -> None:
        if row is None:
            self.update("no track selected")
            return
        lines = [f"[b]{row.get('title') or row['track_id']}[/b]", f"{row.get('artist') or '?'} - {row.get('album') or ''} {row.get('year') or ''}", ""]
        unsure = False
        for name in BARS:
            value = row.get(name)
            shown = "" if value is None or value != value else f"{value:.2f}"
            shown += confidence_note(row, name)
            unsure |= "?" in shown
            lines.append(f"{name:<13}{bar(value)} {shown}")
        if row.get("tempo"):
            note = confidence_note(row, "tempo")
            unsure |= "?" in note
            alternative = f" or {row['tempo_alternative']:.0f}" if row.get("tempo_alternative") and "?" in note else ""
            lines.append(f"{'tempo':<13}{row['tempo']:.0f} BPM{alternative}{note}")
        if unsure:
            lines.append(f"? a guess: (confidence) below {LOW_CONFIDENCE}; the cues disagree or the sound is unlike the music the models know")
        if row.get("genres"):
            lines.append("genres       " + ", ".join(row["genres"][:5]))
        if row.get("energy_tiles"):
            lines.append("energy/time  " + sparkline(row["energy_tiles"]))
        lines.append("")
        lines.append(f"source       {row.get('path') or row['track_id']}")
        if row.get("backbone"):
            lines.append(f"model        {row['backbone']}" + (" (fallback)" if row["backbone"] == "dsp" else ""))
        lines.append("playlists    " + (", ".join(playlists) if playlists else "none"))
        if why:
            lines += ["", "why it matched", why]
        self.update("\n".join(lines))
