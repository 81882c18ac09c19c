"""The admin results pages: heatmap, department page and CSV, small groups hidden."""

from __future__ import annotations

import csv
import io
import math
import random
import re
from collections.abc import Callable, Mapping
from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.domain import scoring
from portal.domain.accounts import Role
from portal.domain.anonymity import Group
from portal.domain.entities import Audience, Response
from portal.instruments import get_questionnaire
from portal.services.surveys import add_wave, close_wave, create_survey, open_wave
from portal.storage.port import Store
from tests.builders import make_response
from tests.web.conftest import OpenWave, full_answers, sign_in, start

SLUG = "crm-rollout"
QUESTIONNAIRE = get_questionnaire("change-readiness")
#: name, site and headcount of every department of the standard test organisation.
DEPARTMENTS = {
    "SALES": ("Sales", "Aarhus", 20),
    "MKT": ("Marketing", "Aarhus", 20),
    "WH": ("Warehouse", "Hamburg", 40),
    "OPS": ("Operations", "Hamburg", 30),
    "TINY": ("Tiny team", "Hamburg", 6),
    "NONE": ("Nobody yet", "Hamburg", 6),
    "FEW": ("Few", "Hamburg", 8),
}
#: (employees, managers) answering per department.
STANDARD = {
    "SALES": (9, 6),
    "MKT": (8, 5),
    "WH": (12, 2),
    "OPS": (10, 5),
    "TINY": (3, 0),
    "NONE": (0, 0),
    # TINY, NONE and FEW are hidden together (7 ≥ 5), so the rest of Hamburg can show.
    "FEW": (4, 0),
}
MakeAccount = Callable[..., object]
MARKER = re.compile(r"<span class=\"no-figure\"")


def departments_csv(departments: Mapping[str, tuple[str, str, int]]) -> str:
    """Return a departments file for ``create_survey``."""
    lines = ["code,name,site,headcount"]
    lines += [f"{code},{name},{site},{n}" for code, (name, site, n) in departments.items()]
    return "\n".join(lines) + "\n"


def random_answers(rng: random.Random, audience: Audience, bias: int = 0) -> dict[str, int | None]:
    """Answer every item ``audience`` is asked at random, some "don't know"."""
    answers: dict[str, int | None] = {}
    for item in QUESTIONNAIRE.items_for(audience):
        if rng.random() < 0.08:
            answers[item.id] = None
        else:
            answers[item.id] = min(5, max(1, rng.randint(1, 5) + bias))
    return answers


def make_organisation(
    store: Store,
    cells: Mapping[str, tuple[int, int]],
    *,
    departments: Mapping[str, tuple[str, str, int]] = DEPARTMENTS,
    seed: int = 1,
    wave_id: str = "baseline",
    create: bool = True,
    bias: int = 0,
) -> list[Response]:
    """Create the survey (unless ``create`` is off), open ``wave_id`` and store responses."""
    today = date.today()
    if create:
        create_survey(
            store,
            slug=SLUG,
            title="CRM rollout",
            system_name={"en": "the new CRM"},
            today=today,
            departments_csv=departments_csv(departments),
        )
    add_wave(store, SLUG, wave_id=wave_id, name=wave_id.title(), today=today)
    open_wave(store, SLUG, wave_id, today=today)
    rng = random.Random(seed)
    responses = []
    for code, (employees, managers) in cells.items():
        for audience, count in ((Audience.EMPLOYEE, employees), (Audience.MANAGER, managers)):
            for _ in range(count):
                response = make_response(
                    survey_slug=SLUG,
                    wave_id=wave_id,
                    department_code=code,
                    audience=audience,
                    day=today,
                    answers=random_answers(rng, audience, bias),
                )
                store.add_response(response)
                responses.append(response)
    return responses


def row_html(page: str, kind: str, key: str) -> str:
    """Return one heatmap row's cells (the heading cell left out)."""
    match = re.search(rf'<tr class="level-{kind}" id="row-{kind}-{key}">(.*?)</tr>', page, re.S)
    assert match, f"no {kind} row {key!r}"
    return re.sub(r"<th scope=\"row\">.*?</th>", "", match.group(1), flags=re.S).strip()


def row_numbers(page: str, kind: str, key: str) -> list[int] | None:
    """Return a row's responses and whole-number indices, or ``None`` when it shows none."""
    cells = row_html(page, kind, key)
    if MARKER.search(cells):
        return None
    found = re.findall(r'<td class="num">(\d+)</td>', cells)
    indices = re.findall(r'<span class="heat-value">(\d+)</span>', cells)
    return [int(x) for x in found[:1] + indices]


