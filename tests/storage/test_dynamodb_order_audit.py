"""A white-box audit of the DynamoDB table: no item orders responses or pairs one with its code.

``tests/storage/test_storage_forensics.py`` checks, after code and link
submissions on in-process moto, that a used code's item holds no response key,
that no response holds a code hash and that no item holds a time of day. This
audit goes further, on a moto server reached over HTTP with every answer sent
through the web forms (links and single-use codes, interleaved), and scans the
whole table as someone with read access (or a restored backup) would:

- a submission writes its response item and, with a code, flips that code's
  ``used`` mark, and nothing else: no audit entry, counter, ballot or other item
  that grows or changes per submission (each would carry the arrival order);
- no attribute of the response items — nor their order in the partition as
  DynamoDB returns it, by sort key — follows the order the answers arrived in;
- the used codes' items, all alike, cannot be put in the order they were used,
  and share no value with any response beyond the department they both name;
- after the results are computed and published, no item names a response's
  key or a code's hash outside that response's or code's own item.
"""

from __future__ import annotations

import random
import re
import secrets
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from flask import Flask

from portal.app import create_app
from portal.domain.entities import Audience
from portal.instruments import get_questionnaire
from portal.services import respond
from portal.services.surveys import add_wave, create_survey, open_wave
from portal.storage.dynamodb import DynamoStore
from portal.web.respond.forms import NOT_APPLICABLE
from tests.web.conftest import form_key, start

SLUG = "crm-rollout"
CSV = "code,name,site,headcount\nSALES,Sales,Aarhus,40\nWH,Warehouse,Hamburg,40\n"
ITEMS = get_questionnaire("change-readiness").items_for(Audience.EMPLOYEE)
RUN = 24  # submissions, alternately through a link and a code
Item = dict[str, Any]


def app_on(store: DynamoStore) -> Flask:
    """Return the portal on ``store``, with a survey whose baseline wave is open."""
    create_survey(store, slug=SLUG, title="CRM", system_name={"en": "the new CRM"},
                  today=date.today(), departments_csv=CSV)  # fmt: skip
    add_wave(store, SLUG, wave_id="baseline", name="Baseline", today=date.today())
    open_wave(store, SLUG, "baseline", today=date.today())
    return create_app({"env": "testing", "secret_key": "test-" + "x" * 40}, store=store)


def answers(rng: random.Random, marker: str) -> dict[str, str]:
    """Random answers (some "don't know") and a comment naming the submission."""
    chosen = {i.id: rng.choice(["1", "2", "3", "4", "5", NOT_APPLICABLE]) for i in ITEMS}
    return {**chosen, "comment": f"submission {marker}"}


def by_link(app: Flask, token: str, data: dict[str, str]) -> None:
    client = app.test_client()
    key = start(client, token)
    sent = {"key": key, "lang": "en", "aud": "employee", **data}
    assert client.post(f"/s/{token}/q", data=sent).status_code == 303


