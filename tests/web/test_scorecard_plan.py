"""The admin pages for a unit's reinforcement plan and a survey's scorecard targets."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta

import pytest
from flask.testing import FlaskClient

from portal.domain.accounts import Role
from portal.domain.entities import Response
from portal.domain.scorecard import ORGANISATION, ActionStatus, PlanAction, ScorecardSettings
from portal.instruments import get_action_catalogue, get_questionnaire
from portal.services.surveys import add_wave, close_wave
from portal.storage.port import Store
from tests.web.conftest import csrf_token, sign_in
from tests.web.test_results import (
    SLUG,
    STANDARD,
    MakeAccount,
    make_organisation,
)

WAVE = f"/admin/surveys/{SLUG}/waves/baseline"
PLAN = f"{WAVE}/plan/SALES"
SETTINGS = f"/admin/surveys/{SLUG}/scorecard-settings"
ADOPT_BUTTON = re.compile(r'name="catalogue_id" value="([a-z0-9-]+)"')
OWN = {
    "new-title": "Weekly open hour with the key users",
    "new-lever_id": "skills",
    "new-owner_role": "Local change lead",
    "new-mandate_holder": "Head of sales",
    "new-due": "2027-04-30",
    "new-kpi": "Skills lever in the next wave",
    "new-kpi_target": "70 or more",
    "new-status": "in progress",
}


def page(client: FlaskClient, url: str = PLAN) -> str:
    """Open a page that must answer 200 and return its HTML."""
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def post(
    client: FlaskClient, url: str, data: dict[str, str], *, field: str = "csrf_token"
) -> tuple[int, str, str]:
    """Post ``data`` with a fresh CSRF token; return status, Location and the text shown."""
    token = csrf_token(page(client, SETTINGS if "scorecard-settings" in url else PLAN))
    response = client.post(url, data={field: token, **data})
    return (
        response.status_code,
        response.headers.get("Location", ""),
        html.unescape(response.get_data(as_text=True)),
    )


def followed(client: FlaskClient, location: str) -> str:
    """Open the page a redirect points to (flash messages included)."""
    return html.unescape(page(client, location))


def suggested(text: str) -> list[str]:
    """Return the catalogue ids the page offers to add, in page order."""
    return ADOPT_BUTTON.findall(text)


def saved(records: Store, unit: str = "SALES") -> list[PlanAction]:
    """Return the unit's stored plan actions."""
    return records.list_plan_actions(SLUG, unit)


def audit_actions(records: Store) -> list[str]:
    """Return the audit trail's action names, newest first."""
    return [event.action for event in records.list_audit_events(limit=200).items]


def action_form(action: PlanAction, **changes: str) -> dict[str, str]:
    """Return an action's edit form as the page fills it in, with ``changes``."""
    values = {
        "title": action.title,
        "lever_id": action.lever_id,
        "owner_role": action.owner_role,
        "mandate_holder": action.mandate_holder,
        "due": action.due.isoformat() if action.due else "",
        "kpi": action.kpi,
        "kpi_target": action.kpi_target,
        "status": action.status.value,
        **changes,
    }
    return {f"a-{action.action_id}-{name}": value for name, value in values.items()}


def adopt_first(client: FlaskClient) -> tuple[str, str]:
    """Add the page's first recommendation to the SALES plan; return its id and the page after."""
    first = suggested(page(client))[0]
    status, location, _ = post(client, f"{PLAN}/adopt", {"catalogue_id": first})
    assert status == 302, status
    return first, followed(client, location)


# -- adopting recommendations -------------------------------------------------------------


def test_adopting_a_recommendation_saves_it_with_the_catalogues_suggestions(
    admin: FlaskClient,
    standard: list[Response],
    store: Store,
) -> None:
    before = suggested(page(admin))
    assert before, "the standard organisation is below target and gets recommendations"
    catalogue_id, after = adopt_first(admin)
    [action] = saved(store)
    found = get_action_catalogue("change-readiness").get(catalogue_id)
    text = found.in_language("en", "the new CRM")
    assert action.catalogue_id == catalogue_id and action.wave_id == "baseline"
    assert (action.title, action.owner_role, action.mandate_holder, action.kpi) == (
        text.title,
        text.owner_role,
        text.mandate_holder,
        text.kpi,
    )
    assert "{system}" not in action.title + action.kpi
    lever = get_questionnaire("change-readiness").lever(found.lever_id).name["en"]
    assert action.kpi_target == f"{lever} ≥ 75"
    assert action.due == date.today() + timedelta(weeks=found.due_weeks)
    assert action.status is ActionStatus.PLANNED
    assert f"“{text.title}” is in the plan now" in after
    assert f'id="action-{action.action_id}"' in after
    assert catalogue_id not in suggested(after)
    assert "plan.add" in audit_actions(store)


