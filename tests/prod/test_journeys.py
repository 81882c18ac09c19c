"""What users get, proved the way they get it: headless Chromium over HTTPS against production.

Every journey runs against every ``deployment`` (the Lambda zip behind an API
Gateway-like front, payloads v1 and v2; the one-server mode behind TLS), each
starting empty. The four tests follow one wave from the first sign-in to its
scheduled closing, so they share what earlier ones made (``Journey``) and run
in order; a failed step skips the rest for that deployment.

Checked on the way, on every page: no admin form post is refused (the
"We could not use what was sent" 400 that a ``no-referrer`` policy causes on
HTTPS), no answer is a server error, the session cookie is ``Secure`` and
``HttpOnly``, and the strict Content-Security-Policy reports no violation.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Download,
    Page,
    Response,
    ViewportSize,
    expect,
)

from tests.prod.deployment import ROOT, Deployment
from tests.qr_decode import decode_qr

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ADMIN = "hr@example.com"
NEW_PASSWORD = "tulip kettle orbit 42"
SLUG = "erp-2027"
WAVE = "baseline"
DEPARTMENTS_CSV = (
    "code,name,site,headcount\nCPH-SALES,Sales,Copenhagen,12\nOSL-OPS,Operations,Oslo,9\n"
)
#: Responses through plain HTTPS posts, on top of one per path through Chromium.
EXTRA_RESPONSES = {"CPH-SALES": 3, "OSL-OPS": 2}
PHONE: ViewportSize = {"width": 390, "height": 844}
PYTHON = ROOT / ".venv" / "bin" / "python"


@dataclass
class Journey:
    """What one deployment's journeys have made and seen so far."""

    deployment: Deployment
    admin: BrowserContext | None = None
    links: dict[str, str] = field(default_factory=dict)
    codes: list[tuple[str, str]] = field(default_factory=list)
    refused_posts: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)
    failed: str | None = None

    @property
    def url(self) -> str:
        return self.deployment.base_url

    def watch(self, context: BrowserContext) -> BrowserContext:
        """Record refused posts, server errors and CSP reports of every page in ``context``."""
        context.set_default_timeout(20_000)
        context.on("response", self._on_response)
        context.on("page", lambda page: page.on("console", self._on_console))
        return context

    def _on_response(self, response: Response) -> None:
        where = f"{response.request.method} {urllib.parse.urlsplit(response.url).path}"
        if response.status >= 500:
            self.server_errors.append(f"{response.status} {where}")
        elif response.request.method == "POST" and response.status >= 400:
            self.refused_posts.append(f"{response.status} {where}")

    def _on_console(self, message: object) -> None:
        text = getattr(message, "text", "")
        if "Content Security Policy" in text or "Refused to" in text:
            self.csp_violations.append(text)

    def assert_clean(self) -> None:
        """Fail if any post was refused, anything answered 5xx or CSP blocked anything."""
        assert self.refused_posts == [], "admin or respondent posts were refused"
        assert self.server_errors == []
        assert self.csp_violations == []


_journeys: dict[str, Journey] = {}


@pytest.fixture
def journey(
    request: pytest.FixtureRequest, deployment: Deployment, prod_browser: Browser
) -> Iterator[Journey]:
    """Return this deployment's journey so far; skip if an earlier step failed."""
    state = _journeys.setdefault(deployment.name, Journey(deployment))
    if state.failed:
        pytest.skip(f"an earlier journey failed on {deployment.name}: {state.failed}")
    if state.admin is None:
        context = prod_browser.new_context(
            viewport={"width": 1200, "height": 900}, accept_downloads=True
        )
        state.admin = state.watch(context)
    yield state
    report = getattr(request.node, "rep_call", None)  # set by conftest's report hook
    if report is None or report.failed:
        state.failed = request.node.name
    try:
        state.assert_clean()
    except AssertionError:
        state.failed = request.node.name
        raise


# --------------------------------------------------------------------------- helpers


