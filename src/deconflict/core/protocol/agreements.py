"""Agreements between parties and the terms they set for each pair of parties.

Two parties may share several agreements (a bilateral one and a coalition-wide one). All of them apply: the pair
gets the widest separation minima, the strictest conflict policy, the longest minimum notice and the shortest
acknowledgement deadline, and every disclosure level any of them grants.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ..model import DeclarationKind, SeparationMinima

__all__ = ["Agreement", "ConflictPolicy", "Disclosure", "PairTerms", "terms_between"]


class Disclosure(enum.StrEnum):
    """What a party is shown of a partner's declaration (DESIGN.md)."""

    FULL = "full"  #: the declaration as declared
    CONFLICT_AREA = "conflict_area"  #: only where it conflicts with one's own declarations, clipped
    COARSE = "coarse"  #: the grid cells it touches, altitudes and times rounded outward


class ConflictPolicy(enum.StrEnum):
    """What a conflict between the parties does to the declaration that causes it."""

    INFORM = "inform"  #: accepted; both sides are told
    REQUIRE_ACK = "require_ack"  #: accepted; the other side must acknowledge
    BLOCK = "block"  #: refused

    @property
    def rank(self) -> int:
        return _POLICY_RANK[self]


_POLICY_RANK = {ConflictPolicy.INFORM: 0, ConflictPolicy.REQUIRE_ACK: 1, ConflictPolicy.BLOCK: 2}


@dataclass(frozen=True, slots=True)
class Agreement:
    """The mechanism two or more parties agreed on."""

    id: str
    name: str
    parties: frozenset[str]
    minima: SeparationMinima
    disclosure: Disclosure
    policy: ConflictPolicy
    ack_deadline_s: float
    min_notice_s: Mapping[DeclarationKind, float] = field(default_factory=dict)
    escalation_contacts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PairTerms:
    """What all agreements between two parties add up to. `agreements` is empty when they have none."""

    agreements: tuple[str, ...]
    minima: SeparationMinima
    disclosures: frozenset[Disclosure]
    policy: ConflictPolicy
    ack_deadline_s: float | None
    min_notice_s: Mapping[DeclarationKind, float]

    @property
    def related(self) -> bool:
        """Whether the two parties share any agreement (without one, nothing is disclosed)."""
        return bool(self.agreements)

    def listing_disclosure(self) -> Disclosure | None:
        """How the partner's declarations show in lists and area queries (conflict-area ones do not list)."""
        if Disclosure.FULL in self.disclosures:
            return Disclosure.FULL
        if Disclosure.COARSE in self.disclosures:
            return Disclosure.COARSE
        return None

    def conflict_disclosure(self) -> Disclosure | None:
        """How the partner's side of a conflict shows: full, else the conflict area, else coarse."""
        for level in (Disclosure.FULL, Disclosure.CONFLICT_AREA, Disclosure.COARSE):
            if level in self.disclosures:
                return level
        return None


NO_TERMS = PairTerms((), SeparationMinima(), frozenset(), ConflictPolicy.INFORM, None, {})


def terms_between(agreements: Iterable[Agreement], a: str, b: str) -> PairTerms:
    """Combine every agreement that has both parties in it."""
    shared = [g for g in agreements if a in g.parties and b in g.parties and a != b]
    if not shared:
        return NO_TERMS
    minima = SeparationMinima()
    notice: dict[DeclarationKind, float] = {}
    for g in shared:
        minima = minima.widest(g.minima)
        for kind, seconds in g.min_notice_s.items():
            notice[kind] = max(notice.get(kind, 0.0), seconds)
    return PairTerms(
        agreements=tuple(sorted(g.id for g in shared)),
        minima=minima,
        disclosures=frozenset(g.disclosure for g in shared),
        policy=max((g.policy for g in shared), key=lambda p: p.rank),
        ack_deadline_s=min(g.ack_deadline_s for g in shared),
        min_notice_s=notice,
    )