def overview(client: FlaskClient, **query: str) -> str:
    """Open the results overview and return its HTML."""
    response = client.get(f"/admin/surveys/{SLUG}/waves/baseline/results", query_string=query)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


# -- the overview ---------------------------------------------------------------------


def test_shows_the_organisation_and_its_sites_when_large_enough(
    admin: FlaskClient, standard: list[Response]
) -> None:
    page = overview(admin)
    assert row_numbers(page, "organisation", "") is not None
    assert row_numbers(page, "organisation", "")[0] == len(standard)  # type: ignore[index]
    assert row_numbers(page, "site", "Aarhus") == row_numbers(page, "site", "Aarhus")
    aarhus = row_numbers(page, "site", "Aarhus")
    assert aarhus is not None and aarhus[0] == 28
    assert "figures as of" in page.lower()
    assert "refreshed at most every 5 minutes while the wave is open" in page


def test_a_department_of_three_reads_exactly_like_one_of_none(
    admin: FlaskClient, standard: list[Response]
) -> None:
    page = overview(admin)
    assert row_html(page, "department", "TINY") == row_html(page, "department", "NONE")
    assert MARKER.search(row_html(page, "department", "TINY"))
    assert "3" not in re.sub(r"<[^>]+>", "", row_html(page, "department", "TINY"))


def test_the_shown_index_is_the_one_computed_from_the_raw_responses(
    admin: FlaskClient, standard: list[Response]
) -> None:
    page = overview(admin)
    for code in ("SALES", "MKT", "WH"):
        raw = [r for r in standard if r.department_code == code]
        expected = scoring.score_levers(QUESTIONNAIRE, raw)
        shown = row_numbers(page, "department", code)
        assert shown is not None, code
        assert shown[0] == len(raw)
        assert shown[1:] == [math.floor(expected[lv.id].index or 0) for lv in QUESTIONNAIRE.levers]
    everyone = scoring.score_levers(QUESTIONNAIRE, standard)
    organisation = row_numbers(page, "organisation", "")
    assert organisation is not None
    assert organisation[1:] == [
        math.floor(everyone[lv.id].index or 0) for lv in QUESTIONNAIRE.levers
    ]


def test_the_barrier_is_the_first_lever_under_60(
    admin: FlaskClient, standard: list[Response]
) -> None:
    page = overview(admin)
    for code in ("SALES", "MKT", "WH"):
        raw = [r for r in standard if r.department_code == code]
        scores = scoring.score_levers(QUESTIONNAIRE, raw)
        first = next(
            (
                lever
                for lever in QUESTIONNAIRE.levers
                if not lever.outcome and (scores[lever.id].index or 0) < 60
            ),
            None,
        )
        cells = re.findall(r"<td>(.*?)</td>", row_html(page, "department", code), re.S)
        named = re.sub(r' <span class="muted barrier-unsure".*?</span>', "", cells[-1])
        assert named == (first.name["en"] if first else '<span class="muted">none under 60</span>')


def test_the_colour_band_comes_with_a_word(admin: FlaskClient, standard: list[Response]) -> None:
    page = overview(admin)
    for cell in re.findall(r'<span class="heat heat-(\w+)">(.*?)</span></span>', page):
        band, inner = cell
        word = {"low": "low", "attention": "needs attention", "fair": "fair", "good": "good"}[band]
        assert f'<span class="heat-word">{word}' in inner + "</span>"


def test_a_filter_whose_complement_is_small_is_refused_with_the_neutral_message(
    admin: FlaskClient, store: Store
) -> None:
    # 30 employees and 3 managers: "employees only" leaves 3 people outside.
    make_organisation(store, {"SALES": (15, 2), "MKT": (15, 1)})
    page = overview(admin, audience="employee")
    assert "Not enough responses for this selection" in page
    assert "heat-value" not in page and "row-" not in page
    small = overview(admin, audience="manager")
    assert small.count("Not enough responses for this selection") == 1

    def neutral(html: str) -> str:
        # The sign-out form's CSRF token is signed with the time: two renders a second
        # apart differ there, and only there.
        return re.sub(
            r'<option[^>]*>.*?</option>|href="[^"]*"|name="csrf_token" value="[^"]*"', "", html
        )

    assert neutral(page) == neutral(small)


