"""The ``portal`` command: database setup, demo data, surveys, questionnaires, assets, serving."""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import click

from portal.config import Settings
from portal.domain.entities import Thresholds
from portal.domain.errors import PortalError, ValidationError
from portal.storage import open_store

F = TypeVar("F", bound=Callable[..., Any])


def _settings(**overrides: Any) -> Settings:
    return Settings.from_env(os.environ).with_overrides(
        {k: v for k, v in overrides.items() if v is not None}
    )


@contextmanager
def _reported() -> Iterator[None]:
    """Turn portal errors into a readable message and exit code 1."""
    try:
        yield
    except ValidationError as exc:
        click.secho(f"Error: {exc}", fg="red", err=True)
        for line in exc.errors if exc.errors != [str(exc)] else []:
            click.echo(f"  - {line}", err=True)
        sys.exit(1)
    except PortalError as exc:
        click.secho(f"Error: {exc}", fg="red", err=True)
        sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Change-readiness portal administration.

    Settings come from PORTAL_* environment variables (see docs/configuration.md).
    """


@main.command("init-db")
@click.option(
    "--create-table/--no-create-table",
    default=None,
    help="DynamoDB only: create the table if it is missing "
    "(default: PORTAL_DYNAMODB_CREATE_TABLE).",
)
def init_db(create_table: bool | None) -> None:
    """Create or upgrade the database (SQLite schema, or the DynamoDB table)."""
    with _reported():
        settings = _settings(dynamodb_create_table=create_table)
        store = open_store(settings)
        store.create_schema()
        store.check()
    where = settings.database_path if settings.storage == "sqlite" else settings.dynamodb_table
    click.echo(f"Database ready ({settings.storage}: {where}).")


@main.command()
@click.option(
    "--seed", default=2026, show_default=True, help="Random seed for the synthetic answers."
)
@click.option("--port", default=5000, show_default=True, help="Port used in the printed links.")
def demo(seed: int, port: int) -> None:
    """Load the demo organisation, survey, waves and synthetic answers (once)."""
    from portal.services.demo import load_demo

    with _reported():
        store = open_store(_settings())
        summary = load_demo(store, today=date.today(), seed=seed)
    state = "was already loaded" if summary.already_loaded else "loaded"
    click.echo(f"Demo survey '{summary.survey.title}' {state}.")
    sites = sorted({d.site for d in summary.departments})
    click.echo(
        f"  {len(summary.departments)} departments across {len(sites)} sites ({', '.join(sites)})"
    )
    for wave in summary.waves:
        click.echo(f"  wave {wave.wave_id}: {wave.name}, {wave.status.value}")
    if not summary.already_loaded:
        click.echo(f"  {summary.responses_stored} synthetic responses stored")
        click.echo(
            "  reinforcement plans from the baseline meeting for the organisation, "
            "Warehouse and Customer service (see the follow-up's scorecard)"
        )
    base = (_settings().public_url or f"http://127.0.0.1:{port}").rstrip("/")
    names = {d.code: f"{d.name} ({d.site})" for d in summary.departments}
    click.echo("\nRespondent links for the open wave (follow-up-1):")
    for link in summary.links:
        kind = "  [kiosk: shared device]" if link.kiosk else ""
        name = names.get(link.department_code, link.department_code)
        click.echo(f"  {name:<32} {base}/s/{link.token}{kind}")
    click.echo(f"  Single-use codes are entered at {base}/code")
    settings = _settings()
    if settings.env == "development":
        password = _demo_admin(settings)
        click.echo(f"\nLocal admin sign-in at {base}/admin/login (development only):")
        click.echo(f"  e-mail {DEMO_ADMIN}  password {password}")
    else:
        click.echo("\nCreate an admin account with `portal user create --email ... --role admin`.")


DEMO_ADMIN = "admin@demo.local"


def _demo_admin(settings: Settings) -> str:
    """Create or reset the local demo admin; return its fresh password."""
    from dataclasses import replace

    from portal.domain.accounts import Role
    from portal.domain.errors import NotFound
    from portal.services.accounts import create_user, hash_password, new_password

    store = open_store(settings)
    password = new_password()
    with _reported():
        try:
            admin = store.get_user(DEMO_ADMIN)
        except NotFound:
            create_user(
                store,
                email=DEMO_ADMIN,
                role=Role.ADMIN,
                password=password,
                actor="demo",
                must_change_password=False,
            )
        else:
            store.put_user(
                replace(
                    admin,
                    password_hash=hash_password(password),
                    active=True,
                    session_epoch=admin.session_epoch + 1,
                )
            )
    return password


@main.group()
def survey() -> None:
    """Create and list surveys."""


def _system_names(values: tuple[str, ...]) -> dict[str, str]:
    names: dict[str, str] = {}
    for value in values:
        language, sep, name = value.partition("=")
        if sep and len(language) == 2 and language.isalpha():
            names[language.lower()] = name
        else:
            names["*"] = value
    return names


@survey.command("create")
@click.option("--slug", required=True, help="Short id used in addresses, e.g. crm-rollout.")
@click.option("--title", required=True, help="Title HR sees, e.g. 'CRM rollout 2026'.")
@click.option(
    "--system",
    "systems",
    multiple=True,
    required=True,
    help="The system's name as it reads in a sentence ('the new CRM'); "
    "per language as da='det nye CRM'. Repeatable.",
)
@click.option(
    "--departments",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV file with code,name,site,headcount[,parent].",
)
@click.option("--questionnaire", default="change-readiness", show_default=True)
@click.option(
    "--language", "languages", multiple=True, help="Survey language (repeatable); default: all."
)
@click.option(
    "--min-group-size",
    type=int,
    default=None,
    help="Smallest group whose numbers are shown (>= 3).",
)
@click.option(
    "--min-comment-group-size",
    type=int,
    default=None,
    help="Smallest group whose comments are shown (>= 5).",
)
def survey_create(
    slug: str,
    title: str,
    systems: tuple[str, ...],
    departments: Path | None,
    questionnaire: str,
    languages: tuple[str, ...],
    min_group_size: int | None,
    min_comment_group_size: int | None,
) -> None:
    """Create a survey, optionally with departments from a CSV file."""
    from portal.services.surveys import create_survey

    with _reported():
        settings = _settings()
        defaults = settings.default_thresholds()
        thresholds = Thresholds(
            min_group_size if min_group_size is not None else defaults.min_group_size,
            min_comment_group_size
            if min_comment_group_size is not None
            else defaults.min_comment_group_size,
        )
        names = _system_names(systems)
        csv_text = _read_text(departments) if departments else None
        from portal.instruments import get_questionnaire

        langs = tuple(languages) or get_questionnaire(questionnaire).languages
        if "*" in names:
            plain = names.pop("*")
            for language in langs:
                names.setdefault(language, plain)
        created = create_survey(
            open_store(settings),
            slug=slug,
            title=title,
            system_name=names,
            today=date.today(),
            departments_csv=csv_text,
            questionnaire_id=questionnaire,
            languages=langs,
            thresholds=thresholds,
        )
        count = len(open_store(settings).list_departments(created.slug))
    click.echo(
        f"Survey {created.slug!r} created on {created.questionnaire_id} "
        f"v{created.questionnaire_version} with {count} department(s)."
    )


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(f"{path}: the file is not UTF-8 text; save it as CSV UTF-8.") from exc


@survey.command("list")
def survey_list() -> None:
    """List surveys with their waves."""
    with _reported():
        store = open_store(_settings())
        surveys = store.list_surveys()
        for s in surveys:
            waves = ", ".join(f"{w.wave_id} ({w.status.value})" for w in store.list_waves(s.slug))
            click.echo(f"{s.slug}\t{s.title}\t{waves or 'no waves'}")
    if not surveys:
        click.echo("No surveys yet. Create one with `portal survey create` or `portal demo`.")


@main.command()
@click.option("--survey", "survey_slug", required=True, help="Survey slug.")
@click.option("--wave", "wave_id", required=True, help="Wave id.")
@click.option("--lang", "language", default=None, help="Poster language (default: the survey's).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    required=True,
    help="HTML file to write; open it in a browser and print (one A4 page per department).",
)
def posters(survey_slug: str, wave_id: str, language: str | None, out: Path) -> None:
    """Write one printable file with every department's poster for a wave."""
    from portal.app import create_app
    from portal.config import PROJECT_ROOT
    from portal.services.respond import describe_wave_links
    from portal.web.i18n import set_page_language
    from portal.web.posters.views import poster_context

    with _reported():
        settings = _settings()
        # Rendering a file signs nothing, so a throwaway key will do.
        app = create_app({"secret_key": secrets.token_urlsafe(48)})
        store = app.extensions["portal.store"]
        survey = store.get_survey(survey_slug)
        lang: str = (
            language if language and language in survey.languages else survey.default_language
        )
        ballots = describe_wave_links(store, survey_slug, wave_id)
        if not ballots:
            raise ValidationError(
                f"Wave {wave_id!r} has no survey links yet; create them before printing."
            )
        base = settings.public_url or "http://127.0.0.1:5000"
        css = (PROJECT_ROOT / "static" / "src" / "css" / "portal.css").read_text("utf-8")
        with app.test_request_context("/", base_url=base):
            from flask import render_template

            set_page_language(lang)
            html = render_template(
                "posters/sheet.html",
                posters=[poster_context(b, b.link.token, lang) for b in ballots if b.link],
                language=lang,
                inline_css=css,
            )
        out.write_text(html, encoding="utf-8")
    click.echo(f"Wrote {len(ballots)} poster(s) to {out}")
    if not settings.public_url:
        click.echo("Note: PORTAL_PUBLIC_URL is not set, so the links point at " + base)


