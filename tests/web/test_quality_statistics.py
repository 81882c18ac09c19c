"""The quality and department pages against independent references, and blind to hidden groups.

References, on generated organisations read through the real pages: pingouin's
``cronbach_alpha`` (listwise, with its Feldt interval rounded to 3 decimals)
per lever and leadership level; numpy's sample variances of the raw answers
for rwg(j) (James, Demaree & Wolf 1984); pingouin's one-way ``anova`` of each
respondent's lever index by department for ICC(1) and ICC(2) (Bliese 2000).
The page prints two decimals, cut (α, rwg, ICC) or rounded outward (an
interval's ends), so each shown figure must lie within 0.01 of the reference
on the right side of it.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pingouin
import pytest
from flask.testing import FlaskClient

from portal.app import create_app
from portal.domain.accounts import Role
from portal.domain.entities import Audience, Response
from portal.domain.scoring import score_item
from portal.services.accounts import create_user
from portal.storage.port import Store
from portal.storage.sqlite import SqliteStore
from tests.builders import make_response
from tests.web.conftest import PASSWORD, sign_in
from tests.web.test_results import DEPARTMENTS, QUESTIONNAIRE, SLUG, make_organisation

# pingouin 0.7 calls a pandas method that pandas 3.1 deprecates; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword")

BASE = f"/admin/surveys/{SLUG}/waves/baseline/results"
EPS = 1e-9
#: Departments of the standard organisation whose results are shown (TINY, NONE, FEW are hidden).
SHOWN = ("SALES", "MKT", "WH", "OPS")
#: (employees, managers) per department: every group and statement large enough to show
#: (the survey lists only these four, so no empty department hides one of them).
LARGE = {"SALES": (14, 9), "MKT": (12, 8), "WH": (16, 8), "OPS": (10, 8)}
FOUR = {code: DEPARTMENTS[code] for code in LARGE}
#: Like the standard organisation: TINY (3) and FEW (4) hidden together, NONE empty.
WITH_HIDDEN = {
    "SALES": (9, 6),
    "MKT": (8, 5),
    "WH": (12, 2),
    "OPS": (10, 5),
    "TINY": (3, 0),
    "NONE": (0, 0),
    "FEW": (4, 0),
}
CELL = re.compile(r"<td[^>]*>(.*?)</td>", re.S)
TAG = re.compile(r"<[^>]+>")


def text_of(cell: str) -> str:
    return " ".join(TAG.sub("", cell).split())


def number(cell: str) -> float | None:
    """Return the first number a cell shows, ``None`` for a dash."""
    found = re.match(r"-?\d+\.\d\d", text_of(cell))
    return None if found is None else float(found.group())


def row_cells(page: str, row_id: str) -> list[str]:
    found = re.search(rf'<tr id="{re.escape(row_id)}">(.*?)</tr>', page, re.S)
    assert found is not None, row_id
    return CELL.findall(found.group(1))


def cut_matches(shown: float | None, reference: float) -> bool:
    """Tell whether ``shown`` is ``reference`` cut to two decimals (toward zero)."""
    if shown is None:
        return False
    gap = abs(reference) - abs(shown)
    return -EPS <= gap < 0.01 + EPS and (shown == 0 or (shown > 0) == (reference > 0))


def answers_of(
    rng: random.Random, audience: Audience, level: float, spread: float, dont_know: float
) -> dict[str, int | None]:
    """Answer around ``level`` (a scored value 1–5), raw answers reversed where the item is."""
    answers: dict[str, int | None] = {}
    for item in QUESTIONNAIRE.items_for(audience):
        if rng.random() < dont_know:
            answers[item.id] = None
            continue
        scored = min(5, max(1, round(level + rng.gauss(0, spread))))
        answers[item.id] = 6 - scored if item.reverse else scored
    return answers


def store_organisation(
    store: Store,
    cells: dict[str, tuple[int, int]],
    *,
    seed: int,
    dont_know: float = 0.05,
    split: Iterable[str] = (),
) -> list[Response]:
    """Create the survey with ``cells`` answering; a ``split`` department answers in two camps.

    Each person has a level per lever; departments differ in their mean level,
    so ICCs are not all near 0, and a split department's people sit near 1.5
    or near 4.5.
    """
    listed = FOUR if set(cells) == set(FOUR) else DEPARTMENTS
    make_organisation(store, {}, seed=seed, departments=listed)
    rng = random.Random(seed)
    camps = set(split)
    responses = []
    for d, (code, (employees, managers)) in enumerate(cells.items()):
        for audience, count in ((Audience.EMPLOYEE, employees), (Audience.MANAGER, managers)):
            for person in range(count):
                if code in camps:
                    level = 1.5 if person % 2 else 4.5
                else:
                    level = 2.2 + 0.4 * d + rng.gauss(0, 0.6)
                response = make_response(
                    survey_slug=SLUG,
                    wave_id="baseline",
                    department_code=code,
                    audience=audience,
                    day=date.today(),
                    answers=answers_of(rng, audience, level, 0.7, dont_know),
                )
                store.add_response(response)
                responses.append(response)
    return responses


def scored(response: Response, item_ids: list[str]) -> list[float]:
    """Return the scored answers to ``item_ids``, NaN for a don't-know or a gap."""
    values = []
    for item_id in item_ids:
        item = next(i for i in QUESTIONNAIRE.items if i.id == item_id)
        answer = response.answers.get(item_id)
        value = None if answer is None else score_item(item, answer)
        values.append(np.nan if value is None else float(value))
    return values