def one_time_password(output: str) -> str:
    """Read the password that ``portal user create`` prints once."""
    match = re.search(r"One-time password: (\S+)", output)
    assert match, output
    return match.group(1)


def post(page: Page, button: str) -> str | None:
    """Press a form's button, check the server took the post; return the Referer it carried.

    Over HTTPS a refused admin post is what a ``Referrer-Policy: no-referrer``
    causes: Flask-WTF's strict Referer check answers 400 "We could not use
    what was sent" to every form.
    """
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name=button).click()
    answer = posted.value
    referer = answer.request.all_headers().get("referer")
    assert answer.status < 400, (
        f"{button!r}: the post was refused with {answer.status}; Referer sent: {referer!r}"
    )
    return referer


def saved(download: Download) -> bytes:
    """Return a finished download's bytes."""
    return Path(download.path()).read_bytes()


def session_cookie(context: BrowserContext) -> dict[str, object]:
    """Return the portal's session cookie as the browser keeps it."""
    [cookie] = [c for c in context.cookies() if c["name"] == "portal_session"]
    return dict(cookie)


def move_planned_close(deployment: Deployment, day: date) -> None:
    """Move the wave's planned closing day in the deployment's store (days pass, not hours)."""
    script = (
        "import os, dataclasses, datetime\n"
        "from portal.config import Settings\n"
        "from portal.domain.entities import WaveStatus\n"
        "from portal.storage import open_store\n"
        "store = open_store(Settings.from_env(os.environ))\n"
        f"wave = store.get_wave({SLUG!r}, {WAVE!r})\n"
        f"day = datetime.date.fromisoformat({day.isoformat()!r})\n"
        "store.update_wave(dataclasses.replace(wave, planned_close=day),"
        " expected_status=WaveStatus.OPEN)\n"
    )
    env = {**_clean_env(), **deployment.cli_env}
    subprocess.run([str(PYTHON), "-c", script], env=env, check=True, cwd=ROOT, timeout=60)


_DUMP_STORE = """
import json, os, sqlite3
if os.environ.get("PORTAL_STORAGE") == "dynamodb":
    import boto3
    table = boto3.resource(
        "dynamodb", endpoint_url=os.environ["PORTAL_DYNAMODB_ENDPOINT_URL"]
    ).Table(os.environ["PORTAL_DYNAMODB_TABLE"])
    items, page = [], {}
    while True:
        answer = table.scan(**page)
        items += answer["Items"]
        if "LastEvaluatedKey" not in answer:
            break
        page = {"ExclusiveStartKey": answer["LastEvaluatedKey"]}
    print(json.dumps(items, default=str))
else:
    with sqlite3.connect(os.environ["PORTAL_DATABASE_PATH"]) as db:
        print("\\n".join(db.iterdump()))
"""


def stored_text(deployment: Deployment) -> str:
    """Return everything in the deployment's store, as text (a DynamoDB scan or an SQL dump)."""
    env = {**_clean_env(), **deployment.cli_env}
    result = subprocess.run(
        [str(PYTHON), "-c", _DUMP_STORE], env=env, cwd=ROOT, timeout=60,
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return result.stdout


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "AWS_"))}


