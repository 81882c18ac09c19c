"""The storage contract: every adapter must behave exactly like this."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from portal.domain import aggregates
from portal.domain.accounts import ApiToken, AuditEvent, Role
from portal.domain.aggregates import Snapshot
from portal.domain.entities import Audience, StoreOutcome, Thresholds, WaveKind, WaveStatus
from portal.domain.errors import AlreadyExists, CodeAlreadyUsed, Conflict, NotFound
from portal.domain.scorecard import ORGANISATION, ActionStatus, PlanAction, ScorecardSettings
from portal.instruments import get_questionnaire
from portal.storage.port import NO_SNAPSHOT, Store
from tests.builders import (
    TODAY,
    make_access_code,
    make_department,
    make_link,
    make_response,
    make_survey,
    make_user,
    make_wave,
)


def collect_responses(store: Store, wave_id: str = "baseline", limit: int = 500) -> list:
    """Read every response of a wave page by page."""
    found, cursor = [], None
    while True:
        page = store.list_responses("crm-rollout", wave_id, cursor=cursor, limit=limit)
        found.extend(page.items)
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


# -- schema and health ------------------------------------------------------


def test_creating_the_schema_twice_is_harmless(store: Store) -> None:
    store.create_schema()
    store.check()


# -- surveys ----------------------------------------------------------------


def test_reads_back_a_stored_survey_unchanged(store: Store) -> None:
    survey = make_survey(
        thresholds=Thresholds(7, 12), system_name={"en": "the new ERP", "da": "det nye ERP"}
    )
    store.add_survey(survey)
    assert store.get_survey("crm-rollout") == survey


def test_refuses_a_second_survey_with_the_same_slug(store: Store) -> None:
    store.add_survey(make_survey())
    with pytest.raises(AlreadyExists):
        store.add_survey(make_survey(title="Another title"))
    assert store.get_survey("crm-rollout").title == "CRM rollout"


def test_reports_a_missing_survey_as_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        store.get_survey("nope")


def test_lists_surveys_ordered_by_slug(store: Store) -> None:
    for slug in ("zeta", "alpha", "mid-one"):
        store.add_survey(make_survey(slug=slug))
    assert [s.slug for s in store.list_surveys()] == ["alpha", "mid-one", "zeta"]


def test_lists_no_surveys_in_an_empty_store(store: Store) -> None:
    assert store.list_surveys() == []


# -- departments ------------------------------------------------------------


def test_lists_departments_ordered_by_code_with_every_field(store: Store) -> None:
    departments = [
        make_department(code="WH", name="Warehouse", site="Hamburg", headcount=64),
        make_department(code="AAR", name="Head office", site="Aarhus", headcount=0),
        make_department(code="AAR-FIN", name="Finance", parent="AAR", retired=True),
    ]
    store.put_departments(departments)
    assert store.list_departments("crm-rollout") == sorted(departments, key=lambda d: d.code)


def test_putting_a_department_again_replaces_it(store: Store) -> None:
    store.put_departments([make_department(headcount=10)])
    store.put_departments([make_department(headcount=12, name="Sales and marketing")])
    [department] = store.list_departments("crm-rollout")
    assert (department.headcount, department.name) == (12, "Sales and marketing")


def test_keeps_each_surveys_departments_apart(store: Store) -> None:
    store.put_departments([make_department(survey_slug="one", code="A")])
    store.put_departments([make_department(survey_slug="two", code="B")])
    assert [d.code for d in store.list_departments("one")] == ["A"]
    assert [d.code for d in store.list_departments("two")] == ["B"]
    assert store.list_departments("three") == []


def test_lists_five_hundred_departments(store: Store) -> None:
    store.put_departments(
        [make_department(code=f"D{i:03d}", name=f"Department {i}") for i in range(500)]
    )
    listed = store.list_departments("crm-rollout")
    assert [d.code for d in listed] == [f"D{i:03d}" for i in range(500)]


# -- waves ------------------------------------------------------------------


def test_reads_back_a_stored_wave_unchanged(store: Store) -> None:
    wave = make_wave(planned_close=date(2026, 12, 24))
    store.add_wave(wave)
    assert store.get_wave("crm-rollout", "baseline") == wave


def test_refuses_a_second_wave_with_the_same_id(store: Store) -> None:
    store.add_wave(make_wave())
    with pytest.raises(AlreadyExists):
        store.add_wave(make_wave(name="Other"))


def test_reports_a_missing_wave_as_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        store.get_wave("crm-rollout", "nope")


def test_lists_waves_oldest_first(store: Store) -> None:
    store.add_wave(make_wave(wave_id="follow-up", kind=WaveKind.FOLLOW_UP, created_on=TODAY))
    store.add_wave(make_wave(wave_id="baseline", created_on=date(2026, 1, 5)))
    store.add_wave(make_wave(wave_id="another", created_on=TODAY))
    assert [w.wave_id for w in store.list_waves("crm-rollout")] == [
        "baseline",
        "another",
        "follow-up",
    ]


def test_updates_a_wave_whose_status_is_as_expected(store: Store) -> None:
    draft = make_wave()
    store.add_wave(draft)
    opened = draft.opened(make_survey(thresholds=Thresholds(6, 11)), TODAY)
    store.update_wave(opened, expected_status=WaveStatus.DRAFT)
    stored = store.get_wave("crm-rollout", "baseline")
    assert stored == opened
    assert stored.thresholds == Thresholds(6, 11)


def test_refuses_to_update_a_wave_whose_status_changed(store: Store) -> None:
    draft = make_wave()
    store.add_wave(draft)
    opened = draft.opened(make_survey(), TODAY)
    store.update_wave(opened, expected_status=WaveStatus.DRAFT)
    with pytest.raises(Conflict):
        store.update_wave(opened, expected_status=WaveStatus.DRAFT)
    store.update_wave(opened.closed(TODAY), expected_status=WaveStatus.OPEN)
    assert store.get_wave("crm-rollout", "baseline").status is WaveStatus.CLOSED


def test_refuses_to_update_a_wave_that_does_not_exist(store: Store) -> None:
    with pytest.raises((NotFound, Conflict)):
        store.update_wave(make_wave(), expected_status=WaveStatus.DRAFT)


# -- a wave's departments as of its opening -----------------------------------


def test_a_wave_has_no_frozen_departments_until_they_are_frozen(store: Store) -> None:
    store.add_survey(make_survey())
    store.add_wave(make_wave())
    assert store.get_frozen_departments("crm-rollout", "baseline") is None


def test_frozen_departments_read_back_by_code_and_ignore_later_edits(store: Store) -> None:
    store.add_survey(make_survey())
    departments = [
        make_department(code="WH", name="Warehouse", site="Hamburg", headcount=40),
        make_department(code="SALES", parent="WH", retired=True),
    ]
    store.put_departments(departments)
    kept = store.freeze_departments("crm-rollout", "baseline", departments)
    assert kept == sorted(departments, key=lambda d: d.code)

    store.put_departments([make_department(code="WH", name="Moved", site="Oslo", headcount=1)])
    store.put_departments([make_department(code="NEW")])
    assert store.get_frozen_departments("crm-rollout", "baseline") == kept


def test_the_first_frozen_department_list_of_a_wave_wins_for_good(store: Store) -> None:
    first = [make_department(code="A"), make_department(code="B", site="Oslo")]
    second = [make_department(code="A", site="Oslo"), make_department(code="C")]
    assert store.freeze_departments("crm-rollout", "baseline", first) == first
    assert store.freeze_departments("crm-rollout", "baseline", second) == first
    assert store.get_frozen_departments("crm-rollout", "baseline") == first
    # another wave, and another survey's wave of the same id, are frozen apart
    assert store.freeze_departments("crm-rollout", "follow-up", second) == second
    other = [make_department(survey_slug="other", code="A")]
    assert store.freeze_departments("other", "baseline", other) == other
    assert store.get_frozen_departments("crm-rollout", "baseline") == first


def test_an_empty_department_list_is_a_frozen_structure_too(store: Store) -> None:
    assert store.freeze_departments("crm-rollout", "baseline", []) == []
    assert store.get_frozen_departments("crm-rollout", "baseline") == []
    assert store.freeze_departments("crm-rollout", "baseline", [make_department()]) == []


# -- responses --------------------------------------------------------------


def test_stores_a_response_and_reads_it_back_unchanged(store: Store) -> None:
    response = make_response(
        audience=Audience.MANAGER,
        language="da",
        answers={"purpose-why": 5, "managers-mandate": 1, "skills-basics": None},
        comment="Mere træning, tak — og på dansk 🙂",
    )
    assert store.add_response(response) is StoreOutcome.STORED
    assert collect_responses(store) == [response]


def test_a_repeated_key_stores_nothing_new(store: Store) -> None:
    first = make_response(answers={"purpose-why": 2})
    assert store.add_response(first) is StoreOutcome.STORED
    again = replace(first, answers={"purpose-why": 5}, comment="changed my mind")
    assert store.add_response(again) is StoreOutcome.ALREADY_STORED
    assert collect_responses(store) == [first]


def test_the_same_key_in_another_wave_is_a_different_response(store: Store) -> None:
    key = secrets.token_urlsafe(16)
    assert store.add_response(make_response(key=key)) is StoreOutcome.STORED
    assert store.add_response(make_response(key=key, wave_id="follow-up")) is StoreOutcome.STORED
    assert len(collect_responses(store, "baseline")) == 1
    assert len(collect_responses(store, "follow-up")) == 1


def test_an_empty_wave_has_one_empty_last_page(store: Store) -> None:
    page = store.list_responses("crm-rollout", "baseline")
    assert (page.items, page.next_cursor) == ([], None)


@pytest.mark.parametrize("page_size", [7, 100, 1000])
def test_pages_through_three_hundred_responses_each_exactly_once(
    store: Store, page_size: int
) -> None:
    responses = [
        make_response(department_code=f"D{i % 8}", answers={"purpose-why": 1 + i % 5})
        for i in range(300)
    ]
    for response in responses:
        store.add_response(response)
    store.add_response(make_response(wave_id="other-wave"))
    listed = collect_responses(store, limit=page_size)
    assert [r.key for r in listed] == sorted(r.key for r in responses)
    assert sorted(listed, key=lambda r: r.key) == sorted(responses, key=lambda r: r.key)


def test_a_page_that_ends_exactly_at_the_last_response_has_no_cursor(store: Store) -> None:
    for _ in range(10):
        store.add_response(make_response())
    first = store.list_responses("crm-rollout", "baseline", limit=5)
    assert len(first.items) == 5 and first.next_cursor is not None
    second = store.list_responses("crm-rollout", "baseline", cursor=first.next_cursor, limit=5)
    assert len(second.items) == 5 and second.next_cursor is None


def test_caps_the_page_size(store: Store) -> None:
    for _ in range(3):
        store.add_response(make_response())
    assert len(store.list_responses("crm-rollout", "baseline", limit=0).items) == 1


# -- links ----------------------------------------------------------------------


def test_finds_a_link_by_its_token(store: Store) -> None:
    link = make_link(audience=Audience.MANAGER, kiosk=True)
    store.put_links([link, make_link()])
    assert store.get_link(link.token) == link


def test_an_unknown_token_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        store.get_link("x" * 16)


def test_lists_a_waves_links_by_department(store: Store) -> None:
    links = [make_link(department_code=f"D{i:03d}") for i in reversed(range(120))]
    store.put_links(links + [make_link(wave_id="other")])
    listed = store.list_links("crm-rollout", "baseline")
    assert [x.department_code for x in listed] == [f"D{i:03d}" for i in range(120)]
    assert store.list_links("crm-rollout", "nothing") == []


def test_putting_a_link_again_replaces_it(store: Store) -> None:
    link = make_link()
    store.put_links([link])
    store.put_links([replace(link, revoked=True, kiosk=True)])
    assert store.get_link(link.token).revoked
    [listed] = store.list_links("crm-rollout", "baseline")
    assert listed.revoked and listed.kiosk


# -- single-use codes -----------------------------------------------------------


def test_stores_and_finds_access_codes(store: Store) -> None:
    codes = [make_access_code(department_code=f"D{i}") for i in range(150)]
    store.add_access_codes(codes)
    assert store.get_access_code(codes[149].code_hash) == codes[149]
    with pytest.raises(NotFound):
        store.get_access_code("0" * 64)


def test_refuses_a_code_whose_hash_exists(store: Store) -> None:
    code = make_access_code()
    store.add_access_codes([code])
    with pytest.raises(AlreadyExists):
        store.add_access_codes([make_access_code(), code])


def test_a_code_is_consumed_together_with_its_response(store: Store) -> None:
    code = make_access_code()
    store.add_access_codes([code])
    response = make_response()
    assert store.add_response(response, code_hash=code.code_hash) is StoreOutcome.STORED
    assert store.get_access_code(code.code_hash).used
    assert collect_responses(store) == [response]


def test_a_retried_submission_with_its_code_is_already_stored(store: Store) -> None:
    code = make_access_code()
    store.add_access_codes([code])
    response = make_response()
    store.add_response(response, code_hash=code.code_hash)
    assert store.add_response(response, code_hash=code.code_hash) is StoreOutcome.ALREADY_STORED
    assert len(collect_responses(store)) == 1


def test_a_used_code_stores_no_second_response(store: Store) -> None:
    code = make_access_code()
    store.add_access_codes([code])
    store.add_response(make_response(), code_hash=code.code_hash)
    with pytest.raises(CodeAlreadyUsed):
        store.add_response(make_response(), code_hash=code.code_hash)
    assert len(collect_responses(store)) == 1


def test_an_unknown_code_stores_nothing(store: Store) -> None:
    with pytest.raises(NotFound):
        store.add_response(make_response(), code_hash="f" * 64)
    assert collect_responses(store) == []


# -- accounts ---------------------------------------------------------------------


def test_stores_reads_and_replaces_accounts(store: Store) -> None:
    user = make_user(role=Role.DEPARTMENT_VIEWER, departments=("crm-rollout/SALES",))
    store.add_user(user)
    assert store.get_user("hr@example.com") == user
    changed = replace(user, active=False, session_epoch=3)
    store.put_user(changed)
    assert store.get_user("hr@example.com") == changed


def test_refuses_a_second_account_with_the_same_email(store: Store) -> None:
    store.add_user(make_user())
    with pytest.raises(AlreadyExists):
        store.add_user(make_user(role=Role.VIEWER))


def test_missing_accounts_are_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        store.get_user("nobody@example.com")
    with pytest.raises(NotFound):
        store.put_user(make_user(email="nobody@example.com"))


def test_lists_accounts_by_email(store: Store) -> None:
    for email in ("b@example.com", "a@example.com", "c@example.com"):
        store.add_user(make_user(email=email))
    assert [u.email for u in store.list_users()] == [
        "a@example.com",
        "b@example.com",
        "c@example.com",
    ]


# -- audit trail --------------------------------------------------------------------


def test_lists_audit_events_newest_first_in_pages(store: Store) -> None:
    start = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    events = [
        AuditEvent(start + timedelta(minutes=i), "hr@example.com", "wave.open", f"s/w{i}")
        for i in range(12)
    ]
    for event in reversed(events):
        store.add_audit_event(event)
    seen, cursor = [], None
    while True:
        page = store.list_audit_events(cursor=cursor, limit=5)
        seen.extend(page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == list(reversed(events))


# -- sign-in attempts ---------------------------------------------------------------


def test_counts_attempts_per_key_within_a_window(store: Store) -> None:
    now = 1_800_000_000
    assert store.count_attempts("acct:a", window=900, now=now) == 0
    for expected in (1, 2, 3):
        assert store.take_attempt("acct:a", limit=5, window=900, now=now)
        assert store.count_attempts("acct:a", window=900, now=now) == expected
    assert store.count_attempts("acct:a", window=900, now=now + 10) == 3
    assert store.count_attempts("acct:b", window=900, now=now) == 0
    later = (now // 900 + 1) * 900
    assert store.count_attempts("acct:a", window=900, now=later) == 0


# -- result aggregates ----------------------------------------------------------------


def make_snapshot(
    snapshot_id: str, answers: dict[str, int], comments: dict[str, list[str]] | None = None
) -> Snapshot:
    """Build a snapshot with one response per department in ``answers``.

    With ``comments``, each listed department also gets one manager response per text.
    """
    questionnaire = get_questionnaire("change-readiness")
    cells, kept = {}, {}
    for code, value in answers.items():
        responses = [
            make_response(
                department_code=code,
                answers={i.id: value for i in questionnaire.items_for(Audience.EMPLOYEE)},
            )
        ]
        for text in (comments or {}).get(code, []):
            responses.append(
                make_response(
                    department_code=code,
                    audience=Audience.MANAGER,
                    answers={i.id: value for i in questionnaire.items_for(Audience.MANAGER)},
                    comment=text,
                )
            )
        cells[code] = aggregates.aggregate_responses(questionnaire, responses)
        texts = aggregates.collect_comments(
            snapshot_id, [(r.audience, r.comment) for r in responses]
        )
        if texts.texts:
            kept[code] = texts
    when = datetime(2026, 11, 23, 12, tzinfo=UTC)
    return Snapshot(
        "crm-rollout", "baseline", snapshot_id, when, cells, kept if comments is not None else None
    )


def test_a_wave_has_no_result_aggregates_before_the_first(store: Store) -> None:
    assert store.get_snapshot("crm-rollout", "baseline") is None


def test_stores_result_aggregates_and_reads_them_back_exactly(store: Store) -> None:
    snapshot = make_snapshot("s1", {f"D{i:03d}": 1 + i % 5 for i in range(60)})
    store.put_snapshot(snapshot)
    assert store.get_snapshot("crm-rollout", "baseline") == snapshot
    assert store.get_snapshot("crm-rollout", "other") is None


def test_a_new_snapshot_replaces_the_old_one_whole(store: Store) -> None:
    store.put_snapshot(make_snapshot("s1", {"A": 1, "B": 2, "C": 3}))
    newer = make_snapshot("s2", {"A": 5, "D": 4})
    store.put_snapshot(newer)
    current = store.get_snapshot("crm-rollout", "baseline")
    assert current == newer and sorted(current.cells) == ["A", "D"]


def test_a_conditional_snapshot_replaces_only_the_one_it_names(store: Store) -> None:
    first = make_snapshot("s1", {"A": 1, "B": 2}, {"A": ["first"]})
    store.put_snapshot(first)
    assert store.put_snapshot(make_snapshot("s2", {"A": 5}, {"A": ["second"]}), replaces="s1")
    # A process that still holds s1 as the published state loses the race, and its
    # cells and texts do not linger (s3's texts are never readable).
    late = make_snapshot("s3", {"A": 4, "C": 3}, {"C": ["late"]})
    assert not store.put_snapshot(late, replaces="s1")
    current = store.get_snapshot("crm-rollout", "baseline")
    assert current is not None and current.snapshot_id == "s2" and sorted(current.cells) == ["A"]
    assert store.get_snapshot_comments("crm-rollout", "baseline", "A").all_texts() == ("second",)
    assert store.get_snapshot_comments("crm-rollout", "baseline", "C").all_texts() == ()


def test_a_conditional_snapshot_needs_a_current_one(store: Store) -> None:
    assert not store.put_snapshot(make_snapshot("s1", {"A": 1}), replaces="s0")
    assert store.get_snapshot("crm-rollout", "baseline") is None


def test_a_first_snapshot_can_be_stored_only_while_there_is_none(store: Store) -> None:
    assert store.put_snapshot(make_snapshot("s1", {"A": 1}), replaces=NO_SNAPSHOT)
    assert not store.put_snapshot(make_snapshot("s2", {"A": 2, "B": 3}), replaces=NO_SNAPSHOT)
    current = store.get_snapshot("crm-rollout", "baseline")
    assert current is not None and current.snapshot_id == "s1" and sorted(current.cells) == ["A"]


#: Texts that must come back exactly: quotes, escapes, non-ASCII, an emoji, line breaks.
TEXTS = ['Say "why" \\ first', "Mere træning, tak 🙂\nPlease", "  as written  ", "Zzz"]


def test_a_snapshot_is_read_without_its_comment_texts(store: Store) -> None:
    snapshot = make_snapshot("s1", {"A": 4, "B": 2}, {"A": TEXTS})
    store.put_snapshot(snapshot)
    stored = store.get_snapshot("crm-rollout", "baseline")
    assert stored is not None and stored.comments is None
    assert stored == replace(snapshot, comments=None)
    manager = stored.cells["A"].part(Audience.MANAGER)
    assert manager is not None and manager.comment_count == len(TEXTS)


def test_reads_one_departments_comment_texts_of_the_current_snapshot_exactly(
    store: Store,
) -> None:
    snapshot = make_snapshot("s1", {"A": 4, "B": 2, "C": 3}, {"A": TEXTS, "C": ["only C"]})
    store.put_snapshot(snapshot)
    texts = store.get_snapshot_comments("crm-rollout", "baseline", "A")
    assert texts == snapshot.comments_of("A")
    assert sorted(texts.texts[Audience.MANAGER]) == sorted(TEXTS)
    assert store.get_snapshot_comments("crm-rollout", "baseline", "C").all_texts() == ("only C",)
    assert store.get_snapshot_comments(
        "crm-rollout", "baseline", "B"
    ) == aggregates.DepartmentComments("s1")
    assert store.get_snapshot_comments(
        "crm-rollout", "baseline", "NOPE"
    ) == aggregates.DepartmentComments("s1")


def test_a_wave_without_a_snapshot_has_no_comment_texts(store: Store) -> None:
    store.put_snapshot(make_snapshot("s1", {"A": 4}, {"A": TEXTS}))
    empty = aggregates.DepartmentComments(None)
    assert store.get_snapshot_comments("crm-rollout", "other", "A") == empty
    assert store.get_snapshot_comments("other", "baseline", "A") == empty


def test_a_new_snapshot_replaces_the_old_comment_texts_whole(store: Store) -> None:
    store.put_snapshot(make_snapshot("s1", {"A": 1, "B": 2}, {"A": ["old A"], "B": ["old B"]}))
    newer = make_snapshot("s2", {"A": 5, "B": 3}, {"A": ["new A", "new A"]})
    store.put_snapshot(newer)
    assert store.get_snapshot_comments("crm-rollout", "baseline", "A") == newer.comments_of("A")
    assert store.get_snapshot_comments(
        "crm-rollout", "baseline", "B"
    ) == aggregates.DepartmentComments("s2")
    assert store.get_snapshot("crm-rollout", "baseline") == replace(newer, comments=None)


# -- API tokens -----------------------------------------------------------------------


def make_api_token(**overrides: object) -> ApiToken:
    """Build a valid API token record with a fresh random hash."""
    values: dict[str, object] = {
        "token_hash": secrets.token_hex(32),
        "email": "hr@example.com",
        "name": "Reporting script",
        "created_on": TODAY,
    }
    values.update(overrides)
    return ApiToken(**values)  # type: ignore[arg-type]


def test_stores_an_api_token_and_finds_it_by_its_hash(store: Store) -> None:
    token = make_api_token()
    store.add_api_token(token)
    assert store.get_api_token(token.token_hash) == token


def test_refuses_a_second_api_token_with_the_same_hash(store: Store) -> None:
    token = make_api_token()
    store.add_api_token(token)
    with pytest.raises(AlreadyExists):
        store.add_api_token(replace(token, name="Another"))
    assert store.get_api_token(token.token_hash).name == "Reporting script"
    assert store.list_api_tokens("hr@example.com") == [token]


def test_an_unknown_api_token_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        store.get_api_token("0" * 64)
    with pytest.raises(NotFound):
        store.put_api_token(make_api_token())
    assert store.list_api_tokens("hr@example.com") == []


def test_lists_only_one_accounts_api_tokens_oldest_first(store: Store) -> None:
    newer = make_api_token(created_on=TODAY)
    older = make_api_token(created_on=TODAY - timedelta(days=3))
    other = make_api_token(email="someone@example.com")
    for token in (newer, other, older):
        store.add_api_token(token)
    assert store.list_api_tokens("hr@example.com") == [older, newer]
    assert store.list_api_tokens("someone@example.com") == [other]


def test_revoking_an_api_token_shows_in_the_lookup_and_the_listing(store: Store) -> None:
    token = make_api_token()
    store.add_api_token(token)
    revoked = replace(token, revoked=True)
    store.put_api_token(revoked)
    assert store.get_api_token(token.token_hash) == revoked
    assert store.list_api_tokens("hr@example.com") == [revoked]


# -- reinforcement plans and scorecard settings -----------------------------------------


def make_plan_action(**overrides: object) -> PlanAction:
    """Build a valid plan action with every optional field filled in."""
    values: dict[str, object] = {
        "survey_slug": "crm-rollout",
        "department": "SALES",
        "action_id": secrets.token_hex(8),
        "wave_id": "baseline",
        "lever_id": "managers",
        "catalogue_id": "managers-onboarding",
        "title": "Run a manager onboarding on the new CRM — før jul",
        "owner_role": "Local change lead",
        "mandate_holder": "Site or country manager",
        "due": date(2027, 1, 15),
        "kpi": "Share of managers onboarded",
        "kpi_target": "100 %",
        "status": ActionStatus.IN_PROGRESS,
        "updated_on": TODAY,
    }
    values.update(overrides)
    return PlanAction(**values)  # type: ignore[arg-type]


def test_stores_a_plan_action_and_reads_back_every_field(store: Store) -> None:
    action = make_plan_action()
    store.put_plan_action(action)
    assert store.get_plan_action("crm-rollout", "SALES", action.action_id) == action
    assert store.list_plan_actions("crm-rollout") == [action]


def test_stores_a_plan_action_without_its_optional_fields(store: Store) -> None:
    action = make_plan_action(
        department=ORGANISATION, catalogue_id=None, due=None, kpi="", kpi_target=""
    )
    store.put_plan_action(action)
    assert store.list_plan_actions("crm-rollout", ORGANISATION) == [action]


def test_putting_a_plan_action_again_replaces_it(store: Store) -> None:
    action = make_plan_action()
    store.put_plan_action(action)
    done = replace(action, status=ActionStatus.DONE, title="Onboarded", updated_on=TODAY)
    store.put_plan_action(done)
    assert store.list_plan_actions("crm-rollout") == [done]


def test_lists_plan_actions_by_department_then_due_date_then_title(store: Store) -> None:
    actions = [
        make_plan_action(department="SALES", due=None, title="a undated"),
        make_plan_action(department="SALES", due=date(2027, 3, 1), title="b"),
        make_plan_action(department="SALES", due=date(2027, 2, 1), title="Zebra"),
        make_plan_action(department="SALES", due=date(2027, 2, 1), title="apple"),
        make_plan_action(department="HR", due=date(2028, 1, 1)),
        make_plan_action(department=ORGANISATION, due=None),
        make_plan_action(department="SALES-EU", due=date(2020, 1, 1)),
    ]
    for action in reversed(actions):
        store.put_plan_action(action)
    store.put_plan_action(make_plan_action(survey_slug="other-survey"))
    expected = [actions[5], actions[4], actions[3], actions[2], actions[1], actions[0], actions[6]]
    assert store.list_plan_actions("crm-rollout") == expected
    assert store.list_plan_actions("crm-rollout", "SALES") == expected[2:6]
    assert store.list_plan_actions("crm-rollout", ORGANISATION) == [actions[5]]
    assert store.list_plan_actions("crm-rollout", "NONE") == []
    assert store.list_plan_actions("no-survey") == []


def test_the_same_action_id_in_another_department_is_another_action(store: Store) -> None:
    sales = make_plan_action(action_id="00000000000000aa")
    hr = make_plan_action(action_id="00000000000000aa", department="HR", title="HR's own")
    store.put_plan_action(sales)
    store.put_plan_action(hr)
    assert store.list_plan_actions("crm-rollout") == [hr, sales]


def test_deletes_a_plan_action(store: Store) -> None:
    keep, drop = make_plan_action(title="keep"), make_plan_action(title="drop")
    store.put_plan_action(keep)
    store.put_plan_action(drop)
    store.delete_plan_action("crm-rollout", "SALES", drop.action_id)
    assert store.list_plan_actions("crm-rollout") == [keep]
    with pytest.raises(NotFound):
        store.get_plan_action("crm-rollout", "SALES", drop.action_id)


def test_unknown_plan_actions_are_not_found(store: Store) -> None:
    action = make_plan_action()
    store.put_plan_action(action)
    with pytest.raises(NotFound):
        store.get_plan_action("crm-rollout", "HR", action.action_id)
    with pytest.raises(NotFound):
        store.delete_plan_action("crm-rollout", "HR", action.action_id)
    with pytest.raises(NotFound):
        store.delete_plan_action("crm-rollout", "SALES", "ffffffffffffffff")
    assert store.list_plan_actions("crm-rollout") == [action]


def test_scorecard_settings_default_until_stored(store: Store) -> None:
    assert store.get_scorecard_settings("crm-rollout") == ScorecardSettings("crm-rollout")


def test_stores_and_replaces_scorecard_settings(store: Store) -> None:
    first = ScorecardSettings("crm-rollout", attention=50, default_target=70)
    store.put_scorecard_settings(first)
    assert store.get_scorecard_settings("crm-rollout") == first
    second = ScorecardSettings(
        "crm-rollout", attention=55, default_target=80, lever_targets={"skills": 85, "purpose": 55}
    )
    store.put_scorecard_settings(second)
    assert store.get_scorecard_settings("crm-rollout") == second
    assert store.get_scorecard_settings("other-survey") == ScorecardSettings("other-survey")