def test_adopting_the_same_recommendation_twice_keeps_one_copy(
    admin: FlaskClient,
    standard: list[Response],
    store: Store,
) -> None:
    catalogue_id, _ = adopt_first(admin)
    status, location, _ = post(admin, f"{PLAN}/adopt", {"catalogue_id": catalogue_id})
    assert status == 302
    assert "is already in the plan; nothing was added" in followed(admin, location)
    assert [a.catalogue_id for a in saved(store)] == [catalogue_id]
    assert audit_actions(store).count("plan.add") == 1


def test_adopting_an_action_the_catalogue_lacks_is_not_found(
    admin: FlaskClient,
    standard: list[Response],
    store: Store,
) -> None:
    status, _, _ = post(admin, f"{PLAN}/adopt", {"catalogue_id": "no-such-action"})
    assert status == 404
    status, _, _ = post(admin, f"{PLAN}/adopt", {"catalogue_id": ""})
    assert status == 400
    assert saved(store) == []


# -- actions of one's own, changes, deleting ----------------------------------------------


def test_an_action_of_ones_own_is_saved_with_every_field(
    admin: FlaskClient,
    standard: list[Response],
    store: Store,
) -> None:
    status, location, _ = post(admin, f"{PLAN}/actions", OWN, field="new-csrf_token")
    assert status == 302
    [action] = saved(store)
    assert action.catalogue_id is None and action.wave_id == "baseline"
    assert (
        action.title,
        action.lever_id,
        action.owner_role,
        action.mandate_holder,
        action.due,
        action.kpi,
        action.kpi_target,
        action.status,
    ) == (
        OWN["new-title"],
        "skills",
        "Local change lead",
        "Head of sales",
        date(2027, 4, 30),
        "Skills lever in the next wave",
        "70 or more",
        ActionStatus.IN_PROGRESS,
    )
    shown = followed(admin, location)
    assert f"“{OWN['new-title']}” is in the plan now" in shown
    assert location.endswith(f"#action-{action.action_id}")


def test_an_action_for_the_whole_organisation(
    admin: FlaskClient,
    standard: list[Response],
    store: Store,
) -> None:
    url = f"{WAVE}/plan/*"
    assert "Reinforcement plan: Whole organisation" in page(admin, url)
    status, _, _ = post(admin, f"{url}/actions", OWN, field="new-csrf_token")
    assert status == 302
    assert [a.title for a in saved(store, ORGANISATION)] == [OWN["new-title"]]
    assert saved(store) == []


def test_changing_status_and_owner_is_saved_and_audited(
    admin: FlaskClient,
    standard: list[Response],
    store: Store,
) -> None:
    adopt_first(admin)
    [action] = saved(store)
    data = action_form(action, status="in progress", owner_role="Team lead")
    status, location, _ = post(
        admin, f"{PLAN}/actions/{action.action_id}", data, field=f"a-{action.action_id}-csrf_token"
    )
    assert status == 302
    [changed] = saved(store)
    assert (changed.status, changed.owner_role) == (ActionStatus.IN_PROGRESS, "Team lead")
    assert (changed.action_id, changed.catalogue_id, changed.wave_id) == (
        action.action_id,
        action.catalogue_id,
        action.wave_id,
    )
    assert "(in progress)" in followed(admin, location)
    assert "plan.update" in audit_actions(store)


def test_deleting_an_action_removes_it_and_is_audited(
    admin: FlaskClient,
    standard: list[Response],
    store: Store,
) -> None:
    catalogue_id, _ = adopt_first(admin)
    [action] = saved(store)
    status, location, _ = post(admin, f"{PLAN}/actions/{action.action_id}/delete", {})
    assert status == 302
    assert saved(store) == []
    after = followed(admin, location)
    assert f"Deleted “{action.title}” from the plan" in after
    assert catalogue_id in suggested(after)
    assert "plan.remove" in audit_actions(store)