@main.group()
def waves() -> None:
    """Add, open and close waves; their links and single-use codes."""


_survey_option = click.option("--survey", "survey_slug", required=True, help="Survey slug.")
_wave_option = click.option("--wave", "wave_id", required=True, help="Wave id, e.g. baseline.")


@waves.command("add")
@_survey_option
@_wave_option
@click.option("--name", required=True, help="Name HR sees, e.g. 'Follow-up, spring'.")
@click.option("--planned-close", type=click.DateTime(["%Y-%m-%d"]), default=None)
def waves_add(survey_slug: str, wave_id: str, name: str, planned_close: Any) -> None:
    """Add a draft wave (the first is the baseline, later ones are follow-ups)."""
    from portal.services.surveys import add_wave

    with _reported():
        wave = add_wave(
            open_store(_settings()),
            survey_slug,
            wave_id=wave_id,
            name=name,
            today=date.today(),
            planned_close=planned_close.date() if planned_close else None,
        )
    click.echo(f"Wave {wave.wave_id!r} added as a {wave.kind.value} draft.")


@waves.command("open")
@_survey_option
@_wave_option
def waves_open(survey_slug: str, wave_id: str) -> None:
    """Open a wave (locking its thresholds) and give every department a link."""
    from portal.services.respond import make_links
    from portal.services.surveys import open_wave

    with _reported():
        store = open_store(_settings())
        wave = open_wave(store, survey_slug, wave_id, today=date.today())
        links = make_links(store, survey_slug, wave_id)
    thresholds = wave.thresholds
    assert thresholds is not None
    click.echo(
        f"Wave {wave_id!r} is open. Locked: numbers shown for groups of at least "
        f"{thresholds.min_group_size}, comments for at least {thresholds.min_comment_group_size}."
    )
    click.echo(f"{len(links)} link(s); list them with `portal waves links`.")