def test_an_allowed_filter_shows_only_that_site(
    admin: FlaskClient, standard: list[Response]
) -> None:
    page = overview(admin, site="Aarhus")
    assert 'id="row-site-Aarhus"' in page and 'id="row-department-SALES"' in page
    assert "row-site-Hamburg" not in page and "row-organisation" not in page
    assert "row-department-WH" not in page


def test_an_unknown_audience_is_a_bad_request(admin: FlaskClient, standard: list[Response]) -> None:
    response = admin.get(f"/admin/surveys/{SLUG}/waves/baseline/results?audience=boss")
    assert response.status_code == 400


# -- department pages ---------------------------------------------------------------


def department_page(client: FlaskClient, code: str) -> tuple[int, str]:
    """Open a department's results page."""
    response = client.get(f"/admin/surveys/{SLUG}/waves/baseline/results/departments/{code}")
    return response.status_code, response.get_data(as_text=True)


def test_a_department_page_shows_levers_distributions_and_the_audience_gap(
    admin: FlaskClient, standard: list[Response]
) -> None:
    status, page = department_page(admin, "SALES")
    assert status == 200
    assert "95 % interval" in page and "Strongly disagree" in page and "Favourable" in page
    assert "Employees and managers" in page and "results-gaps" in page


def test_a_department_page_without_a_visible_manager_group_has_no_gap(
    admin: FlaskClient, standard: list[Response]
) -> None:
    status, page = department_page(admin, "WH")  # 12 employees, 2 managers
    assert status == 200
    assert "results-gaps" not in page
    # Statements put to managers alone would be the answers of those 2 managers.
    manager_only = [i for i in QUESTIONNAIRE.items if i.audience == "manager"]
    for item in manager_only:
        text = re.escape(str(item.render("en", "the new CRM")).replace("'", "&#39;"))
        found = re.search(rf"{text}.*?</tr>", page, re.S)
        assert found, item.id
        assert "%" not in found.group(0), item.id


def test_a_hidden_department_page_reads_like_an_empty_one(
    admin: FlaskClient, standard: list[Response]
) -> None:
    tiny, none = department_page(admin, "TINY"), department_page(admin, "NONE")
    assert tiny[0] == none[0] == 200

    def strip(page: str) -> str:
        # The sign-out form's CSRF token carries a timestamp; it may tick between the two pages.
        page = re.sub(r'name="csrf_token" value="[^"]+"', 'name="csrf_token"', page)
        return re.sub(r"Tiny team|Nobody yet|TINY|NONE", "X", page)

    assert strip(tiny[1]) == strip(none[1])
    assert "Not enough responses" in tiny[1]


def test_an_unknown_department_is_not_found(admin: FlaskClient, standard: list[Response]) -> None:
    assert department_page(admin, "NOPE")[0] == 404


def test_the_change_since_the_previous_wave_is_shown_with_its_trend(
    admin: FlaskClient, store: Store
) -> None:
    make_organisation(store, STANDARD, wave_id="baseline", bias=-1)
    close_wave(store, SLUG, "baseline", today=date.today())
    make_organisation(store, STANDARD, wave_id="follow-up", create=False, seed=2, bias=1)
    page = admin.get(f"/admin/surveys/{SLUG}/waves/follow-up/results/departments/SALES")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Change since Baseline" in text
    assert re.search(r"improved|no clear change|declined", text)
    hidden = admin.get(f"/admin/surveys/{SLUG}/waves/follow-up/results/departments/TINY")
    assert "Change since" not in hidden.get_data(as_text=True)


# -- department viewers ---------------------------------------------------------------


def test_a_department_viewer_sees_only_their_department(
    client: FlaskClient, make_account: MakeAccount, standard: list[Response]
) -> None:
    make_account("dv@example.com", Role.DEPARTMENT_VIEWER, departments=(f"{SLUG}/SALES",))
    sign_in(client, "dv@example.com")
    page = overview(client)
    assert 'id="row-department-SALES"' in page
    assert "row-department-WH" not in page and "row-organisation" not in page
    assert "row-site-" not in page
    assert department_page(client, "SALES")[0] == 200
    assert department_page(client, "WH")[0] == 403
    csv_text = client.get(f"/admin/surveys/{SLUG}/waves/baseline/results.csv").get_data(
        as_text=True
    )
    assert "WH" not in csv_text and "SALES" in csv_text


