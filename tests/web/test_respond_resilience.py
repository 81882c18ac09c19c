"""A storage hiccup never costs a respondent their answers; codes work once."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

import boto3
import pytest
from botocore.stub import Stubber
from flask.testing import FlaskClient
from moto import mock_aws

from portal.app import create_app
from portal.domain.entities import Audience
from portal.services.respond import make_codes
from portal.storage.dynamodb import DynamoStore
from tests.web.conftest import CSV, OpenWave, full_answers, start


@pytest.fixture
def dynamo_app() -> Iterator[tuple[FlaskClient, DynamoStore, str]]:
    """Run the portal on DynamoDB (moto) with an open wave; yield client, store, token."""
    from portal.services.respond import make_links
    from portal.services.surveys import add_wave, create_survey, open_wave

    with mock_aws():
        table = boto3.resource("dynamodb", region_name="eu-west-1").Table("portal-web")
        store = DynamoStore(table, allow_create=True)
        store.create_schema()
        create_survey(
            store, slug="crm-rollout", title="CRM", system_name={"en": "the new CRM"},
            today=date.today(), departments_csv=CSV,
        )  # fmt: skip
        add_wave(store, "crm-rollout", wave_id="baseline", name="Baseline", today=date.today())
        open_wave(store, "crm-rollout", "baseline", today=date.today())
        token = make_links(store, "crm-rollout", "baseline")[0].token
        app = create_app({"env": "testing", "secret_key": "d" * 40}, store=store)
        yield app.test_client(), store, token


def test_throttled_storage_keeps_every_answer_and_a_retry_stores_once(
    dynamo_app: tuple[FlaskClient, DynamoStore, str],
) -> None:
    client, store, token = dynamo_app
    key = start(client, token)  # warms the read cache: the post needs no read
    data = {"key": key, "lang": "en", "aud": "employee", **full_answers(value="2")}
    data["comment"] = "Please keep this"
    with Stubber(store.table.meta.client) as stub:
        stub.add_client_error("put_item", "ProvisionedThroughputExceededException")
        failed = client.post(f"/s/{token}/q", data=data)
    assert failed.status_code == 503
    page = failed.get_data(as_text=True)
    assert "Nothing is lost" in page
    assert 'name="purpose-why" value="2" checked' in page and ">Please keep this</textarea>" in page
    retry_key = re.search(r'name="key" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    assert retry_key == key  # the retry reuses the key, so it can never store twice
    assert client.post(f"/s/{token}/q", data=data).status_code == 303
    assert client.post(f"/s/{token}/q", data=data).status_code == 303
    assert len(store.list_responses("crm-rollout", "baseline").items) == 1


def test_a_single_use_code_answers_once_and_later_answers_are_thanked_and_dropped(
    client: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    store = open_wave_with_links.store
    [code] = make_codes(store, "crm-rollout", "baseline", "WH", 1)
    page = client.post("/code", data={"code": code.lower().replace("-", " "), "aud": "manager"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="managers-own-mandate"' in html and "Warehouse · Hamburg" in html
    key = re.search(r'name="key" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    access = re.search(r'name="access" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    data = {"key": key, "access": access, "lang": "en", "aud": "manager"}
    data |= full_answers(Audience.MANAGER)
    first = client.post("/code/answer", data=data)
    assert first.status_code == 303 and first.headers["Location"].startswith("/code/thanks")
    assert client.post("/code/answer", data=data).status_code == 303  # a retry is fine
    [stored] = store.list_responses("crm-rollout", "baseline").items
    assert stored.department_code == "WH"
    # A used code looks unused (see tests/web/test_code_page_oracle.py); its answers drop.
    reused = client.post("/code", data={"code": code, "aud": "manager"})
    assert reused.status_code == 200
    fresh = re.search(r'name="key" value="([^"]+)"', reused.get_data(as_text=True))
    again = data | {"key": fresh.group(1)}  # type: ignore[union-attr]
    assert client.post("/code/answer", data=again).status_code == 303
    assert len(store.list_responses("crm-rollout", "baseline").items) == 1


def test_an_unknown_code_is_asked_for_again(
    client: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    response = client.post("/code", data={"code": "ABCD-EFGH-JK"})
    assert response.status_code == 404
    assert "We do not recognise that code" in response.get_data(as_text=True)


def test_a_code_answer_with_a_forged_access_field_is_refused(
    client: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    response = client.post("/code/answer", data={"access": "nothex", "key": "x"})
    assert response.status_code == 400