def test_a_post_without_the_csrf_token_is_refused(
    admin: FlaskClient,
    standard: list[Response],
    store: Store,
) -> None:
    first = suggested(page(admin))[0]
    assert admin.post(f"{PLAN}/adopt", data={"catalogue_id": first}).status_code == 400
    assert admin.post(f"{PLAN}/actions", data=OWN).status_code == 400
    assert saved(store) == []


# -- validation: the answer is 400 and nothing typed is lost ------------------------------


def test_a_missing_title_and_a_person_as_owner_keep_what_was_typed(
    admin: FlaskClient,
    standard: list[Response],
    store: Store,
) -> None:
    data = {**OWN, "new-title": "", "new-kpi": "Mentions in the intranet poll"}
    status, _, text = post(admin, f"{PLAN}/actions", data, field="new-csrf_token")
    assert status == 400
    assert "There is a problem" in text
    assert re.search(r'<p class="error" id="new-title-error">[^<]*required', text)
    assert 'value="Mentions in the intranet poll"' in text
    assert 'value="2027-04-30"' in text
    assert re.search(
        r'<option selected value="in progress">|<option value="in progress" selected', text
    )
    # A rule only the domain knows (a role, not a person) shows beside its field too.
    data = {**OWN, "new-owner_role": "jane@example.com"}
    status, _, text = post(admin, f"{PLAN}/actions", data, field="new-csrf_token")
    assert status == 400
    assert re.search(r'id="new-owner_role-error">The owner role should name a role', text)
    assert 'value="jane@example.com"' in text
    assert saved(store) == []


def test_a_bad_due_date_and_an_oversized_title_are_400(
    admin: FlaskClient,
    standard: list[Response],
    store: Store,
) -> None:
    status, _, text = post(
        admin, f"{PLAN}/actions", {**OWN, "new-due": "2027-02-30"}, field="new-csrf_token"
    )
    assert status == 400
    assert re.search(r'id="new-due-error">Not a valid date', text)
    assert 'value="2027-02-30"' in text
    long_title = "x" * 161
    status, _, text = post(
        admin, f"{PLAN}/actions", {**OWN, "new-title": long_title}, field="new-csrf_token"
    )
    assert status == 400
    assert "longer than 160 characters" in text
    assert f'value="{long_title}"' in text
    assert saved(store) == []


def test_a_failed_change_shows_beside_that_action_with_the_input_kept(
    admin: FlaskClient,
    standard: list[Response],
    store: Store,
) -> None:
    adopt_first(admin)
    [action] = saved(store)
    prefix = f"a-{action.action_id}"
    data = action_form(action, mandate_holder="", kpi="A KPI I typed", lever_id="nope")
    status, _, text = post(
        admin, f"{PLAN}/actions/{action.action_id}", data, field=f"{prefix}-csrf_token"
    )
    assert status == 400
    assert f'id="{prefix}-mandate_holder-error"' in text
    assert f'id="{prefix}-lever_id-error"' in text
    assert 'value="A KPI I typed"' in text
    assert re.search(r'<details class="plan-edit" open>', text)
    assert saved(store) == [action]


# -- what does not exist, and who may not ------------------------------------------------


def test_unknown_units_actions_waves_and_surveys_are_not_found(
    admin: FlaskClient,
    standard: list[Response],
) -> None:
    assert admin.get(f"{WAVE}/plan/NOPE").status_code == 404
    assert admin.get(f"/admin/surveys/{SLUG}/waves/nope/plan/SALES").status_code == 404
    assert admin.get(f"/admin/surveys/{SLUG}/waves/nope/plan").status_code == 404
    assert admin.get("/admin/surveys/nope/scorecard-settings").status_code == 404
    action = "0123456789abcdef"
    status, _, _ = post(admin, f"{PLAN}/actions/{action}/delete", {})
    assert status == 404
    status, _, _ = post(
        admin,
        f"{PLAN}/actions/{action}",
        {f"a-{action}-title": "x"},
        field=f"a-{action}-csrf_token",
    )
    assert status == 404
    status, _, _ = post(admin, f"{WAVE}/plan/NOPE/actions", OWN, field="new-csrf_token")
    assert status == 404


