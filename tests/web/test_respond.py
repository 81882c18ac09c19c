"""A respondent's whole journey through a link: nothing lost, nothing stored twice."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.datastructures import MultiDict

from portal.domain.entities import Audience
from portal.services.surveys import close_wave
from tests.web.conftest import OpenWave, full_answers, start


def responses(wave: OpenWave) -> list:
    """Return every stored response of the baseline."""
    return wave.store.list_responses("crm-rollout", "baseline", limit=1000).items


def post(client: FlaskClient, token: str, key: str, **fields: str):  # type: ignore[no-untyped-def]
    """Send the questionnaire form."""
    data = {"key": key, "lang": "en", "aud": "employee", **fields}
    return client.post(f"/s/{token}/q", data=data)


# -- landing -------------------------------------------------------------------


def test_landing_page_explains_the_survey_and_the_anonymity_rules(
    client: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    page = client.get(f"/s/{open_wave_with_links.token()}").get_data(as_text=True)
    assert "How is the new CRM working for you?" in page
    assert "Sales · Aarhus" in page
    assert "About 4 minutes" in page
    assert "groups of at least 5 people" in page
    assert "groups of at least 10 people" in page
    assert 'name="aud" value="manager"' in page


def test_landing_page_speaks_the_browsers_language(
    client: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    response = client.get(
        f"/s/{open_wave_with_links.token()}", headers={"Accept-Language": "da-DK,da;q=0.9"}
    )
    page = response.get_data(as_text=True)
    assert '<html lang="da">' in page
    assert "det nye CRM" in page


def test_an_explicit_language_choice_wins_over_the_browser(
    client: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    response = client.get(
        f"/s/{open_wave_with_links.token()}?lang=en", headers={"Accept-Language": "da"}
    )
    assert '<html lang="en">' in response.get_data(as_text=True)


def test_a_link_that_fixes_the_audience_asks_no_role(
    client: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    link = replace(open_wave_with_links.links["SALES"], audience=Audience.MANAGER)
    open_wave_with_links.store.put_links([link])
    client.application.extensions["portal.reads"].forget()
    page = client.get(f"/s/{link.token}").get_data(as_text=True)
    assert 'name="aud"' not in page
    questionnaire = client.get(f"/s/{link.token}/q").get_data(as_text=True)
    assert 'name="managers-own-mandate"' in questionnaire


def test_starting_without_a_role_comes_back_asking_for_one(
    client: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    response = client.get(f"/s/{open_wave_with_links.token()}/q", follow_redirects=True)
    assert "Please choose one." in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("change", "status", "text"),
    [("unknown", 404, "Page not found"), ("closed", 410, "This survey has closed"),
     ("revoked", 410, "This link is no longer valid")],
)  # fmt: skip
def test_a_link_that_cannot_be_used_says_why(
    app: Flask, open_wave_with_links: OpenWave, change: str, status: int, text: str
) -> None:
    token = open_wave_with_links.token()
    if change == "unknown":
        token = "A" * 16
    elif change == "closed":
        close_wave(open_wave_with_links.store, "crm-rollout", "baseline", today=date.today())
    else:
        link = replace(open_wave_with_links.links["SALES"], revoked=True)
        open_wave_with_links.store.put_links([link])
    response = app.test_client().get(f"/s/{token}")
    assert response.status_code == status
    assert text in response.get_data(as_text=True)


def test_a_draft_wave_says_it_has_not_started(app: Flask, open_wave_with_links: OpenWave) -> None:
    from portal.services.respond import make_links
    from portal.services.surveys import add_wave

    store = open_wave_with_links.store
    add_wave(store, "crm-rollout", wave_id="later", name="Later", today=date.today())
    [link, _] = make_links(store, "crm-rollout", "later")
    response = app.test_client().get(f"/s/{link.token}")
    assert response.status_code == 403
    assert "This survey has not started yet" in response.get_data(as_text=True)


# -- answering -------------------------------------------------------------------


def test_a_complete_form_is_stored_once_and_thanked(
    client: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    token = open_wave_with_links.token()
    key = start(client, token)
    answers = full_answers() | {"purpose-why": "5", "skills-standard": "na"}
    response = post(client, token, key, comment="  More training, please.  ", **answers)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/s/{token}/thanks?lang=en")
    [stored] = responses(open_wave_with_links)
    assert stored.answers["purpose-why"] == 5 and stored.answers["skills-standard"] is None
    assert stored.comment == "More training, please."
    assert stored.department_code == "SALES" and stored.audience is Audience.EMPLOYEE
    assert stored.day == date.today()
    assert stored.key not in key.split(".")[1:]  # only the nonce, never the signed timestamp
    thanks = client.get(response.headers["Location"])
    assert "Your answers have been saved anonymously." in thanks.get_data(as_text=True)


def test_sending_the_same_form_twice_stores_one_response_and_thanks_both_times(
    client: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    token = open_wave_with_links.token()
    key = start(client, token)
    first = post(client, token, key, **full_answers())
    second = post(client, token, key, **full_answers(value="1"))
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    [stored] = responses(open_wave_with_links)
    assert set(stored.answers.values()) == {4}


def test_missing_answers_come_back_marked_with_the_rest_kept(
    client: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    token = open_wave_with_links.token()
    key = start(client, token)
    answers = full_answers()
    del answers["governance-requests"], answers["adoption-daily"]
    answers["purpose-why"] = "2"
    response = post(client, token, key, comment="Keep me", **answers)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "2 statements still need an answer" in page
    assert 'href="#governance-requests-first"' in page and 'href="#adoption-daily-first"' in page
    assert 'name="purpose-why" value="2" checked' in page
    assert ">Keep me</textarea>" in page
    assert 'aria-describedby="e-governance-requests"' in page
    assert responses(open_wave_with_links) == []


@pytest.mark.parametrize(
    "tamper",
    [{"purpose-why": "6"}, {"purpose-why": "yes"}, {"extra-field": "1"},
     {"managers-own-mandate": "3"}, {"aud": "ceo"}],
)  # fmt: skip
def test_tampered_forms_get_a_400_and_store_nothing(
    client: FlaskClient, open_wave_with_links: OpenWave, tamper: dict[str, str]
) -> None:
    token = open_wave_with_links.token()
    key = start(client, token)
    data = {"key": key, "lang": "en", "aud": "employee", **full_answers(), **tamper}
    response = client.post(f"/s/{token}/q", data=data)
    assert response.status_code == 400
    assert responses(open_wave_with_links) == []


def test_a_repeated_field_is_refused(client: FlaskClient, open_wave_with_links: OpenWave) -> None:
    token = open_wave_with_links.token()
    key = start(client, token)
    data = [("key", key), ("lang", "en"), ("aud", "employee"), *full_answers().items()]
    data.append(("purpose-why", "1"))
    response = client.post(f"/s/{token}/q", data=MultiDict(data))
    assert response.status_code == 400
    assert responses(open_wave_with_links) == []


def test_a_forged_key_is_refused(client: FlaskClient, open_wave_with_links: OpenWave) -> None:
    token = open_wave_with_links.token()
    response = post(client, token, "not-a-real-key", **full_answers())
    assert response.status_code == 400
    assert "We could not verify this form" in response.get_data(as_text=True)
    assert responses(open_wave_with_links) == []


def test_a_key_from_another_departments_link_is_refused(
    client: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    key = start(client, open_wave_with_links.token("WH"))
    response = post(client, open_wave_with_links.token("SALES"), key, **full_answers())
    assert response.status_code == 400
    assert responses(open_wave_with_links) == []


def test_an_expired_key_keeps_the_answers_and_asks_to_send_again(
    client: FlaskClient, open_wave_with_links: OpenWave, monkeypatch: pytest.MonkeyPatch
) -> None:
    import itsdangerous.timed

    token = open_wave_with_links.token()
    key = start(client, token)
    real_time = itsdangerous.timed.time.time
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real_time() + 3 * 24 * 3600)
    response = post(client, token, key, **full_answers(value="2"))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "please press “Send my answers” again" in page
    assert 'name="purpose-why" value="2" checked' in page
    assert responses(open_wave_with_links) == []


def test_an_oversized_form_is_a_413(client: FlaskClient, open_wave_with_links: OpenWave) -> None:
    token = open_wave_with_links.token()
    key = start(client, token)
    response = post(client, token, key, comment="x" * 100_000, **full_answers())
    assert response.status_code == 413
    assert responses(open_wave_with_links) == []


def test_a_too_long_comment_comes_back_with_everything_kept(
    client: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    token = open_wave_with_links.token()
    key = start(client, token)
    response = post(client, token, key, comment="y" * 2001, **full_answers(value="5"))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "longer than 2000 characters" in page and "y" * 2001 in page
    assert 'name="adoption-daily" value="5" checked' in page


def test_a_closed_wave_takes_no_more_answers(
    client: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    token = open_wave_with_links.token()
    key = start(client, token)
    close_wave(open_wave_with_links.store, "crm-rollout", "baseline", today=date.today())
    client.application.extensions["portal.reads"].forget()
    response = post(client, token, key, **full_answers())
    assert response.status_code == 410
    assert responses(open_wave_with_links) == []


# -- the "already answered" cookie -----------------------------------------------


def test_the_browser_is_told_only_that_it_completed_the_wave(
    client: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    token = open_wave_with_links.token()
    response = post(client, token, start(client, token), **full_answers())
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("done-crm-rollout-baseline=1;")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    again = client.get(f"/s/{token}").get_data(as_text=True)
    assert "You have already answered" in again


def test_a_kiosk_link_sets_no_cookie_and_starts_afresh(
    client: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    link = replace(open_wave_with_links.links["WH"], kiosk=True)
    open_wave_with_links.store.put_links([link])
    client.application.extensions["portal.reads"].forget()
    response = post(client, link.token, start(client, link.token), **full_answers())
    assert response.status_code == 303 and "Set-Cookie" not in response.headers
    thanks = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'http-equiv="refresh"' in thanks and "Start again for the next person" in thanks
    assert "You have already answered" not in client.get(f"/s/{link.token}").get_data(as_text=True)


# -- pages never cached, always compressed -----------------------------------------


def test_questionnaire_pages_are_not_cached_and_are_gzipped(
    client: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    token = open_wave_with_links.token()
    response = client.get(f"/s/{token}/q?aud=employee", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Encoding"] == "gzip"
    assert len(response.data) < 8000


@pytest.mark.parametrize("token", ["a" * 3000, "bad token!", "%00" * 10, "é" * 20])
def test_a_malformed_token_is_simply_not_found(client: FlaskClient, token: str) -> None:
    for path in ("", "/q", "/poster", "/qr.png"):
        assert client.get(f"/s/{token}{path}").status_code == 404