class _FormReader(HTMLParser):
    """Collect the questionnaire form's hidden fields and its radio groups."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden: dict[str, str] = {}
        self.radios: dict[str, list[str]] = {}
        self.action: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method", "").lower() == "post":
            self.action = a.get("action")
        if tag == "input" and a.get("type") == "hidden":
            self.hidden[a["name"]] = a.get("value", "")
        if tag == "input" and a.get("type") == "radio":
            self.radios.setdefault(a["name"], []).append(a.get("value", ""))


def answer_over_https(deployment: Deployment, link: str, seed: int) -> None:
    """Answer a link's questionnaire with plain HTTPS requests through the same front."""
    with deployment.urlopen(f"{link}/q?aud=employee&lang=en") as response:
        form = _FormReader()
        form.feed(response.read().decode())
    assert form.action and form.radios, "the questionnaire page holds no form"
    fields = dict(form.hidden)
    for number, (name, values) in enumerate(sorted(form.radios.items())):
        scale = [v for v in values if v != "na"]
        fields[name] = scale[(seed + number) % len(scale)]
    fields["comment"] = f"Sent over HTTPS, number {seed}."
    origin = "{0.scheme}://{0.netloc}".format(urllib.parse.urlsplit(link))
    request = urllib.request.Request(
        origin + form.action,
        data=urllib.parse.urlencode(fields).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    try:
        deployment.urlopen(request).close()
        raise AssertionError("the answers were taken without a redirect to the thank-you page")
    except urllib.error.HTTPError as redirect:
        assert redirect.code in (302, 303), redirect.read()[:500]
        assert "/thanks" in (redirect.headers.get("Location") or "")


def fill_questionnaire(page: Page, seed: int) -> None:
    """Answer every statement on the page, leave a comment and send the answers."""
    names = sorted(set(page.eval_on_selector_all(
        "form.questionnaire input[type=radio]", "els => els.map(e => e.name)"
    )))  # fmt: skip
    assert names, "the questionnaire shows no statements"
    for number, name in enumerate(names):
        value = str(1 + (seed + number) % 5)
        page.locator(f"input[name='{name}'][value='{value}']").check()
    page.locator("#comment").fill("Answered on a phone, over HTTPS.")
    # The questionnaire's address holds the link token: the browser must not send it on.
    assert post(page, "Send my answers") is None


def api_get(deployment: Deployment, path: str, token: str | None) -> tuple[int, object]:
    """GET an API address over HTTPS; return the status and the JSON body."""
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(deployment.base_url + path, headers=headers)
    try:
        with deployment.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read() or b"null")


# --------------------------------------------------------------------------- journeys