def test_a_draft_wave_has_no_plan_yet(
    admin: FlaskClient,
    standard: list[Response],
    store: Store,
) -> None:
    add_wave(store, SLUG, wave_id="follow-up", name="Follow-up", today=date.today())
    draft = f"/admin/surveys/{SLUG}/waves/follow-up/plan"
    for response in (admin.get(draft), admin.get(f"{draft}/SALES")):
        assert response.status_code == 400
        assert "is still a draft" in html.unescape(response.get_data(as_text=True))
    status, _, text = post(admin, f"{draft}/SALES/actions", OWN, field="new-csrf_token")
    assert status == 400 and "is still a draft" in text
    assert saved(store) == []


@pytest.mark.parametrize("role", [Role.VIEWER, Role.DEPARTMENT_VIEWER])
def test_viewers_may_not_open_or_change_plans_or_targets(
    client: FlaskClient,
    make_account: MakeAccount,
    standard: list[Response],
    store: Store,
    role: Role,
) -> None:
    scope = (f"{SLUG}/SALES",) if role is Role.DEPARTMENT_VIEWER else ()
    make_account("reader@example.com", role, departments=scope)
    sign_in(client, "reader@example.com")
    token = csrf_token(client.get("/admin/tokens").get_data(as_text=True))
    for url in (f"{WAVE}/plan", PLAN, SETTINGS):
        assert client.get(url).status_code == 403, url
    for url in (
        f"{PLAN}/adopt",
        f"{PLAN}/actions",
        f"{PLAN}/actions/0123456789abcdef",
        f"{PLAN}/actions/0123456789abcdef/delete",
        SETTINGS,
    ):
        assert client.post(url, data={"csrf_token": token}).status_code == 403, url
    assert saved(store) == []


# -- plans carry over -------------------------------------------------------------------


def test_an_action_of_a_closed_wave_carries_over_to_the_next_waves_plan(
    admin: FlaskClient,
    store: Store,
) -> None:
    make_organisation(store, STANDARD)
    _, _ = adopt_first(admin)
    [action] = saved(store)
    close_wave(store, SLUG, "baseline", today=date.today())
    make_organisation(store, STANDARD, create=False, wave_id="follow-up", seed=7, bias=1)
    follow_up = f"/admin/surveys/{SLUG}/waves/follow-up/plan/SALES"
    text = html.unescape(page(admin, follow_up))
    carried = text.split('<h2 id="carried">', 1)
    assert len(carried) == 2, "the follow-up plan has a carried-over section"
    card = re.search(
        rf'<article class="plan-action" id="action-{action.action_id}">(.*?)</article>',
        carried[1],
        re.S,
    )
    assert card, "the baseline's action is carried over"
    assert "Planned in Baseline." in card.group(1)
    assert re.search(
        r"since then: "
        r"([+-]\d+ points, (improved|declined|no clear change|too few responses to tell)"
        r"|not enough data)\.",
        card.group(1),
    )
    assert action.catalogue_id not in suggested(text)
    # It can be updated from the follow-up's page; it keeps its origin wave.
    data = action_form(action, status="done")
    token = csrf_token(text)
    response = admin.post(
        f"{follow_up}/actions/{action.action_id}",
        data={f"a-{action.action_id}-csrf_token": token, **data},
    )
    assert response.status_code == 302
    [changed] = saved(store)
    assert (changed.status, changed.wave_id) == (ActionStatus.DONE, "baseline")
    # An action of the follow-up is not part of the baseline's plan.
    status, _, _ = post(admin, f"{follow_up}/actions", OWN, field="new-csrf_token")
    assert status == 302
    [later] = [a for a in saved(store) if a.wave_id == "follow-up"]
    assert f'id="action-{later.action_id}"' not in page(admin, PLAN)
    status, _, _ = post(admin, f"{PLAN}/actions/{later.action_id}/delete", {})
    assert status == 404
    # Dropped, a carried action leaves the follow-up's plan but stays in the baseline's.
    data = action_form(changed, status="dropped")
    response = admin.post(
        f"{follow_up}/actions/{action.action_id}",
        data={f"a-{action.action_id}-csrf_token": token, **data},
    )
    assert "no longer carries over" in html.unescape(followed(admin, response.headers["Location"]))
    assert f'id="action-{action.action_id}"' not in page(admin, follow_up)
    assert f'id="action-{action.action_id}"' in page(admin, PLAN)
    units = html.unescape(page(admin, f"/admin/surveys/{SLUG}/waves/follow-up/plan"))
    row = re.search(r'<tr data-unit="SALES">(.*?)</tr>', units, re.S)
    # The follow-up's own action is open ("in progress"); the baseline's is dropped.
    assert row and re.findall(r'<td class="num">(\d+)</td>', row.group(1)) == ["1", "1"]