def lever_items(lever_id: str, audience: Audience) -> list[str]:
    return [i.id for i in QUESTIONNAIRE.items if i.lever == lever_id and i.applies_to(audience)]


def reference_rwg(responses: list[Response], lever_id: str) -> float:
    """Return rwg(j) from the raw answers: mean of the items' sample variances against 2."""
    variances = []
    for item in (i for i in QUESTIONNAIRE.items if i.lever == lever_id):
        answers = [r.answers.get(item.id) for r in responses if item.applies_to(r.audience)]
        on_scale = np.array([a for a in answers if a is not None], dtype=float)
        variances.append(np.var(on_scale, ddof=1))
    ratio = float(np.mean(variances)) / 2.0
    j = len(variances)
    return 0.0 if ratio >= 1 else j * (1 - ratio) / (j * (1 - ratio) + ratio)


def lever_index(response: Response, lever_id: str) -> float | None:
    """Return a respondent's index on a lever: (mean scored answer − 1) · 25.

    Only from half of the lever's statements the respondent was asked on.
    """
    asked = lever_items(lever_id, response.audience)
    values = [v for v in scored(response, asked) if v == v]
    return None if 2 * len(values) < len(asked) or not values else (float(np.mean(values)) - 1) * 25


# -- Cronbach's α per audience -------------------------------------------------------


def test_alpha_per_leadership_level_and_its_interval_match_pingouin(
    admin: FlaskClient, store: Store
) -> None:
    responses = store_organisation(store, LARGE, seed=11)
    page = admin.get(f"{BASE}/quality").get_data(as_text=True)
    checked = 0
    for lever in QUESTIONNAIRE.levers:
        for audience, name in ((Audience.EMPLOYEE, "employees"), (Audience.MANAGER, "managers")):
            items = lever_items(lever.id, audience)
            frame = pd.DataFrame(
                [scored(r, items) for r in responses if r.audience is audience], columns=items
            )
            # Complete cases dropped first: pingouin's interval uses the n it was given.
            alpha, (low, high) = pingouin.cronbach_alpha(frame.dropna())
            _, k, n, shown, interval, _ = row_cells(page, f"level-alpha-{lever.id}-{name}")
            assert int(text_of(k)) == len(items)
            assert int(text_of(n)) == len(frame.dropna())
            assert cut_matches(number(shown), alpha), (lever.id, name, text_of(shown), alpha)
            ends = [float(x) for x in re.findall(r"-?\d+\.\d\d", text_of(interval))]
            # Shown rounded outward to 2 decimals; pingouin rounds to 3.
            assert low - 0.0005 - 0.01 - EPS <= ends[0] <= low + 0.0005 + EPS, (
                text_of(interval),
                low,
            )
            assert high - 0.0005 - EPS <= ends[1] <= high + 0.0005 + 0.01 + EPS, (
                text_of(interval),
                high,
            )
            checked += 1
    assert checked == 2 * len(QUESTIONNAIRE.levers)


def test_the_managers_lever_gets_an_alpha_per_leadership_level_though_not_for_everyone(
    admin: FlaskClient, store: Store
) -> None:
    store_organisation(store, LARGE, seed=12)
    page = admin.get(f"{BASE}/quality").get_data(as_text=True)
    assert "one statement" in text_of(row_cells(page, "alpha-managers")[4])
    for name, statements in (("employees", 4), ("managers", 5)):
        _, k, _, shown, interval, _ = row_cells(page, f"level-alpha-managers-{name}")
        assert int(text_of(k)) == statements
        assert number(shown) is not None and " to " in text_of(interval)


