"""`portal backup` and `portal restore` on SQLite, run while respondents keep answering."""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient

from portal.app import create_app
from portal.cli import main
from portal.domain.entities import Audience
from portal.services.respond import hash_code, make_codes, make_links
from portal.services.surveys import add_wave, create_survey, open_wave
from portal.storage.sqlite import SqliteStore
from tests.web.conftest import CSV, form_key, full_answers, start

SURVEY, WAVE = "crm-rollout", "baseline"
#: The test's threads stand for many respondents, so no per-client submission limit applies.
PORTAL = {"env": "testing", "ballot_burst": 0}


def run(db: Path, *args: str) -> Result:
    """Run ``portal ARGS`` against the SQLite database at ``db``."""
    return CliRunner().invoke(main, list(args), env={"PORTAL_DATABASE_PATH": str(db)})


def comments(db: Path) -> list[str | None]:
    """Return the comment of every response in the database at ``db``, page by page."""
    store, found, cursor = SqliteStore(db), [], None
    while True:
        page = store.list_responses(SURVEY, WAVE, cursor=cursor, limit=100)
        found.extend(r.comment for r in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    store.close()
    return found


@dataclass(frozen=True)
class Sent:
    """One respondent's submission: its marker comment, when it began and ended, the status."""

    marker: str
    began: float
    ended: float
    status: int


class Respondents:
    """Threads that answer through the real web path until stopped, logging every post."""

    def __init__(self, app: Flask, token: str, codes: list[str]) -> None:
        self.app, self.token, self.codes = app, token, codes
        self.log: list[Sent] = []
        self.retries = 0
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.threads = [
            threading.Thread(target=self._guard, args=(self._by_link, n)) for n in range(3)
        ]
        self.threads.append(threading.Thread(target=self._guard, args=(self._by_code,)))

    def __enter__(self) -> Respondents:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def wait_for(self, count: int, *, ended_after: float = 0.0) -> None:
        """Wait until ``count`` submissions ended after ``ended_after``."""
        deadline = time.monotonic() + 60
        while sum(s.ended > ended_after for s in self.log) < count:
            assert not self.errors, self.errors
            assert time.monotonic() < deadline, "the respondents stalled"
            time.sleep(0.01)

    def _guard(self, work: Callable[..., None], *args: int) -> None:
        """Run one respondent thread, keeping what went wrong for the test to report."""
        try:
            work(*args)
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            self.errors.append(exc)

    def _by_link(self, worker: int) -> None:
        client = self.app.test_client()
        number = 0
        while not self.stop.is_set():
            marker = f"link-{worker}-{number}"
            began = time.monotonic()
            key = start(client, self.token)
            data = {"key": key, "lang": "en", "aud": "employee", "comment": marker}
            status = self._send(client, f"/s/{self.token}/q", data | full_answers(value="3"))
            self.log.append(Sent(marker, began, time.monotonic(), status))
            number += 1

    def _by_code(self) -> None:
        client = self.app.test_client()
        for number, code in enumerate(self.codes):
            if self.stop.is_set():
                return
            marker = f"code-{number}"
            began = time.monotonic()
            page = client.post("/code", data={"code": code, "aud": "manager"})
            html = page.get_data(as_text=True)
            access = re.search(r'name="access" value="([^"]+)"', html)
            assert access, html
            data = {"key": form_key(html), "access": access.group(1), "lang": "en"}
            data |= {"aud": "manager", "comment": marker} | full_answers(Audience.MANAGER)
            status = self._send(client, "/code/answer", data)
            self.log.append(Sent(marker, began, time.monotonic(), status))

    def _send(self, client: FlaskClient, path: str, data: dict[str, str]) -> int:
        """Post the form; after a 503 (busy machine) send it again, as the page asks."""
        for _ in range(5):
            status = client.post(path, data=data).status_code
            if status != 503:
                return status
            self.retries += 1
        return status


def open_survey(db: Path) -> tuple[Flask, str, list[str]]:
    """Create an open wave in a fresh database; return the portal, a link token and codes."""
    store = SqliteStore(db)
    store.create_schema()
    today = date.today()
    create_survey(
        store, slug=SURVEY, title="CRM", system_name={"en": "the new CRM"},
        today=today, departments_csv=CSV,
    )  # fmt: skip
    add_wave(store, SURVEY, wave_id=WAVE, name="Baseline", today=today)
    open_wave(store, SURVEY, WAVE, today=today)
    token = make_links(store, SURVEY, WAVE)[0].token
    codes = make_codes(store, SURVEY, WAVE, "WH", 400)
    app = create_app({**PORTAL, "secret_key": "backup-" + "b" * 40}, store=store)
    return app, token, codes


def test_a_backup_taken_while_respondents_answer_restores_every_answer_exactly_once(
    tmp_path: Path,
) -> None:
    live, backup, restored = (tmp_path / n for n in ("live.db", "backup.db", "restored.db"))
    app, token, codes = open_survey(live)
    with Respondents(app, token, codes) as respondents:
        respondents.wait_for(40)
        before = time.monotonic()
        taken = run(live, "backup", str(backup))
        after = time.monotonic()
        respondents.wait_for(40, ended_after=after)
    assert taken.exit_code == 0, taken.output
    log = respondents.log
    assert not respondents.errors, respondents.errors
    assert {s.status for s in log} == {303}, Counter(s.status for s in log)
    assert Counter(comments(live)) == Counter(s.marker for s in log)  # the live run lost nothing

    back = run(restored, "restore", str(backup))
    assert back.exit_code == 0, back.output
    kept = Counter(comments(restored))
    assert set(kept.values()) == {1}  # nothing doubled
    assert {s.marker for s in log if s.ended < before} <= set(kept)  # nothing lost
    assert not {s.marker for s in log if s.began > after} & set(kept)  # nothing from later
    assert set(kept) <= {s.marker for s in log}
    counted = f"{sum(kept.values())} response(s)"
    assert counted in taken.output and counted in back.output
    store = SqliteStore(restored)
    for number, code in enumerate(codes):  # a code is used exactly when its answer is there
        assert store.get_access_code(hash_code(code)).used == (f"code-{number}" in kept)
    store.close()

    assert run(restored, "results", "refresh", "--survey", SURVEY, "--wave", WAVE).exit_code == 0
    verified = run(restored, "results", "verify", "--survey", SURVEY, "--wave", WAVE)
    assert verified.exit_code == 0, verified.output
    assert "match the raw responses" in verified.output


def test_backup_and_restore_ask_before_replacing_anything(tmp_path: Path) -> None:
    live, backup = tmp_path / "live.db", tmp_path / "backup.db"
    app, _, _ = open_survey(live)
    app.extensions["portal.store"].close()  # as a stopped portal would
    assert run(live, "backup", str(backup)).exit_code == 0
    again = run(live, "backup", str(backup))
    assert again.exit_code == 1 and "pass --force to replace it" in again.output
    assert run(live, "backup", "--force", str(backup)).exit_code == 0
    refused = run(live, "restore", str(backup))
    assert refused.exit_code == 1 and "`portal backup` first, then pass --force" in refused.output
    replaced = run(live, "restore", "--force", str(backup))
    assert replaced.exit_code == 0, replaced.output
    assert "1 survey(s), 1 wave(s), 0 response(s)" in replaced.output


def test_backup_and_restore_say_what_they_need(tmp_path: Path) -> None:
    live = tmp_path / "live.db"
    missing = run(live, "backup", str(tmp_path / "backup.db"))
    assert missing.exit_code == 1 and "portal init-db" in missing.output
    assert run(live, "backup").exit_code == 2
    assert run(live, "restore").exit_code == 2
    not_a_db = tmp_path / "notes.txt"
    not_a_db.write_text("hello")
    refused = run(live, "restore", str(not_a_db))
    assert refused.exit_code == 1 and "not an SQLite database" in refused.output
    assert not live.exists()


def test_a_dynamodb_backup_taken_while_respondents_answer_restores_each_answer_once(
    tmp_path: Path,
) -> None:
    """On a moto server over HTTP. moto copies the table at once; AWS promises less (see
    docs/self-hosting-aws.md): writes within a minute of the request may or may not be in."""
    import boto3

    from portal.storage.dynamodb import DynamoStore
    from tests.moto_server import moto_server

    with moto_server() as endpoint:
        resource = boto3.resource("dynamodb", region_name="eu-west-1", endpoint_url=endpoint)
        store = DynamoStore(resource.Table("portal-live"), allow_create=True)
        store.create_schema()
        today = date.today()
        create_survey(
            store, slug=SURVEY, title="CRM", system_name={"en": "the new CRM"},
            today=today, departments_csv=CSV,
        )  # fmt: skip
        add_wave(store, SURVEY, wave_id=WAVE, name="Baseline", today=today)
        open_wave(store, SURVEY, WAVE, today=today)
        token = make_links(store, SURVEY, WAVE)[0].token
        app = create_app({**PORTAL, "secret_key": "dynamo-" + "d" * 40}, store=store)
        env = {
            "PORTAL_STORAGE": "dynamodb",
            "PORTAL_DYNAMODB_ENDPOINT_URL": endpoint,
            "PORTAL_DYNAMODB_TABLE": "portal-live",
        }
        runner = CliRunner()
        with Respondents(app, token, []) as respondents:
            respondents.wait_for(20)
            before = time.monotonic()
            taken = runner.invoke(main, ["backup", "--name", "during-answers"], env=env)
            after = time.monotonic()
            respondents.wait_for(20, ended_after=after)
        assert taken.exit_code == 0, taken.output
        arn = re.search(r"ARN: (\S+)", taken.output).group(1)  # type: ignore[union-attr]
        args = ["restore", "--backup-arn", arn, "--target-table", "portal-restored"]
        assert runner.invoke(main, args, env=env).exit_code == 0
        env["PORTAL_DYNAMODB_TABLE"] = "portal-restored"
        for command in ("refresh", "verify"):
            done = runner.invoke(
                main, ["results", command, "--survey", SURVEY, "--wave", WAVE], env=env
            )
            assert done.exit_code == 0, done.output
        restored = DynamoStore(resource.Table("portal-restored"))
        kept = Counter(r.comment for r in restored.list_responses(SURVEY, WAVE, limit=1000).items)
    log = respondents.log
    assert not respondents.errors, respondents.errors
    assert {s.status for s in log} == {303}, Counter(s.status for s in log)
    assert set(kept.values()) == {1}
    assert {s.marker for s in log if s.ended < before} <= set(kept)
    assert not {s.marker for s in log if s.began > after} & set(kept)
