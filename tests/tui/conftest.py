"""Helpers for driving the app with Pilot: wait on conditions, never on fixed sleeps."""

import time

from textual.worker import WorkerCancelled, WorkerFailed

#: Upper bound on one wait; a slow (loaded) machine waits longer, a broken app fails here.
SETTLE_TIMEOUT = 60.0


async def settle(pilot, until=None, *, timeout: float = SETTLE_TIMEOUT) -> None:
    """Wait until every worker has finished, the messages they posted are handled, the
    results on screen answer the latest query and the detail pane shows the selected row,
    and `until()` (when given) holds.

    A worker cancelled because a newer one replaced it (`exclusive=True`) is not an error.
    """
    app = pilot.app
    deadline = time.monotonic() + timeout
    while True:
        for worker in list(app.workers):
            try:
                await worker.wait()
            except WorkerCancelled:
                pass
            except WorkerFailed as exc:
                raise AssertionError(f"a worker failed: {exc.error!r}") from exc
        await pilot.pause()
        if _settled(app) and (until is None or until()):
            return
        if time.monotonic() > deadline:
            busy = [w.name for w in app.workers if not w.is_finished]
            raise AssertionError(f"the app did not settle in {timeout:.0f} s (workers still running: {busy})")


def _settled(app) -> bool:
    if any(not w.is_finished for w in app.workers):
        return False
    if getattr(app, "lib", None) is None or app.results_serial != app.serial:
        return False
    selected = app.table.selected()
    return selected is None or not app.query_one("DetailPane").display or app.detail_for == selected["track_id"]
