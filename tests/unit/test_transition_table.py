"""The transition table as data: shape and reachability, without a database."""

from collections import defaultdict

from shared.domain.statuses import CampaignStatus as S
from shared.domain.transitions import (
    DATA_STEPS,
    STEPS_OF,
    SUB_STATUS_COLUMNS,
    TRANSITIONS,
    Trigger,
    transitions_from,
)


def test_every_prerequisite_and_condition_names_a_real_column() -> None:
    for transition in TRANSITIONS:
        assert set(transition.requires) <= set(SUB_STATUS_COLUMNS)
        assert set(transition.enter) <= {*SUB_STATUS_COLUMNS, "error_reason", "error_from_status"}


def test_data_stage_waits_for_all_five_steps_and_home_report_for_its_own() -> None:
    (to_home,) = transitions_from(S.WAITING_FOR_DATA, Trigger.PREREQUISITES)
    (to_create,) = transitions_from(S.WAITING_FOR_HOME_ANALYSIS, Trigger.PREREQUISITES)

    assert to_home.target is S.WAITING_FOR_HOME_ANALYSIS
    assert (
        set(to_home.requires)
        == set(DATA_STEPS)
        == {
            "property_status",
            "active_listing_status",
            "recent_sale_status",
            "local_market_data_status",
            "intro_status",
        }
    )
    assert to_create.requires == ("home_report_analysis_status",)


def test_email_creation_branches_on_approval_exactly_once() -> None:
    targets = {
        t.when["requires_approval"]: t.target
        for t in transitions_from(S.READY_TO_CREATE_EMAIL, Trigger.PREREQUISITES)
    }

    assert targets == {True: S.WAITING_FOR_MANUAL_APPROVAL, False: S.READY_TO_SEND_EMAIL}


def test_every_cycle_returns_to_dormant() -> None:
    graph: dict[S, set[S]] = defaultdict(set)
    for transition in TRANSITIONS:
        graph[transition.source].add(transition.target)
    reachable, frontier = {S.DORMANT}, [S.DORMANT]
    while frontier:
        for target in graph[frontier.pop()] - reachable:
            reachable.add(target)
            frontier.append(target)

    for status in reachable:
        seen, frontier = {status}, [status]
        while frontier:
            for target in graph[frontier.pop()] - seen:
                seen.add(target)
                frontier.append(target)
        assert S.DORMANT in seen, f"{status} never gets back to DORMANT"


def test_no_status_works_as_a_lock() -> None:
    assert "FETCHING" not in S.__members__
    assert "CREATING_EMAIL" not in S.__members__


def test_each_step_is_owned_by_one_stage() -> None:
    owners: dict[str, set[S]] = defaultdict(set)
    for status, steps in STEPS_OF.items():
        for step in steps:
            owners[step].add(status)
    assert all(len(stages) == 1 or step == "send_status" for step, stages in owners.items())