def test_1_an_admin_sets_up_a_wave_and_its_links_posters_and_codes(
    journey: Journey, deployment: Deployment, tmp_path: Path
) -> None:
    url = journey.url
    created = deployment.portal("user", "create", "--email", ADMIN, "--role", "admin")
    password = one_time_password(created.stdout)
    assert journey.admin is not None
    page = journey.admin.new_page()

    # Sign in with the one-time password; the portal insists on a new one.
    page.goto(f"{url}/admin/")
    assert "/admin/login" in page.url
    page.get_by_label("E-mail address").fill(ADMIN)
    page.get_by_label("Password").fill(password)
    referer = post(page, "Sign in")
    assert referer is not None and referer.startswith(f"{url}/admin/login")
    page.wait_for_url(f"{url}/admin/password")
    page.get_by_label("Current password").fill(password)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    post(page, "Change password")
    expect(page.locator("h1")).to_have_text("Surveys")
    cookie = session_cookie(journey.admin)
    assert cookie["secure"] is True and cookie["httpOnly"] is True

    # A survey, then its departments from a CSV file.
    page.get_by_role("link", name="New survey").click()
    page.get_by_label("Title").fill("ERP rollout 2027")
    page.get_by_label("Short name (slug)").fill(SLUG)
    page.get_by_label("System name in English").fill("the new ERP")
    page.get_by_label("Minimum group size for numbers").fill("3")
    post(page, "Create survey")
    expect(page.locator("h1")).to_have_text("ERP rollout 2027")
    csv_file = tmp_path / "departments.csv"
    csv_file.write_text(DEPARTMENTS_CSV, encoding="utf-8")
    page.get_by_role("link", name="Import departments from CSV").click()
    page.get_by_label("Departments file (CSV)").set_input_files(str(csv_file))
    post(page, "Import departments")
    expect(page.locator("main")).to_contain_text("Departments imported")
    expect(page.locator("main")).to_contain_text("OSL-OPS")

    # The baseline wave, planned to close in a week, opened.
    page.goto(f"{url}/admin/surveys/{SLUG}")
    page.get_by_label("Wave id").fill(WAVE)
    page.get_by_label("Name", exact=True).fill("Baseline, spring")
    page.get_by_label("Planned closing date (optional)").fill(
        (date.today() + timedelta(days=7)).isoformat()
    )
    post(page, "Add baseline wave")
    page.get_by_role("link", name="Open wave Baseline, spring").click()
    post(page, "Open the wave and make the links")
    expect(page.locator("h1")).to_have_text("ERP rollout 2027")

    # The distribution page: one https link per department, on this deployment.
    page.goto(f"{url}/admin/surveys/{SLUG}/waves/{WAVE}")
    expect(page.locator(".wave-status h2")).to_have_text("This wave is open")
    for code in ("CPH-SALES", "OSL-OPS"):
        link = page.locator(f"#dept-{code} code.link-text").first.inner_text().strip()
        assert link.startswith(f"{url}/s/"), link
        journey.links[code] = link

    # QR codes as served: SVG and PNG; the PNG decodes to the department's link.
    row = page.locator("#dept-CPH-SALES")
    with page.expect_download() as svg:
        row.get_by_role("link", name="SVG QR code for Sales").click()
    assert b"<svg" in saved(svg.value)[:400]
    with page.expect_download() as png:
        row.get_by_role("link", name="PNG QR code for Sales").click()
    png_path = tmp_path / "qr.png"
    png_path.write_bytes(saved(png.value))
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert decode_qr(png_path) == [journey.links["CPH-SALES"]]

    # The poster sheet, printed to PDF as the admin would; its QR codes lead here too.
    page.get_by_role("button", name="Open the poster sheet").click()
    page.locator("section.poster").first.wait_for()
    assert page.locator("section.poster").count() == 2
    sheet = tmp_path / "posters.pdf"
    page.pdf(path=str(sheet), format="A4", print_background=True)
    assert sheet.read_bytes()[:5] == b"%PDF-"
    subprocess.run(["pdftoppm", "-png", "-r", "80", str(sheet), str(tmp_path / "sheet")],
                   check=True)  # fmt: skip
    decoded = sorted(link for image in tmp_path.glob("sheet*.png") for link in decode_qr(image))
    assert decoded == sorted(journey.links.values())

    # Single-use codes for Operations, downloaded once.
    page.go_back()
    page.get_by_label("Department").select_option("OSL-OPS")
    page.get_by_label("Number of codes").fill("2")
    with page.expect_download() as codes:
        post(page, "Download codes (CSV)")
    rows = list(csv.reader(io.StringIO(saved(codes.value).decode("utf-8-sig"))))
    assert len(rows) == 3 and all(r[0] == "OSL-OPS" for r in rows[1:]), rows
    journey.codes = [(r[0], r[1]) for r in rows[1:]]
    page.close()


def test_2_respondents_answer_by_link_on_a_phone_and_by_single_use_code(
    journey: Journey, deployment: Deployment, prod_browser: Browser
) -> None:
    assert journey.links and journey.codes, "the admin journey made no links or codes"
    phone = journey.watch(prod_browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True))
    try:
        page = phone.new_page()
        page.goto(journey.links["CPH-SALES"])
        page.locator("#aud-employee").check()
        page.get_by_role("button", name="Start the questionnaire").click()
        fill_questionnaire(page, seed=1)
        page.wait_for_url("**/thanks*")
        expect(page.locator("h1")).to_have_text("Thank you!")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert page.evaluate("window.isSecureContext") is True

        page.goto(f"{journey.url}/code")
        _, code = journey.codes[0]
        page.get_by_label("Code").fill(code)
        post(page, "Continue")
        fill_questionnaire(page, seed=2)
        page.wait_for_url("**/thanks*")
        expect(page.locator("h1")).to_have_text("Thank you!")
    finally:
        phone.close()

    # The rest of the responses a results page needs, as plain HTTPS posts.
    for code, count in EXTRA_RESPONSES.items():
        for n in range(count):
            answer_over_https(deployment, journey.links[code], seed=10 * n + len(code))