@waves.command("close")
@_survey_option
@_wave_option
def waves_close(survey_slug: str, wave_id: str) -> None:
    """Close an open wave; its links stop taking answers."""
    from portal.services.surveys import close_wave

    with _reported():
        close_wave(open_store(_settings()), survey_slug, wave_id, today=date.today())
    click.echo(f"Wave {wave_id!r} is closed.")


@waves.command("links")
@_survey_option
@_wave_option
@click.option("--kiosk", "kiosk_departments", multiple=True, help="Add a kiosk link for DEPT.")
def waves_links(survey_slug: str, wave_id: str, kiosk_departments: tuple[str, ...]) -> None:
    """List the wave's links, creating any missing ones (and kiosk links if asked)."""
    from portal.domain.entities import Link
    from portal.services.respond import make_links
    from portal.services.structure import taking_part

    with _reported():
        settings = _settings()
        store = open_store(settings)
        links = make_links(store, survey_slug, wave_id)
        wave = store.get_wave(survey_slug, wave_id)
        known = {d.code for d in taking_part(store, wave) if not d.retired}
        for code in kiosk_departments:
            if code not in known:
                raise ValidationError(
                    f"There is no active department {code!r} in wave {wave_id!r} of "
                    f"{survey_slug!r} (one added after the wave opened takes part from the next)."
                )
        if kiosk_departments:
            store.put_links(
                [
                    Link(secrets.token_urlsafe(12), survey_slug, wave_id, code, kiosk=True)
                    for code in kiosk_departments
                ]
            )
            links = store.list_links(survey_slug, wave_id)
    base = (settings.public_url or "http://127.0.0.1:5000").rstrip("/")
    for link in links:
        notes = [n for n, on in (("kiosk", link.kiosk), ("revoked", link.revoked)) if on]
        if link.audience:
            notes.append(f"{link.audience.value}s only")
        extra = f"\t({', '.join(notes)})" if notes else ""
        click.echo(f"{link.department_code}\t{base}/s/{link.token}{extra}")


