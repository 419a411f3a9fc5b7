"""Moving a run's undecided ledger rows when its campaign is paused, resumed or cancelled.

The campaign's state is what stops and starts the senders (their claim takes only rows of running
campaigns); these moves keep the rows' own states in step: a paused run's queued rows wait as
`held` (out of the claim index), a resumed run's held rows are `queued` again, a cancelled run's
queued and held rows end `cancelled`.

Rows are moved in id windows of ROWS_MOVE_BATCH, each window one short transaction that first
reads the campaign's state FOR SHARE and stops when the campaign has moved on (a resume during a
pause's move, say): whichever move matches the campaign's current state wins, so two moves never
fight. Runs up to ROWS_MOVE_SYNC_MAX rows are moved in the request; larger ones by a worker
(apps.campaigns.tasks.rows_move), so pausing a million-row campaign returns at once — the
senders have already stopped at the state change. The watchdog restarts a move a worker lost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import connection, transaction

from apps.campaigns.models import Campaign, CampaignRun
from apps.senders.models import MessageState

logger = logging.getLogger(__name__)

# Rows per window: one window is a short transaction (a fraction of a second).
ROWS_MOVE_BATCH = 20_000
# Runs with at most this many rows are moved within the request that paused, resumed or
# cancelled them (about a second of work); larger runs are handed to a worker.
ROWS_MOVE_SYNC_MAX = 50_000


@dataclass(frozen=True)
class Move:
    name: str
    from_states: tuple[str, ...]
    to_state: str
    # The campaign state the move belongs to: it stops as soon as the campaign is in another.
    while_state: str


HOLD = Move("hold", (MessageState.QUEUED,), MessageState.HELD, Campaign.State.PAUSED)
RELEASE = Move("release", (MessageState.HELD,), MessageState.QUEUED, Campaign.State.RUNNING)
CANCEL = Move("cancel", (MessageState.QUEUED, MessageState.HELD), MessageState.CANCELLED, Campaign.State.CANCELLED)
MOVES = {move.name: move for move in (HOLD, RELEASE, CANCEL)}


def rows_move_window(*, run: CampaignRun, move: Move, low: int, high: int) -> int | None:
    """Move the run's rows with ids in [low, high]; None when the campaign is no longer in the
    move's state (the caller stops)."""
    extra = ", failed_at = now(), error_code = 'cancelled'" if move is CANCEL else ""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT state FROM campaigns_campaign WHERE id = %s FOR SHARE", [run.campaign_id])
        row = cursor.fetchone()
        if row is None or row[0] != move.while_state:
            return None
        cursor.execute(
            f"UPDATE senders_outboundmessage SET state = %s{extra} "  # noqa: S608 - fixed SQL, values are params
            "WHERE campaign_id = %s AND id BETWEEN %s AND %s AND state = ANY(%s)",
            [move.to_state, run.campaign_id, low, high, list(move.from_states)],
        )
        return cursor.rowcount


def rows_move(*, run: CampaignRun, move: Move, start: int | None = None) -> tuple[int, bool]:
    """Move all of the run's rows (from id `start`), window by window. Returns (rows moved,
    whether it went through to the end rather than stopping for a newer state)."""
    if run.first_message_id is None or run.last_message_id is None:
        return 0, True
    low, moved = max(start or run.first_message_id, run.first_message_id), 0
    while low <= run.last_message_id:
        high = min(low + ROWS_MOVE_BATCH - 1, run.last_message_id)
        count = rows_move_window(run=run, move=move, low=low, high=high)
        if count is None:
            return moved, False
        moved += count
        low = high + 1
    return moved, True


def run_size(run: CampaignRun | None) -> int:
    if run is None or run.first_message_id is None or run.last_message_id is None:
        return 0
    return run.last_message_id - run.first_message_id + 1


def rows_move_now_or_later(*, run: CampaignRun | None, move: Move) -> int | None:
    """Call after the campaign's new state is committed: move small runs now (returns how many
    rows moved), hand large ones to a worker (returns None)."""
    from apps.campaigns import tasks

    if run is None or not run_size(run):
        return 0
    if run_size(run) <= ROWS_MOVE_SYNC_MAX:
        return rows_move(run=run, move=move)[0]
    tasks.rows_move_enqueue(run.id, move.name, schema=connection.schema_name)
    logger.info("campaign.rows_move_handed_off", extra={"run_id": run.id, "move": move.name})
    return None
