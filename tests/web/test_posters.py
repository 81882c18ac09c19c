"""QR codes and posters point at exactly the right link, and decode with a real reader."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from portal.app import create_app
from portal.cli import main
from portal.services.respond import make_links
from portal.services.surveys import add_wave
from tests.qr_decode import decode_qr
from tests.web.conftest import OpenWave


def test_the_png_qr_code_decodes_to_the_link(
    client: FlaskClient, open_wave_with_links: OpenWave, tmp_path: Path
) -> None:
    token = open_wave_with_links.token()
    response = client.get(f"/s/{token}/qr.png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    image = tmp_path / "qr.png"
    image.write_bytes(response.data)
    assert decode_qr(image) == [f"http://localhost/s/{token}"]


def test_the_public_address_setting_goes_into_the_code(
    sqlite_store, open_wave_with_links: OpenWave, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    app = create_app(
        {"env": "testing", "secret_key": "q" * 40, "public_url": "https://survey.example.com/"},
        store=sqlite_store,
    )
    token = open_wave_with_links.token("WH")
    image = tmp_path / "qr.png"
    image.write_bytes(app.test_client().get(f"/s/{token}/qr.png?scale=4").data)
    assert decode_qr(image) == [f"https://survey.example.com/s/{token}"]


def test_the_svg_qr_code_is_a_scalable_download(
    client: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    token = open_wave_with_links.token()
    response = client.get(f"/s/{token}/qr.svg?download=1")
    assert response.mimetype == "image/svg+xml"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="survey-baseline-SALES.svg"'
    )
    svg = response.get_data(as_text=True)
    assert svg.startswith("<svg") and "viewBox" in svg and "<title>Sales</title>" in svg


def test_the_poster_names_department_system_languages_and_threshold(
    client: FlaskClient, open_wave_with_links: OpenWave
) -> None:
    token = open_wave_with_links.token("WH")
    page = client.get(f"/s/{token}/poster").get_data(as_text=True)
    assert "Warehouse · Hamburg" in page
    assert "How is the new CRM working for you?" in page
    assert f"localhost/s/{token}" in page
    assert "groups of at least 5 people" in page
    assert '<span lang="da">Dansk</span>' in page
    assert "<svg" in page


def test_posters_can_be_printed_before_the_wave_opens(
    app: Flask, open_wave_with_links: OpenWave
) -> None:
    store = open_wave_with_links.store
    add_wave(store, "crm-rollout", wave_id="next", name="Next", today=date.today())
    [link, _] = make_links(store, "crm-rollout", "next")
    client = app.test_client()
    assert client.get(f"/s/{link.token}").status_code == 403  # not answerable yet
    assert client.get(f"/s/{link.token}/poster").status_code == 200


def test_a_revoked_link_has_no_poster(client: FlaskClient, open_wave_with_links: OpenWave) -> None:
    link = replace(open_wave_with_links.links["SALES"], revoked=True)
    open_wave_with_links.store.put_links([link])
    client.application.extensions["portal.reads"].forget()
    assert client.get(f"/s/{link.token}/poster").status_code == 410
    assert client.get(f"/s/{link.token}/qr.png").status_code == 410


@pytest.mark.parametrize("path", ["qr.png", "qr.svg", "poster"])
def test_an_unknown_token_has_no_qr_code_or_poster(client: FlaskClient, path: str) -> None:
    assert client.get(f"/s/{'Q' * 16}/{path}").status_code == 404


def test_the_cli_writes_one_poster_per_department(
    open_wave_with_links: OpenWave, sqlite_store, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "posters.html"
    result = CliRunner().invoke(
        main,
        [
            "posters",
            "--survey",
            "crm-rollout",
            "--wave",
            "baseline",
            "--lang",
            "da",
            "--out",
            str(out),
        ],
        env={"PORTAL_DATABASE_PATH": sqlite_store.path, "PORTAL_PUBLIC_URL": "https://s.example"},
    )
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert html.count('class="poster"') == 2
    assert "<style>" in html and "@page" in html  # stands alone, prints on A4
    for link in open_wave_with_links.links.values():
        assert f"s.example/s/{link.token}" in html