@waves.command("codes")
@_survey_option
@_wave_option
@click.option("--department", required=True, help="Department code.")
@click.option("--count", type=click.IntRange(1, 5000), required=True)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    required=True,
    help="CSV file for mail merge or printed slips. The codes are not kept anywhere else.",
)
def waves_codes(survey_slug: str, wave_id: str, department: str, count: int, out: Path) -> None:
    """Make single-use codes for a department; they are shown once, stored only hashed."""
    import csv

    from portal.services.respond import make_codes
    from portal.services.structure import taking_part

    with _reported():
        settings = _settings()
        store = open_store(settings)
        wave = store.get_wave(survey_slug, wave_id)
        active = {d.code for d in taking_part(store, wave) if not d.retired}
        if department not in active:
            raise ValidationError(
                f"There is no active department {department!r} in wave {wave_id!r} of "
                f"{survey_slug!r} (one added after the wave opened takes part from the next)."
            )
        codes = make_codes(store, survey_slug, wave_id, department, count)
    base = (settings.public_url or "http://127.0.0.1:5000").rstrip("/")
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["department", "code", "where"])
        writer.writerows([department, code, f"{base}/code"] for code in codes)
    click.echo(f"Wrote {len(codes)} code(s) to {out}. Keep the file safe; it cannot be remade.")


@waves.command("close-due")
def waves_close_due() -> None:
    """Close open waves whose planned closing day has passed (the scheduled Lambda's job)."""
    from portal.services.surveys import close_due_waves

    with _reported():
        closed = close_due_waves(open_store(_settings()), today=date.today())
    for wave in closed:
        click.echo(f"closed {wave.survey_slug}/{wave.wave_id}")
    if not closed:
        click.echo("No overdue waves.")


@main.group()
def results() -> None:
    """Result aggregates: recompute and verify."""


