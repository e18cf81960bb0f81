"""Deciding a vote. Pure and deterministic: safe to run inside workflow code.

Rule: with N voters asked and a quorum of k (default: a majority of N, N // 2 + 1), the
decision is the label with the most votes if at least k voters chose it and no other
label has as many. Otherwise the outcome is `no_consensus`: a tie for first place is never
broken arbitrarily. Abstentions, failed voters and voters that missed the deadline count
in N but vote for nothing, so they make consensus harder, never easier.
`agreement` is the share of all N voters who chose the leading label."""

from collections import Counter

from services.common.contracts import Vote

from .contracts import Abstention, Tally, TallyRule

NO_CONSENSUS = "no_consensus"


def default_quorum(voters: int) -> int:
    return voters // 2 + 1


def tally(votes: list[Vote], missing: dict[str, str], voters: int, quorum: int | None = None) -> Tally:
    """`votes`: what voters answered (abstentions included); `missing`: voter -> why no
    vote arrived (failed, timed out); `voters`: N, how many were asked."""
    k = quorum or default_quorum(voters)
    cast = [v for v in votes if not v.abstained and v.label]
    counts = Counter(v.label for v in cast if v.label)
    ranked = counts.most_common()
    lead_label, lead = ranked[0] if ranked else (None, 0)
    tied = len(ranked) > 1 and ranked[1][1] == lead
    decision = lead_label if lead_label and lead >= k and not tied else NO_CONSENSUS
    abstained = [Abstention(agent=v.agent, reason=v.rationale) for v in votes if v not in cast]
    abstained += [Abstention(agent=agent, reason=reason) for agent, reason in sorted(missing.items())]
    return Tally(
        decision=decision,
        rule=TallyRule(mode="quorum" if quorum else "majority", quorum=k, voters=voters),
        counts=dict(sorted(counts.items())),
        agreement=round(lead / voters, 4) if voters else 0.0,
        votes=cast,
        dissent=[v for v in cast if v.label != decision],
        abstained=abstained,
    )
