"""Which WhatsApp number sends to which recipient, decided once when a run is materialized.

- round_robin: recipients in order take the numbers in turn (by profile id): exact shares.
- weighted: smooth weighted round robin (nginx's): over every `sum(weights)` consecutive
  recipients each number gets exactly its weight, interleaved rather than in blocks.
- sticky: the same contact always gets the same number (while that number is in the campaign):
  weighted rendezvous hashing of the phone, so removing a number moves only its own contacts and
  adding one takes a fair share from each.
All three are deterministic: the same audience and numbers give the same assignment.
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections.abc import Callable, Sequence

from apps.campaigns.models import Campaign

Assigner = Callable[[str], int]
_MASK64 = (1 << 64) - 1
_DRAW_SPACE = float(1 << 53)


def weighted_sequence(senders: Sequence[tuple[int, int]]) -> list[int]:
    """One period (sum of weights long) of smooth weighted round robin over (profile id, weight)."""
    current = {profile_id: 0 for profile_id, _ in senders}
    total = sum(weight for _, weight in senders)
    sequence: list[int] = []
    for _ in range(total):
        for profile_id, weight in senders:
            current[profile_id] += weight
        chosen = max(senders, key=lambda sender: (current[sender[0]], -sender[0]))[0]
        current[chosen] -= total
        sequence.append(chosen)
    return sequence


def _mix64(value: int) -> int:
    """splitmix64's finaliser: spreads related inputs (similar numbers, consecutive ids) evenly."""
    value = (value + 0x9E3779B97F4A7C15) & _MASK64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK64
    return value ^ (value >> 31)


def sticky_profile(phone: str, senders: Sequence[tuple[int, int]]) -> int:
    """The number a contact sticks to: the highest weighted rendezvous score of (phone, number)."""
    key = zlib.crc32(phone.encode())
    best, best_score = senders[0][0], -math.inf
    for profile_id, weight in senders:
        # A uniform draw in (0, 1) per (phone, number); -w/ln(u) is the weighted HRW score.
        draw = ((_mix64(key ^ (profile_id << 32)) >> 11) + 0.5) / _DRAW_SPACE
        score = -weight / math.log(draw)
        if score > best_score or (score == best_score and profile_id < best):
            best, best_score = profile_id, score
    return best


def assigner(rotation: str, senders: Sequence[tuple[int, int]]) -> Assigner:
    """A function phone -> profile id for one run, called for each recipient in order."""
    if not senders:
        raise ValueError("no senders")
    ordered = sorted(senders)
    if len(ordered) == 1:
        only = ordered[0][0]
        return lambda _phone: only
    if rotation == Campaign.Rotation.STICKY:
        return lambda phone: sticky_profile(phone, ordered)
    sequence = weighted_sequence(ordered) if rotation == Campaign.Rotation.WEIGHTED else [p for p, _ in ordered]
    turns = itertools.cycle(sequence)
    return lambda _phone: next(turns)