@results.command("refresh")
@_survey_option
@_wave_option
def results_refresh(survey_slug: str, wave_id: str) -> None:
    """Recount a wave's responses now and publish what the release steps allow of it."""
    from datetime import UTC, datetime

    from portal.services.results import release_now, verify

    with _reported():
        store = open_store(_settings())
        snapshot = release_now(store, survey_slug, wave_id, now=datetime.now(UTC))
        held = verify(store, survey_slug, wave_id).held_back
    click.echo(
        f"Published figures of {survey_slug}/{wave_id}: {snapshot.responses} responses in "
        f"{len(snapshot.cells)} department(s)."
    )
    if held:
        click.echo(
            f"{held} more response(s) wait for a release step: figures move only once enough "
            "new answers arrive to show them without singling anyone out."
        )


@results.command("verify")
@_survey_option
@_wave_option
def results_verify(survey_slug: str, wave_id: str) -> None:
    """Recompute everything from the raw responses and report any difference (exit 1).

    Responses the release steps hold back are said, not counted as a
    difference. A wave without stored aggregates yet has nothing to verify:
    said, exit 0.
    """
    from portal.services.results import NothingToVerify, verify

    with _reported():
        try:
            found = verify(open_store(_settings()), survey_slug, wave_id)
        except NothingToVerify as exc:
            click.echo(f"{survey_slug}/{wave_id}: {exc}")
            return
    if found.problems:
        for problem in found.problems:
            click.echo(problem, err=True)
        sys.exit(1)
    click.echo(f"The stored aggregates of {survey_slug}/{wave_id} match the raw responses.")
    if found.held_back or found.held_families:
        click.echo(
            f"Held back by release steps (not a difference): {found.held_back} response(s); "
            f"{found.held_families} lever, statement or alpha sum(s) at an earlier state."
        )


@main.command()
@_survey_option
@_wave_option
@click.option(
    "--unit",
    default=None,
    help="One department code, or * for the whole organisation (default: every unit).",
)
@click.option(
    "--lang", "language", type=click.Choice(["en", "da"]), default="en", show_default=True
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    required=True,
    help="PDF file to write (one A4 page per unit).",
)
def scorecard(survey_slug: str, wave_id: str, unit: str | None, language: str, out: Path) -> None:
    """Write the reinforcement scorecard of a wave as a PDF."""
    from portal.render.pdf import scorecard_pdf
    from portal.services import scorecard as service

    with _reported():
        # The same pages as the admin download: every unit's whole plan.
        card = service.scorecard(
            open_store(_settings()),
            survey_slug,
            wave_id,
            department=unit,
            language=language,
            max_plan_lines=None,
        )
        out.write_bytes(scorecard_pdf(card))
    click.echo(f"Wrote {len(card.pages)} scorecard unit(s) to {out}")


@main.group()
def user() -> None:
    """HR accounts."""


@user.command("create")
@click.option("--email", required=True)
@click.option(
    "--role",
    type=click.Choice(["admin", "viewer", "department-viewer"]),
    required=True,
    help="admin manages everything; viewer reads all results; department-viewer only its own.",
)
@click.option(
    "--department",
    "departments",
    multiple=True,
    help="For department viewers: survey-slug/CODE (repeatable).",
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input instead of making a random one.",
)
def user_create(email: str, role: str, departments: tuple[str, ...], password_stdin: bool) -> None:
    """Create an account, e.g. the first admin of a fresh deployment."""
    from portal.domain.accounts import Role
    from portal.services.accounts import create_user, new_password

    password = sys.stdin.readline().rstrip("\n") if password_stdin else new_password()
    with _reported():
        created = create_user(
            open_store(_settings()),
            email=email,
            role=Role(role),
            password=password,
            actor="cli",
            departments=departments,
            must_change_password=not password_stdin,
        )
    click.echo(f"Account {created.email} ({created.role.value}) created.")
    if not password_stdin:
        click.echo(f"One-time password: {password}")
        click.echo("It is shown only now; it must be changed at the first sign-in.")