def test_an_audience_too_small_to_show_gets_no_alpha_nor_n(
    admin: FlaskClient, store: Store
) -> None:
    # 3 managers in all are fewer than the minimum of 5: the organisation's managers (and so,
    # as a pair, its employees) are hidden, while the organisation of 18 is shown.
    store_organisation(store, {"SALES": (8, 0), "MKT": (7, 3)}, seed=13)
    page = admin.get(f"{BASE}/quality").get_data(as_text=True)
    assert number(row_cells(page, "alpha-purpose")[2]) is not None
    for lever in QUESTIONNAIRE.levers:
        for name in ("employees", "managers"):
            _, _, n, shown, interval, _ = row_cells(page, f"level-alpha-{lever.id}-{name}")
            assert number(shown) is None and text_of(interval) == "–"
            assert not re.search(r"\d", text_of(n))


# -- rwg(j) ------------------------------------------------------------------------------


def test_rwg_per_department_and_lever_matches_the_raw_answers_on_both_pages(
    admin: FlaskClient, store: Store
) -> None:
    responses = store_organisation(store, LARGE, seed=21, split=["MKT"])
    quality = admin.get(f"{BASE}/quality").get_data(as_text=True)
    for code in LARGE:
        department = admin.get(f"{BASE}/departments/{code}").get_data(as_text=True)
        members = [r for r in responses if r.department_code == code]
        on_quality = row_cells(quality, f"rwg-{code}")
        for position, lever in enumerate(QUESTIONNAIRE.levers):
            expected = reference_rwg(members, lever.id)
            items, shown, reading = row_cells(department, f"agreement-{lever.id}")
            assert int(text_of(items)) == sum(1 for i in QUESTIONNAIRE.items if i.lever == lever.id)
            assert cut_matches(number(shown), expected), (code, lever.id, text_of(shown), expected)
            assert number(on_quality[position]) == number(shown)
            split = expected < 0.70
            assert ("split views" in text_of(reading)) is split
            assert ("split views" in text_of(on_quality[position])) is split
    # The department answering in two camps is flagged on every lever, and named for HR.
    assert all(number(c) == 0 for c in row_cells(quality, "rwg-MKT"))
    listed = re.search(r'<ul id="split-teams">(.*?)</ul>', quality, re.S)
    assert listed is not None and "Marketing" in listed.group(1)


def test_rwg_leaves_out_statements_whose_shares_are_hidden(
    admin: FlaskClient, store: Store
) -> None:
    # WH's 2 managers are too few, so its employees and managers are hidden as a pair: its
    # page shows only the statements asked of both, and the managers lever's agreement
    # rests on its one shared statement (rwg = 1 − s² / 2).
    responses = store_organisation(store, WITH_HIDDEN, seed=22, dont_know=0)
    page = admin.get(f"{BASE}/departments/WH").get_data(as_text=True)
    items, shown, _ = row_cells(page, "agreement-managers")
    shared = [i.id for i in QUESTIONNAIRE.items if i.lever == "managers" and i.audience == "both"]
    assert int(text_of(items)) == len(shared) == 1
    answers = [r.answers[shared[0]] for r in responses if r.department_code == "WH"]
    expected = max(0.0, 1 - float(np.var(np.array(answers, dtype=float), ddof=1)) / 2)
    assert cut_matches(number(shown), expected), (text_of(shown), expected)


def test_a_hidden_department_has_no_agreement_anywhere(admin: FlaskClient, store: Store) -> None:
    store_organisation(store, WITH_HIDDEN, seed=23)
    quality = admin.get(f"{BASE}/quality").get_data(as_text=True)
    assert set(re.findall(r'<tr id="rwg-(\w+)">', quality)) == set(SHOWN)
    page = admin.get(f"{BASE}/departments/FEW").get_data(as_text=True)
    assert 'id="agreement-' not in page


# -- ICC(1) and ICC(2) ---------------------------------------------------------------