def by_code(app: Flask, code: str, data: dict[str, str]) -> None:
    client = app.test_client()
    page = client.post("/code", data={"code": code, "aud": "employee"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    access = re.search(r'name="access" value="([^"]+)"', html)
    assert access is not None
    sent = {"key": form_key(html), "access": access.group(1), "lang": "en", "aud": "employee"}
    assert client.post("/code/answer", data=sent | data).status_code == 303


def scan(store: DynamoStore) -> dict[tuple[str, str], Item]:
    """Read every item of the table, as a backup or a reader with scan rights would."""
    items: dict[tuple[str, str], Item] = {}
    kwargs: dict[str, Any] = {"ConsistentRead": True}
    while True:
        page = store.table.scan(**kwargs)
        for item in page["Items"]:
            items[(str(item["pk"]), str(item["sk"]))] = item
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def kendall_tau(order: Sequence[Any]) -> float:
    """Return Kendall's tau between positions 0..n−1 and ``order``'s values (ties count 0)."""
    pairs = concordant = discordant = 0
    for i in range(len(order)):
        for j in range(i + 1, len(order)):
            pairs += 1
            if order[i] < order[j]:
                concordant += 1
            elif order[i] > order[j]:
                discordant += 1
    return (concordant - discordant) / pairs if pairs else 0.0


def flat(value: Any) -> Iterable[str]:
    """Return every scalar inside an attribute value, as text."""
    if isinstance(value, dict):
        for key, inner in sorted(value.items()):
            yield str(key)
            yield from flat(inner)
    elif isinstance(value, list | set | tuple):
        for inner in value:
            yield from flat(inner)
    else:
        yield str(value)


def submit_run(store: DynamoStore, app: Flask) -> tuple[list[str], list[str]]:
    """Answer RUN times, alternately by link (Sales) and by code (Warehouse).

    Returns the markers in the order they arrived and the codes in the order they were used.
    """
    [link] = [
        x for x in respond.make_links(store, SLUG, "baseline") if x.department_code == "SALES"
    ]
    codes = respond.make_codes(store, SLUG, "baseline", "WH", RUN)
    rng = random.Random(5)
    arrived, used = [], []
    for n in range(RUN):
        marker = secrets.token_hex(6)
        if n % 2:
            code = codes[n]
            by_code(app, code, answers(rng, marker))
            used.append(code)
        else:
            by_link(app, link.token, answers(rng, marker))
        arrived.append(marker)
    return arrived, used


def test_a_submission_writes_its_response_and_its_codes_mark_and_nothing_else(
    dynamo_server_store: DynamoStore,
) -> None:
    store = dynamo_server_store
    app = app_on(store)
    [link] = [
        x for x in respond.make_links(store, SLUG, "baseline") if x.department_code == "SALES"
    ]
    codes = respond.make_codes(store, SLUG, "baseline", "WH", 4)
    by_link(app, link.token, answers(random.Random(1), "warm-up"))  # caches, lazily made items
    rng = random.Random(2)
    for code in codes:
        before = scan(store)
        by_code(app, code, answers(rng, secrets.token_hex(6)))
        by_link(app, link.token, answers(rng, secrets.token_hex(6)))
        after = scan(store)
        added = sorted(key for key in after.keys() - before.keys())
        changed = sorted(key for key in after.keys() & before.keys() if after[key] != before[key])
        removed = sorted(before.keys() - after.keys())
        assert [pk for pk, _ in added] == [f"RESP#{SLUG}#baseline"] * 2, added
        assert changed == [(f"CODE#{respond.hash_code(code)}", "CODE")], changed
        assert removed == []
        [(old, new)] = [(before[key], after[key]) for key in changed]
        assert {name for name in new if new.get(name) != old.get(name)} == {"used"}


def test_no_attribute_or_sort_order_of_the_table_follows_the_order_answers_arrived_in(
    dynamo_server_store: DynamoStore,
) -> None:
    store = dynamo_server_store
    app = app_on(store)
    arrived, used = submit_run(store, app)
    table = scan(store)
    responses = {
        next(m for m in arrived if m in str(item.get("comment"))): item
        for item in table.values()
        if str(item["pk"]).startswith("RESP#")
    }
    assert len(responses) == RUN
    in_order = [responses[m] for m in arrived]
    # Every attribute that differs between responses, compared as DynamoDB would sort it.
    for name in sorted({name for item in in_order for name in item}):
        values = [str(item.get(name, "")) for item in in_order]
        if len(set(values)) > 1:
            tau = kendall_tau(values)
            assert abs(tau) < 0.6, f"response attribute {name!r} follows arrival (tau {tau:.2f})"
    # The partition as a query returns it (by sort key) is in no arrival order either.
    returned = store.table.query(
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": f"RESP#{SLUG}#baseline"},
        ConsistentRead=True,
    )["Items"]
    positions = [
        arrived.index(next(m for m in arrived if m in str(i["comment"]))) for i in returned
    ]
    assert abs(kendall_tau(positions)) < 0.6, positions
    # Used codes: alike but for their hash, so they cannot be put in the order of use.
    marks = [table[(f"CODE#{respond.hash_code(c)}", "CODE")] for c in used]
    shapes = {tuple(sorted((k, str(v)) for k, v in m.items() if k not in ("pk", "code_hash")))
              for m in marks}  # fmt: skip
    assert len(shapes) == 1, shapes
    hashes = [str(m["code_hash"]) for m in marks]
    assert abs(kendall_tau(hashes)) < 0.6


def test_no_item_pairs_a_response_with_a_code_even_after_results_are_published(
    dynamo_server_store: DynamoStore,
) -> None:
    store = dynamo_server_store
    app = app_on(store)
    _, used = submit_run(store, app)
    from portal.services.results import current_snapshot

    current_snapshot(store, SLUG, "baseline")  # the published aggregates, as a view makes them
    table = scan(store)
    responses = [i for i in table.values() if str(i["pk"]).startswith("RESP#")]
    keys = {str(i["sk"]) for i in responses}
    hashes = {respond.hash_code(c) for c in used}
    shared = {SLUG, "baseline", "WH", "SALES", "True", "true", "CODE", "employee", "en"}
    for (pk, sk), item in table.items():
        text = " ".join(flat(item))
        own_key = pk.startswith("RESP#")
        own_hash = pk.startswith("CODE#")
        if not own_key:
            assert not any(key in text for key in keys), f"{pk} {sk} names a response's key"
        if not own_hash:
            assert not any(h in text for h in hashes), f"{pk} {sk} names a used code's hash"
        if own_hash and str(item.get("used")).lower() == "true":
            values = {str(v) for v in item.values()} - shared - {pk, str(item["code_hash"])}
            assert not values, f"a used code's item holds {values}"
    for item in responses:
        code_values = {str(v) for i in table.values() if str(i["pk"]).startswith("CODE#")
                       for v in i.values()}  # fmt: skip
        assert not (set(flat(item)) & code_values) - shared, item["sk"]