@main.command()
@click.argument(
    "out", required=False, type=click.Path(dir_okay=False, writable=True, path_type=Path)
)
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
@click.option(
    "--dynamodb",
    is_flag=True,
    help="Take an on-demand backup of the DynamoDB table PORTAL_DYNAMODB_TABLE instead "
    "(the default when PORTAL_STORAGE=dynamodb).",
)
@click.option("--name", default=None, help="DynamoDB: the backup's name (default TABLE-DATE).")
def backup(out: Path | None, force: bool, dynamodb: bool, name: str | None) -> None:
    """Back up the database: SQLite into the file OUT, safe while respondents answer."""
    from portal.services import backup as service

    with _reported():
        settings = _settings(storage="dynamodb" if dynamodb else None)
        if settings.storage == "dynamodb":
            if out is not None:
                raise click.UsageError("A DynamoDB backup stays in AWS: leave out OUT.")
            taken = service.backup_dynamodb(
                _dynamo_store(settings), name=name or f"{settings.dynamodb_table}-{date.today()}"
            )
            click.echo(f"Backup {taken.name!r} of {taken.table!r} requested ({taken.status}).")
            click.echo(f"  ARN: {taken.arn}")
            click.echo("  Restore it into a new table with `portal restore --dynamodb`.")
            return
        if out is None:
            raise click.UsageError("Name the file to write: portal backup OUT.")
        contents = service.backup_sqlite(settings.database_path, out, force=force)
    click.echo(f"Backed up {settings.database_path} to {out}: {contents}.")


@main.command()
@click.argument(
    "backup_file",
    metavar="IN",
    required=False,
    type=click.Path(dir_okay=False, path_type=Path),
)
@click.option(
    "--force", is_flag=True, help="Replace the existing database (its answers are not kept)."
)
@click.option("--dynamodb", is_flag=True, help="Restore a DynamoDB backup into a new table.")
@click.option("--backup-arn", default=None, help="DynamoDB: the backup to restore.")
@click.option("--target-table", default=None, help="DynamoDB: the new table's name.")
def restore(
    backup_file: Path | None,
    force: bool,
    dynamodb: bool,
    backup_arn: str | None,
    target_table: str | None,
) -> None:
    """Restore a backup: IN over the SQLite database (stop the portal first)."""
    from portal.services import backup as service

    with _reported():
        settings = _settings(storage="dynamodb" if dynamodb else None)
        if settings.storage == "dynamodb":
            if backup_file is not None or not backup_arn or not target_table:
                raise click.UsageError(
                    "For DynamoDB give --backup-arn ARN and --target-table NEW-NAME (no IN)."
                )
            target = settings.with_overrides(
                {"dynamodb_table": target_table, "dynamodb_create_table": False}
            )
            contents = service.restore_dynamodb(_dynamo_store(target), backup_arn)
            click.echo(f"Restored into the new table {target_table!r}: {contents}.")
            click.echo(
                f"  Check it with PORTAL_DYNAMODB_TABLE={target_table} and `portal results "
                "verify`, then switch the portal to it (docs/self-hosting-aws.md)."
            )
            return
        if backup_file is None:
            raise click.UsageError("Name the backup file: portal restore IN.")
        contents = service.restore_sqlite(backup_file, settings.database_path, force=force)
    click.echo(f"Restored {backup_file} into {settings.database_path}: {contents}.")


def _dynamo_store(settings: Settings) -> Any:
    """Return the DynamoDB store ``settings`` name (a DynamoStore)."""
    from portal.storage.dynamodb import DynamoStore

    store = open_store(settings)
    assert isinstance(store, DynamoStore)
    return store


@main.group()
def questionnaire() -> None:
    """Check and list questionnaires."""


