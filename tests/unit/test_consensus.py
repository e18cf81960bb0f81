import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.common.contracts import Vote
from services.common.registry import REGISTRY
from tests.unit.workflow_engine import FakeContext, run
from workflows.consensus import consensus_workflow
from workflows.lifecycle import TaskFailureError
from workflows.tally import NO_CONSENSUS
from workflows.tally import tally as tally_votes

TEAM = [m.model_dump() for m in REGISTRY.members("consensus")]
VOTERS = [m["app_id"] for m in TEAM]

LABELS = ["safe", "unsafe", "unsure"]


def vote(agent, label, confidence=0.9):
    return {"agent": agent, "label": label, "confidence": confidence, "rationale": "r", "abstained": False}


def abstain(agent):
    return {"agent": agent, "label": None, "confidence": None, "rationale": "unparseable", "abstained": True}


def tally(votes: list[dict], missing: dict, voters: int, quorum: int | None = None) -> dict:
    """The tally of these votes, as the JSON the task document stores."""
    return tally_votes([Vote.model_validate(v) for v in votes], missing, voters, quorum).model_dump()


def test_majority_decides_and_reports_agreement_and_dissent():
    out = tally([vote("a", "safe"), vote("b", "safe"), vote("c", "unsafe")], {}, 3)
    assert out["decision"] == "safe" and out["agreement"] == round(2 / 3, 4)
    assert [v["agent"] for v in out["dissent"]] == ["c"]
    assert out["rule"] == {"mode": "majority", "quorum": 2, "voters": 3}
    assert out["counts"] == {"safe": 2, "unsafe": 1}


def test_a_tie_for_first_place_is_no_consensus_even_when_the_quorum_is_met():
    out = tally([vote("a", "safe"), vote("b", "unsafe")], {}, 2, quorum=1)
    assert out["decision"] == NO_CONSENSUS


def test_abstentions_and_missing_voters_count_against_consensus():
    out = tally([vote("a", "safe"), abstain("b")], {"c": "no vote within the 5s deadline"}, 3)
    assert out["decision"] == NO_CONSENSUS  # 1 of 3 < majority of 2
    assert [a["agent"] for a in out["abstained"]] == ["b", "c"]
    assert out["dissent"] == list(out["votes"])  # under no_consensus every cast vote dissents


def test_unreachable_quorum_is_no_consensus():
    out = tally([vote("a", "safe"), vote("b", "safe")], {"c": "failed"}, 3, quorum=3)
    assert out["decision"] == NO_CONSENSUS and out["rule"]["mode"] == "quorum"


def test_unanimity_with_quorum_n():
    out = tally([vote(a, "unsafe") for a in "abc"], {}, 3, quorum=3)
    assert out["decision"] == "unsafe" and out["agreement"] == 1.0 and out["dissent"] == []


ballots = st.lists(st.one_of(st.sampled_from(LABELS), st.none()), min_size=1, max_size=9)


@given(ballots, st.data())
def test_tally_invariants(choices, data):
    votes = [vote(f"v{i}", c) if c else abstain(f"v{i}") for i, c in enumerate(choices)]
    n = len(votes)
    quorum = data.draw(st.one_of(st.none(), st.integers(1, n)))
    out = tally(votes, {}, n, quorum)
    k = quorum or n // 2 + 1
    counts = {label: choices.count(label) for label in LABELS if choices.count(label)}
    assert out["counts"] == counts
    assert 0 <= out["agreement"] <= 1
    if out["decision"] != NO_CONSENSUS:
        winner = counts[out["decision"]]
        assert winner >= k
        assert all(c < winner for label, c in counts.items() if label != out["decision"])
    else:
        top = max(counts.values(), default=0)
        assert top < k or list(counts.values()).count(top) > 1
    # Order of arrival never changes the outcome.
    assert tally(list(reversed(votes)), {}, n, quorum)["decision"] == out["decision"]
    assert len(out["votes"]) + len(out["abstained"]) == n


@given(ballots)
def test_one_more_abstention_never_creates_a_consensus(choices):
    votes = [vote(f"v{i}", c) if c else abstain(f"v{i}") for i, c in enumerate(choices)]
    before = tally(votes, {}, len(votes))["decision"]
    after = tally([*votes, abstain("extra")], {}, len(votes) + 1)["decision"]
    assert before != NO_CONSENSUS or after == NO_CONSENSUS


def test_workflow_tallies_the_votes_that_arrived_before_the_deadline():
    ctx = FakeContext()
    request = {"content": "c", "task": "moderation", "labels": ["safe", "unsafe"], "deadline_seconds": 5,
               "team": TEAM}
    events = [("voter-strict", vote("voter-strict", "unsafe")), ("voter-balanced", vote("voter-balanced", "unsafe")),
              ("timer", None)]
    result = run(consensus_workflow, ctx, request, events).model_dump()
    assert result["decision"] == "unsafe" and result["timed_out"] is True
    assert result["abstained"] == [{"agent": "voter-lenient", "reason": "no vote within the 5s deadline"}]
    assert {call.labels == ["safe", "unsafe"] for call in ctx.inputs.values()} == {True}
    assert set(ctx.inputs) == set(VOTERS)
    assert ctx.final_status().result == result


def test_workflow_counts_a_failed_voter_as_missing():
    ctx = FakeContext()
    request = {"content": "c", "task": "review", "labels": ["approve", "request_changes"], "quorum": 3,
               "deadline_seconds": 60, "team": TEAM}
    events = [("voter-strict", vote("voter-strict", "approve")), ("voter-lenient", RuntimeError("503")),
              ("voter-balanced", vote("voter-balanced", "approve"))]
    result = run(consensus_workflow, ctx, request, events)
    assert result.decision == NO_CONSENSUS
    assert [a.model_dump() for a in result.abstained] == [{"agent": "voter-lenient", "reason": "failed: 503"}]


def test_workflow_fails_the_task_when_no_voter_answered_at_all():
    ctx = FakeContext()
    request = {"content": "c", "task": "review", "labels": ["approve", "request_changes"], "deadline_seconds": 5,
               "team": TEAM}
    with pytest.raises(TaskFailureError, match="no voter answered"):
        run(consensus_workflow, ctx, request, [("voter-strict", RuntimeError("503")), ("timer", None)])
    final = ctx.final_status()
    assert final.status == "failed" and final.result["decision"] == NO_CONSENSUS
    assert len(final.result["abstained"]) == 3


def test_a_voter_subset_is_the_team_only_those_are_asked():
    ctx = FakeContext()
    request = {"content": "c", "task": "review", "labels": ["approve", "request_changes"], "deadline_seconds": 5,
               "team": TEAM[:1]}
    result = run(consensus_workflow, ctx, request, [("voter-strict", vote("voter-strict", "approve"))])
    assert list(ctx.inputs) == ["voter-strict"] and result.decision == "approve" and result.rule.voters == 1