def test_a_reader_of_another_survey_is_refused(
    client: FlaskClient, make_account: MakeAccount, standard: list[Response]
) -> None:
    make_account("dv@example.com", Role.DEPARTMENT_VIEWER, departments=("other/SALES",))
    sign_in(client, "dv@example.com")
    response = client.get(f"/admin/surveys/{SLUG}/waves/baseline/results")
    assert response.status_code == 403


# -- the CSV --------------------------------------------------------------------------


def parse_csv(text: str) -> list[list[str]]:
    """Return the rows of a CSV download (byte-order mark removed)."""
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


def test_the_csv_matches_the_page(
    admin: FlaskClient, standard: list[Response], store: Store
) -> None:
    page = overview(admin)
    response = admin.get(f"/admin/surveys/{SLUG}/waves/baseline/results.csv")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    rows = parse_csv(response.get_data(as_text=True))
    header, body = rows[0], rows[1:]
    assert header[:6] == [
        "level",
        "site",
        "department",
        "name",
        "responses",
        "response_rate_percent",
    ]
    for line in body:
        kind, site, code = line[0], line[1], line[2]
        key = code if kind == "department" else (site if kind == "site" else "")
        shown = row_numbers(page, kind, key)
        if shown is None:
            assert all(cell == "" for cell in line[4:]), line
        else:
            levers = [int(x) for x in line[6 : 6 + len(QUESTIONNAIRE.levers)]]
            assert [int(line[4]), *levers] == shown
    assert len(body) == 1 + 2 + len(DEPARTMENTS)
    events = [e for e in store.list_audit_events(limit=200).items if e.action == "results.export"]
    assert events and events[0].actor == "hr@example.com"


def test_the_csv_keeps_names_from_running_as_formulas(admin: FlaskClient, store: Store) -> None:
    departments = {"EVIL": ("=HYPERLINK(1)", "Aarhus", 10), "OK": ("Fine", "Aarhus", 10)}
    make_organisation(store, {"EVIL": (6, 5), "OK": (6, 5)}, departments=departments)
    text = admin.get(f"/admin/surveys/{SLUG}/waves/baseline/results.csv").get_data(as_text=True)
    assert "'=HYPERLINK(1)" in text


