"""The respondent's journey in a real browser with DynamoDB (a moto server over HTTP) behind it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date

import boto3
import pytest
from playwright.sync_api import Browser

from portal.app import create_app
from portal.domain.entities import Audience
from portal.instruments import get_questionnaire
from portal.services.demo import DEMO_SLUG, load_demo
from portal.services.respond import make_codes
from portal.storage.dynamodb import DynamoStore
from tests.live_server import serve
from tests.moto_server import moto_server

pytestmark = pytest.mark.e2e
ITEMS = [i.id for i in get_questionnaire("change-readiness").items_for(Audience.MANAGER)]


@pytest.fixture(scope="module")
def dynamo_portal() -> Iterator[tuple[str, DynamoStore]]:
    """Serve the demo on DynamoDB in a moto server; yield the portal's address and store."""
    with moto_server() as endpoint:
        resource = boto3.resource("dynamodb", region_name="eu-west-1", endpoint_url=endpoint)
        store = DynamoStore(resource.Table(f"e2e-{uuid.uuid4().hex[:8]}"), allow_create=True)
        store.create_schema()
        load_demo(store, today=date.today())
        app = create_app({"env": "testing", "secret_key": "dyn-" + "k" * 40}, store=store)
        with serve(app) as url:
            yield url, store


def count(store: DynamoStore) -> int:
    """Count the open demo wave's responses."""
    total, cursor = 0, None
    while True:
        page = store.list_responses(DEMO_SLUG, "follow-up-1", cursor=cursor, limit=1000)
        total += len(page.items)
        if page.next_cursor is None:
            return total
        cursor = page.next_cursor


def test_a_manager_answers_through_a_link_and_a_double_click_stores_once(
    browser: Browser, dynamo_portal: tuple[str, DynamoStore]
) -> None:
    url, store = dynamo_portal
    before = count(store)
    token = next(x.token for x in store.list_links(DEMO_SLUG, "follow-up-1") if not x.kiosk)
    page = browser.new_page()
    page.goto(f"{url}/s/{token}?lang=da")
    page.check("input[name=aud][value=manager]")
    page.click("button[type=submit]")
    for item in ITEMS:
        page.check(f"input[name='{item}'][value='4']")
    page.fill("#comment", "Fra en leder")
    page.dblclick("button[type=submit]")
    page.wait_for_url("**/thanks*")
    assert "Mange tak!" in page.content()
    page.close()
    assert count(store) == before + 1


def test_a_code_answers_once_on_dynamodb(
    browser: Browser, dynamo_portal: tuple[str, DynamoStore]
) -> None:
    url, store = dynamo_portal
    [code] = make_codes(store, DEMO_SLUG, "follow-up-1", "HAM-KAM", 1)
    before = count(store)
    page = browser.new_page()
    page.goto(f"{url}/code")
    page.fill("#code", code)
    page.check("input[name=aud][value=manager]")
    page.click("button[type=submit]")
    for item in ITEMS:
        page.check(f"input[name='{item}'][value='2']")
    page.click("button[type=submit]")
    page.wait_for_url("**/code/thanks*")
    # A used code opens the questionnaire like an unused one; its new answers are dropped.
    page.goto(f"{url}/code")
    page.fill("#code", code)
    page.check("input[name=aud][value=manager]")
    page.click("button[type=submit]")
    for item in ITEMS:
        page.check(f"input[name='{item}'][value='5']")
    page.click("button[type=submit]")
    page.wait_for_url("**/code/thanks*")
    page.close()
    assert count(store) == before + 1