def test_iccs_match_a_one_way_anova_over_the_shown_departments_only(
    admin: FlaskClient, store: Store
) -> None:
    responses = store_organisation(store, WITH_HIDDEN, seed=31)
    page = admin.get(f"{BASE}/quality").get_data(as_text=True)
    for lever in QUESTIONNAIRE.levers:
        rows = [
            (r.department_code, index)
            for r in responses
            if r.department_code in SHOWN and (index := lever_index(r, lever.id)) is not None
        ]
        frame = pd.DataFrame(rows, columns=["department", "index"])
        table = pingouin.anova(frame, dv="index", between="department", detailed=True)
        msb, msw = float(table["MS"][0]), float(table["MS"][1])
        sizes = frame.groupby("department").size().to_numpy()
        total, groups = int(sizes.sum()), len(sizes)
        n0 = (total - float((sizes**2).sum()) / total) / (groups - 1)
        icc1 = (msb - msw) / (msb + (n0 - 1) * msw)
        icc2 = (msb - msw) / msb
        g, n, shown1, shown2, _ = row_cells(page, f"icc-{lever.id}")
        assert (int(text_of(g)), int(text_of(n))) == (len(SHOWN), total)
        assert cut_matches(number(shown1), icc1), (lever.id, text_of(shown1), icc1)
        assert cut_matches(number(shown2), icc2), (lever.id, text_of(shown2), icc2)


# -- hidden departments feed nothing -----------------------------------------------------


def quality_page(
    tmp_path: Path, name: str, deal: Callable[[list[Response]], list[Response]]
) -> bytes:
    """Serve the organisation with hidden departments, its hidden answers dealt by ``deal``."""
    store = SqliteStore(tmp_path / f"{name}.sqlite3")
    store.create_schema()
    scratch = SqliteStore(tmp_path / f"{name}-scratch.sqlite3")
    scratch.create_schema()
    # Generated once (same seed), then the hidden departments' answers re-dealt.
    responses = store_organisation(scratch, WITH_HIDDEN, seed=41, dont_know=0)
    make_organisation(store, {}, seed=41)
    for response in deal(responses):
        store.add_response(response)
    create_user(store, email="hr@example.com", role=Role.ADMIN, password=PASSWORD, actor="t",
                must_change_password=False)  # fmt: skip
    app = create_app({"env": "testing", "secret_key": "test-" + "x" * 40}, store=store)
    client = app.test_client()
    sign_in(client, "hr@example.com")
    page = client.get(f"{BASE}/quality")
    assert page.status_code == 200
    return page.data


def swap_hidden(responses: list[Response]) -> list[Response]:
    """Give TINY's three employees' answers to three of FEW's and theirs to TINY.

    Both departments are hidden; every cell keeps its count (and, without
    don't-knows, every lever's and statement's count), so the organisation's
    sums and every decision stay the same while each hidden department's
    own answers change.
    """
    tiny = [r for r in responses if r.department_code == "TINY"]
    few = [r for r in responses if r.department_code == "FEW"]
    assert len(tiny) == 3 and len(few) == 4
    swapped = {id(a): b.answers for a, b in zip(tiny, few[:3], strict=True)}
    swapped |= {id(b): a.answers for a, b in zip(tiny, few[:3], strict=True)}
    return [
        make_response(
            survey_slug=r.survey_slug,
            wave_id=r.wave_id,
            department_code=r.department_code,
            audience=r.audience,
            day=r.day,
            answers=swapped.get(id(r), r.answers),
        )  # fmt: skip
        for r in responses
    ]


def test_hidden_departments_answers_change_nothing_on_the_quality_page(tmp_path: Path) -> None:
    before = quality_page(tmp_path, "before", lambda responses: responses)
    after = quality_page(tmp_path, "after", swap_hidden)
    assert b'id="icc-purpose"' in before and b'id="rwg-SALES"' in before
    # Each session's sign-out form carries its own CSRF token; nothing else may differ.
    token = re.compile(rb'name="csrf_token" value="[^"]*"')
    assert token.sub(b"", after) == token.sub(b"", before)