@questionnaire.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def questionnaire_validate(files: tuple[Path, ...]) -> None:
    """Check questionnaire YAML files and report every problem with its place."""
    from portal.domain.questionnaire import QuestionnaireError
    from portal.instruments import load_questionnaire_file

    failed = False
    for path in files:
        try:
            q = load_questionnaire_file(path)
        except QuestionnaireError as exc:
            failed = True
            click.secho(f"{path}: invalid", fg="red", err=True)
            for line in exc.errors:
                click.echo(f"  - {line}", err=True)
            continue
        click.echo(
            f"{path}: OK — {q.id} v{q.version}, {len(q.levers)} levers, {len(q.items)} items, "
            f"languages {', '.join(q.languages)}"
        )
    if failed:
        sys.exit(1)


@questionnaire.command("list")
def questionnaire_list() -> None:
    """List the questionnaires shipped with the portal."""
    from portal.instruments import available_questionnaires

    for q_id, versions in available_questionnaires().items():
        click.echo(f"{q_id}\tversions {', '.join(map(str, versions))}")


@main.group()
def assets() -> None:
    """Static bundles."""


@assets.command("build")
def assets_build() -> None:
    """Build the CSS/JS bundles into static/gen and write the manifest."""
    from portal.app import create_app
    from portal.web.assets import build_all

    with _reported():
        app = create_app({"assets_auto_build": True, "env": "development"})
        names = build_all(app)
    click.echo("Built " + ", ".join(names))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--port", type=int, default=None, help="Port (default: 5000, or 8000 with --production)."
)
@click.option(
    "--production",
    is_flag=True,
    help="Serve with gunicorn's threaded workers as PORTAL_ENV=production "
    "(see docs/self-hosting-server.md); without it, the built-in server for local trials.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="With --production: processes (default 2; about one per core).",
)
@click.option(
    "--threads",
    type=click.IntRange(1, 256),
    default=None,
    help="With --production: threads per process (default 8).",
)
@click.option(
    "--access-log",
    default="-",
    show_default=True,
    help="With --production: file for the anonymous access log, or - for standard output.",
)
def serve(
    host: str,
    port: int | None,
    production: bool,
    workers: int | None,
    threads: int | None,
    access_log: str,
) -> None:
    """Serve the portal: --production for a real server, else the built-in one (trial use).

    --production needs a strong PORTAL_SECRET_KEY; SIGHUP reloads the code without dropping
    a request and SIGTERM stops gracefully.
    """
    if production:
        _serve_production(host, port, workers, threads, access_log)
        return
    if workers is not None or threads is not None:
        raise click.UsageError("--workers and --threads need --production.")
    from werkzeug.serving import run_simple

    from portal.app import create_app
    from portal.web.logging import AnonymousRequestHandler

    port = port or 5000
    with _reported():
        app = create_app()
    click.echo(f"Portal running at http://{host}:{port}/  (Ctrl+C stops it)")
    run_simple(host, port, app, threaded=True, request_handler=AnonymousRequestHandler)


def _serve_production(
    host: str, port: int | None, workers: int | None, threads: int | None, access_log: str
) -> None:
    """Check the settings and the secret key, then become the gunicorn server."""
    from portal import server
    from portal.config import resolve_secret_key

    os.environ["PORTAL_ENV"] = "production"
    port = port or server.DEFAULT_PORT
    workers = workers or server.DEFAULT_WORKERS
    threads = threads or server.DEFAULT_THREADS
    with _reported():
        settings = _settings()
        resolve_secret_key(settings)  # refuses a missing or weak key before any worker starts
    click.echo(
        f"Portal running at http://{host}:{port}/  (production: {workers} workers x "
        f"{threads} threads; SIGHUP reloads, SIGTERM stops)"
    )
    server.exec_server(
        host=host, port=port, workers=workers, threads=threads, access_log=access_log
    )


if __name__ == "__main__":  # pragma: no cover
    main()