def test_responses_given_through_the_real_form_are_counted(
    admin: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    respondent = admin.application.test_client()
    # Both departments answer: an empty neighbour would hide the other by subtraction.
    for code in ("WH", "SALES"):
        for _ in range(5):
            token = open_wave_with_links.token(code)
            key = start(respondent, token)
            answered = respondent.post(
                f"/s/{token}/q",
                data={"key": key, "aud": "employee", "lang": "en", **full_answers()},
            )
            assert answered.status_code in (200, 302, 303)
    page = overview(admin)
    warehouse = row_numbers(page, "department", "WH")
    stored = open_wave_with_links.store.list_responses(SLUG, "baseline", limit=100).items
    expected = scoring.score_levers(QUESTIONNAIRE, [r for r in stored if r.department_code == "WH"])
    assert warehouse is not None and warehouse[0] == 5
    assert warehouse[1:] == [math.floor(expected[lv.id].index or 0) for lv in QUESTIONNAIRE.levers]


# -- department viewers with filters -------------------------------------------------


@pytest.fixture
def two_department_viewer(
    client: FlaskClient, make_account: MakeAccount, standard: list[Response]
) -> FlaskClient:
    """Return a client signed in as the viewer of Sales and Warehouse (two sites)."""
    make_account("dv@example.com", Role.DEPARTMENT_VIEWER,
                 departments=(f"{SLUG}/SALES", f"{SLUG}/WH"))  # fmt: skip
    sign_in(client, "dv@example.com")
    return client


def test_a_department_viewers_site_filter_lists_only_their_departments_there(
    two_department_viewer: FlaskClient,
) -> None:
    page = overview(two_department_viewer, site="Aarhus")
    assert 'id="row-department-SALES"' in page
    assert "row-department-MKT" not in page and "row-site-" not in page
    assert "row-department-WH" not in page and "row-organisation" not in page
    # The site list offers only the sites of their own departments.
    assert re.findall(r'<option value="(Aarhus|Hamburg)"', page) == ["Aarhus", "Hamburg"]


def test_a_department_viewers_audience_filter_shows_the_same_cells_as_an_admins(
    two_department_viewer: FlaskClient, admin_client: FlaskClient
) -> None:
    mine = overview(two_department_viewer, audience="employee")
    theirs = overview(admin_client, audience="employee")
    assert row_numbers(mine, "department", "SALES") == row_numbers(theirs, "department", "SALES")
    assert row_numbers(mine, "department", "SALES") is not None
    # Warehouse's 2 managers hide its halves for everyone, the viewer included.
    assert row_numbers(mine, "department", "WH") is None
    assert row_numbers(theirs, "department", "WH") is None


def test_a_department_viewer_cannot_widen_their_scope_with_filters(
    two_department_viewer: FlaskClient,
) -> None:
    for query in ({"site": "Hamburg"}, {"site": "Hamburg", "audience": "manager"}, {}):
        page = overview(two_department_viewer, **query)
        assert "row-department-OPS" not in page and "row-department-MKT" not in page
        assert "row-site-" not in page and "row-organisation" not in page
    refused = overview(two_department_viewer, site="Atlantis")
    assert "Not enough responses for this selection" in refused and "row-" not in refused
    csv_text = two_department_viewer.get(
        f"/admin/surveys/{SLUG}/waves/baseline/results.csv", query_string={"site": "Hamburg"}
    ).get_data(as_text=True)
    assert "OPS" not in csv_text and "TINY" not in csv_text


@pytest.fixture
def admin_client(app: Flask, make_account: MakeAccount) -> FlaskClient:
    """Return a second client, signed in as an admin."""
    make_account("hr2@example.com", Role.ADMIN)
    other = app.test_client()
    sign_in(other, "hr2@example.com")
    return other


# -- trends with an audience filter ------------------------------------------------------


def test_an_audience_filtered_row_compares_that_audience_across_waves(
    admin: FlaskClient, store: Store
) -> None:
    before = make_organisation(store, STANDARD, wave_id="baseline", bias=-1)
    close_wave(store, SLUG, "baseline", today=date.today())
    after = make_organisation(store, STANDARD, wave_id="follow-up", create=False, seed=2, bias=1)
    from portal.services import readiness

    report = readiness.wave_results(store, SLUG, "follow-up", audience=Audience.MANAGER)
    baseline = readiness.wave_results(store, SLUG, "baseline", audience=Audience.MANAGER)
    row = report.department("SALES")
    assert row is not None and row.result is not None and row.result.changes is not None
    compared = 0
    for lever in QUESTIONNAIRE.levers:
        expected = scoring.compare_waves(
            QUESTIONNAIRE,
            [r for r in before if r.department_code == "SALES" and r.audience is Audience.MANAGER],
            [r for r in after if r.department_code == "SALES" and r.audience is Audience.MANAGER],
            lever.id,
        )
        change = row.result.changes[lever.id]
        # A lever the wave's decision hides for the group (too few scored it, or hidden to
        # protect another group's) is not compared.
        group = Group(department="SALES", audience=Audience.MANAGER)
        shown = [
            r.measures is not None and r.measures.lever_shown(lever.id, group)
            for r in (baseline, report)
        ]
        if not all(shown):
            assert change.outcome is scoring.Trend.NOT_ENOUGH_DATA and change.change is None
            continue
        assert change.outcome is expected.outcome
        assert change.change == pytest.approx(expected.change, abs=1e-9)
        compared += 1
    assert compared >= 4
    everyone = readiness.wave_results(store, SLUG, "follow-up").department("SALES")
    assert everyone is not None and everyone.result is not None and everyone.result.changes
    assert everyone.result.changes["purpose"].change != row.result.changes["purpose"].change


def test_no_audience_trend_for_a_group_hidden_in_the_previous_wave(
    admin: FlaskClient, store: Store
) -> None:
    # In the baseline, Warehouse had 2 managers: its halves were hidden there.
    make_organisation(store, STANDARD, wave_id="baseline")
    close_wave(store, SLUG, "baseline", today=date.today())
    later = {**STANDARD, "WH": (12, 6)}
    make_organisation(store, later, wave_id="follow-up", create=False, seed=2)
    from portal.services import readiness

    report = readiness.wave_results(store, SLUG, "follow-up", audience=Audience.EMPLOYEE)
    row = report.department("WH")
    assert row is not None and row.result is not None
    assert row.result.changes is None
    sales = report.department("SALES")
    assert sales is not None and sales.result is not None and sales.result.changes is not None