def test_the_list_of_plans_counts_actions_and_open_ones_per_unit(
    admin: FlaskClient,
    standard: list[Response],
    store: Store,
) -> None:
    adopt_first(admin)
    post(admin, f"{PLAN}/actions", {**OWN, "new-status": "done"}, field="new-csrf_token")
    text = page(admin, f"{WAVE}/plan")
    rows = dict(re.findall(r'<tr data-unit="([^"]+)">(.*?)</tr>', text, re.S))
    assert set(rows) == {ORGANISATION, *STANDARD}
    assert re.findall(r'<td class="num">(\d+)</td>', rows["SALES"]) == ["2", "1"]
    assert re.findall(r'<td class="num">(\d+)</td>', rows["MKT"]) == ["0", "0"]
    assert f'href="{WAVE}/plan/SALES"' in text


# -- targets ----------------------------------------------------------------------------


def test_targets_round_trip_and_blank_lever_targets_use_the_default(
    admin: FlaskClient,
    standard: list[Response],
    store: Store,
) -> None:
    text = page(admin, SETTINGS)
    assert 'name="attention"' in text and 'value="60"' in text and 'value="75"' in text
    assert "changes every scorecard" in text.replace(
        "recolours every scorecard", "changes every scorecard"
    )
    data = {"attention": "55", "default_target": "70", "target-managers": "80", "target-skills": ""}
    status, location, _ = post(admin, SETTINGS, data)
    assert status == 302
    assert store.get_scorecard_settings(SLUG) == ScorecardSettings(
        SLUG, attention=55, default_target=70, lever_targets={"managers": 80}
    )
    again = followed(admin, location)
    assert "Saved the scorecard targets" in again
    assert re.search(
        r'name="target-managers"[^>]*value="80"|value="80"[^>]*name="target-managers"', again
    )
    assert "scorecard.settings" in audit_actions(store)


def test_bad_targets_are_400_with_the_reason_beside_the_field(
    admin: FlaskClient,
    standard: list[Response],
    store: Store,
) -> None:
    data = {"attention": "70", "default_target": "65", "target-managers": "50"}
    status, _, text = post(admin, SETTINGS, data)
    assert status == 400
    assert re.search(r'id="default_target-error">The default target \(65\) must not be below', text)
    assert re.search(
        r'id="target-managers-error">The target for managers \(50\) must not be below', text
    )
    assert 'value="65"' in text and 'value="50"' in text
    status, _, text = post(admin, SETTINGS, {"attention": "lots", "default_target": "101"})
    assert status == 400
    assert 'value="lots"' in text and 'id="default_target-error"' in text
    assert store.get_scorecard_settings(SLUG) == ScorecardSettings(SLUG)
    assert "scorecard.settings" not in audit_actions(store)


def test_the_survey_page_links_to_the_targets(
    admin: FlaskClient,
    standard: list[Response],
) -> None:
    assert f'href="{SETTINGS}"' in page(admin, f"/admin/surveys/{SLUG}")


def test_a_unit_with_hidden_scores_gets_no_recommendations_but_may_plan(
    admin: FlaskClient,
    standard: list[Response],
    store: Store,
) -> None:
    url = f"{WAVE}/plan/TINY"
    text = html.unescape(page(admin, url))
    assert "Not enough responses to publish scores" in text
    assert "No recommendations: there are not enough responses" in text
    assert suggested(text) == []
    assert not re.search(r'<td class="num">\d+</td>', text), "no score of a hidden group shows"
    status, _, _ = post(admin, f"{url}/actions", OWN, field="new-csrf_token")
    assert status == 302
    assert [a.title for a in saved(store, "TINY")] == [OWN["new-title"]]