def test_an_audience_whose_lever_is_withheld_gets_no_alpha_though_the_organisation_does(
    admin: FlaskClient, store: Store
) -> None:
    # 6 managers answer, but 3 of them know nothing about governance: its managers' sums hold
    # 3 people, so the lever's decision hides it for the managers (and, as a pair, for the
    # employees), while everyone's governance α rests on 20 complete answers.
    make_organisation(store, {}, departments=FOUR)
    rng = random.Random(51)
    for n in range(20):
        audience = Audience.MANAGER if n < 6 else Audience.EMPLOYEE
        answers = answers_of(rng, audience, 3 + rng.gauss(0, 1), 0.6, 0)
        if n < 3:
            answers |= {i.id: None for i in QUESTIONNAIRE.items if i.lever == "governance"}
        response = make_response(survey_slug=SLUG, wave_id="baseline", audience=audience,
                                 department_code="SALES" if n % 2 else "MKT",
                                 day=date.today(), answers=answers)  # fmt: skip
        store.add_response(response)
    page = admin.get(f"{BASE}/quality").get_data(as_text=True)
    assert int(text_of(row_cells(page, "alpha-governance")[1])) == 17
    assert number(row_cells(page, "alpha-governance")[2]) is not None
    for name in ("employees", "managers"):
        _, _, n, shown, interval, reading = row_cells(page, f"level-alpha-governance-{name}")
        assert not re.search(r"\d", text_of(n) + text_of(shown) + text_of(interval))
        assert text_of(reading) == "too few answered the lever"
    # Another lever, answered by all 6 managers, keeps both levels' α.
    assert number(row_cells(page, "level-alpha-purpose-managers")[3]) is not None


# -- statement by statement ------------------------------------------------------------


def test_item_rest_and_alpha_without_each_statement_match_numpy_and_pingouin(
    admin: FlaskClient, store: Store
) -> None:
    responses = store_organisation(store, LARGE, seed=31, dont_know=0.03)
    page = admin.get(f"{BASE}/quality").get_data(as_text=True)
    checked = 0
    for lever in QUESTIONNAIRE.levers:
        for audience, name in ((Audience.EMPLOYEE, "employees"), (Audience.MANAGER, "managers")):
            items = lever_items(lever.id, audience)
            if len(items) < 3:
                continue
            frame = pd.DataFrame(
                [scored(r, items) for r in responses if r.audience is audience], columns=items
            ).dropna()
            data = frame.to_numpy()
            alpha, _ = pingouin.cronbach_alpha(frame)
            for i, item_id in enumerate(items):
                cells = row_cells(page, f"item-fit-{name}-{item_id}")
                rest = data.sum(axis=1) - data[:, i]
                expected_r = float(np.corrcoef(data[:, i], rest)[0, 1])
                without, _ = pingouin.cronbach_alpha(frame.drop(columns=item_id))
                assert cut_matches(number(cells[2]), expected_r), (item_id, name)
                assert cut_matches(number(cells[3]), without), (item_id, name)
                poor = expected_r < 0.30 or without > alpha
                assert (text_of(cells[4]) == "fits") is not poor, (item_id, text_of(cells[4]))
                checked += 1
    assert checked >= 20


def test_a_statement_answered_at_random_is_flagged_on_its_lever(
    admin: FlaskClient, store: Store
) -> None:
    store_organisation(store, LARGE, seed=32)
    # Everyone answers purpose-why at random from here on: 60 more people.
    rng = random.Random(32)
    for code in LARGE:
        for _ in range(15):
            answers = answers_of(rng, Audience.EMPLOYEE, 2.2 + rng.random() * 2, 0.7, 0.0)
            answers["purpose-why"] = rng.randint(1, 5)
            store.add_response(
                make_response(
                    survey_slug=SLUG,
                    wave_id="baseline",
                    department_code=code,
                    audience=Audience.EMPLOYEE,
                    day=date.today(),
                    answers=answers,
                )
            )
    page = admin.get(f"{BASE}/quality").get_data(as_text=True)
    reading = text_of(row_cells(page, "item-fit-employees-purpose-why")[4])
    assert reading in ("fits poorly", "α higher without it")


def test_a_count_of_complete_answers_under_the_minimum_reads_fewer_than_it(
    admin: FlaskClient, store: Store
) -> None:
    # Half the answers are "don't know": levers keep enough scores to show, but few people
    # answered every statement of a four-statement lever.
    store_organisation(store, LARGE, seed=41, dont_know=0.5)
    page = admin.get(f"{BASE}/quality").get_data(as_text=True)
    counts = []
    for lever in QUESTIONNAIRE.levers:
        for row_id in (f"alpha-{lever.id}", f"level-alpha-{lever.id}-employees"):
            cells = row_cells(page, row_id)
            counts.append(text_of(cells[-4]))  # the "Complete answers (n)" column
    assert "fewer than 5" in counts
    assert all(not c.isdigit() or int(c) >= 5 for c in counts), counts