def test_3_hr_reads_results_prints_the_scorecard_exports_and_calls_the_api(
    journey: Journey, deployment: Deployment, tmp_path: Path
) -> None:
    url = journey.url
    assert journey.admin is not None
    deployment.portal("results", "refresh", "--survey", SLUG, "--wave", WAVE)
    page = journey.admin.new_page()
    page.goto(f"{url}/admin/surveys/{SLUG}/waves/{WAVE}/results")
    table = page.locator("table").first.inner_text()
    assert "Sales" in table and "Operations" in table
    assert re.search(r"\b\d{1,3}\b", table), table

    page.get_by_role("link", name="Sales").first.click()
    expect(page.locator("h1")).to_contain_text("Sales")
    expect(page.locator("#not-enough")).to_have_count(0)
    expect(page.locator("main")).to_contain_text(f"{EXTRA_RESPONSES['CPH-SALES'] + 1} responses")
    page.go_back()

    with page.expect_download() as results_csv:
        page.get_by_role("link", name="Download as CSV").click()
    text = saved(results_csv.value).decode("utf-8-sig")
    assert "CPH-SALES" in text and "OSL-OPS" in text
    with page.expect_download() as results_xlsx:
        page.get_by_role("link", name="Download as Excel (XLSX)").click()
    xlsx = saved(results_xlsx.value)
    assert zipfile.ZipFile(io.BytesIO(xlsx)).testzip() is None

    page.get_by_role("link", name="Reinforcement scorecard (print or PDF)").click()
    page.locator("main").wait_for()
    printed = tmp_path / "scorecard-printed.pdf"
    page.pdf(path=str(printed), format="A4", print_background=True)
    assert printed.read_bytes()[:5] == b"%PDF-"
    with page.expect_download() as card:
        page.get_by_role("link", name="Download PDF").click()
    pdf = tmp_path / "scorecard.pdf"
    pdf.write_bytes(saved(card.value))
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    assert re.search(r"Pages:\s+[1-9]", info.stdout), info.stdout

    page.goto(f"{url}/admin/tokens")
    page.get_by_label("What will use this token?").fill("monthly report script")
    post(page, "Create token")
    token = page.locator(".one-time-password code").inner_text().strip()
    page.close()

    assert api_get(deployment, "/api/v1/surveys", None)[0] == 401
    status, surveys = api_get(deployment, "/api/v1/surveys", token)
    assert status == 200 and SLUG in json.dumps(surveys)
    status, results = api_get(deployment, f"/api/v1/surveys/{SLUG}/waves/{WAVE}/results", token)
    assert status == 200 and "CPH-SALES" in json.dumps(results), results


def test_4_the_wave_closes_through_the_scheduled_job_and_the_admin_sees_it(
    journey: Journey, deployment: Deployment
) -> None:
    assert journey.admin is not None
    move_planned_close(deployment, date.today() - timedelta(days=1))
    deployment.close_due_waves()
    page = journey.admin.new_page()
    page.goto(f"{journey.url}/admin/surveys/{SLUG}/waves/{WAVE}")
    expect(page.locator(".wave-status h2")).to_have_text("This wave is closed")
    page.close()

    # Nothing stored tells who answered or from where: no client address, no browser.
    stored = stored_text(deployment)
    assert "Sent over HTTPS" in stored  # the dump does hold the answers
    assert "127.0.0.1" not in stored and "HeadlessChrome" not in stored

    # What the function logged all along names no link, no code and no client address.
    read_log = deployment.extra.get("log")
    if callable(read_log):
        logged = "\n".join(read_log())
        tokens = [link.rsplit("/", 1)[1] for link in journey.links.values()]
        secrets = [*tokens, *(code for _, code in journey.codes), "127.0.0.1"]
        assert [s for s in secrets if s in logged] == [], logged[-2000:]
