"""Browser tests of the portal (issue 16): headless Chromium driven by Playwright.

One development server (``make run``'s, DEBUG on: what a newcomer sees), one organization
and one browser serve the whole package; each test opens its own browser context, i.e.
its own cookies. Package scope, not session: Playwright's sync API runs an event loop in
the main thread while it is started, and Django refuses database access under a running
loop, so the browser must be stopped before the tests after this package run. The
session's real Celery worker indexes the uploads. Chromium is Debian's
(``make test-services`` installs it); Playwright never downloads a browser.

Screenshots of every page a test looks at are saved at desktop and phone width under
``<OPAA_DATA_DIR>/screenshots/`` for a person to look at.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from tests.conftest import PASSWORD, _org, free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}
# The first question loads the embedding model in the server; a busy machine is slow.
SLOW_MS = 120_000

OWNER = "olive@portal.example"
EDITOR = "eddie@portal.example"
VIEWER = "vera@portal.example"

REFUND_POLICY = b"""# Travel policy

Refunds for travel must be claimed within 30 days of the trip.
The per diem for a trip abroad is 42 euros per day.

## Hotels

Hotel rooms are booked through the travel desk. The nightly limit is 150 euros.
"""


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/portal/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@dataclass(frozen=True)
class Portal:
    base_url: str
    workspace: str
    data_dir: Path
    server_log: Path

    def url(self, path: str) -> str:
        return self.base_url + path


@pytest.fixture(scope="package")
def portal_org(django_db_setup, django_db_blocker):
    """An organization of the session with an owner, an editor and a viewer, committed."""
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    from accounts.models import User
    from tenants.services import organization_delete
    from workspaces.models import Membership, Role, Workspace
    from workspaces.rls import organization_scope

    # The server runs the development settings, which do not know the test settings' fast
    # MD5 hasher: the passwords are stored with PBKDF2 (few iterations, it is a test).
    password = PBKDF2PasswordHasher().encode(PASSWORD, "portaltests", iterations=1000)
    with django_db_blocker.unblock():
        org = _org("folio", OWNER)
        with schema_context(org.schema), organization_scope():
            general = Workspace.objects.get(is_default=True)
            for email, role in ((EDITOR, Role.EDITOR), (VIEWER, Role.VIEWER)):
                user = User.objects.create_user(email, PASSWORD)
                Membership.objects.create(workspace=general, user=user, role=role)
            User.objects.filter(email__in=(OWNER, EDITOR, VIEWER)).update(password=password)
            slug = general.slug
        connection.set_schema_to_public()
    try:
        yield org, slug
    finally:
        with django_db_blocker.unblock():
            connection.set_schema_to_public()
            organization_delete(organization=org.organization)


@pytest.fixture(scope="package")
def portal(portal_org, _worker_session, django_db_blocker, tmp_path_factory) -> Iterator[Portal]:
    """``make run``'s web server (development settings) serving the session's organization."""
    from opaa import cli
    from opaa.settings.env import DATA_DIR
    from tests.opaa.test_connections import _database_env, _server, _settled

    org, workspace = portal_org
    port = free_port()
    logs = tmp_path_factory.mktemp("portal-server")
    command, env = cli.processes(port=port, data_dir=logs)["web"]
    application_name = f"opaa-web-portal-{uuid.uuid4().hex[:8]}"
    env = {
        **env,
        **_database_env(),
        "DJANGO_SETTINGS_MODULE": "opaa.settings.dev",
        "DATABASE_APPLICATION_NAME": application_name,
    }
    with django_db_blocker.unblock():
        with _server(command, env, port, logs / "runserver.log"):
            yield Portal(
                base_url=f"http://{org.domain}:{port}",
                workspace=workspace,
                data_dir=DATA_DIR,
                server_log=logs / "runserver.log",
            )
        # The test database is dropped at the end of the session: not while the stopped
        # server's connections are still leaving.
        _settled(application_name, at_most=0)


@pytest.fixture(scope="package")
def browser(portal) -> Iterator:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: `make test-services` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    # Playwright's synchronous API keeps an event loop running in this thread, where
    # Django refuses database access (it takes the code for async) and, allowed, would
    # open connections of its own that outlive the session. So the fixtures that use the
    # database (the organization, the server, the worker) come first (``portal``) and are
    # torn down after the browser; the tests themselves only drive the browser.
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="package")
def screenshots() -> Path:
    from opaa.settings.env import DATA_DIR

    folder = DATA_DIR / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def shoot(screenshots: Path) -> Callable:
    """``shoot(page, name)``: full-page screenshots at desktop, then phone width."""

    def take(page, name: str) -> None:
        original = page.viewport_size
        for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(size)
            page.screenshot(path=screenshots / f"{name}-{label}.png", full_page=True)
        page.set_viewport_size(original)

    return take


def _signed_in(page, portal: Portal, email: str):
    page.goto(portal.url("/accounts/login/"))
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert "/ask/" in page.url, f"{email} could not sign in: {page.url}\n{page.content()[:2000]}"
    return page


@pytest.fixture
def sign_in(browser, portal) -> Iterator[Callable]:
    """``sign_in(email)``: a new browser context signed in as ``email``; returns a page."""
    contexts = []

    def open_as(email: str, *, viewport: dict | None = None, **options):
        # options: further browser-context options, e.g. color_scheme="dark".
        context = browser.new_context(viewport=viewport or DESKTOP, **options)
        context.set_default_timeout(30_000)
        contexts.append(context)
        return _signed_in(context.new_page(), portal, email)

    yield open_as
    for context in contexts:
        context.close()


@pytest.fixture(scope="package")
def indexed_document(browser, portal, _worker_session, tmp_path_factory) -> str:
    """The travel policy, uploaded by the owner through the portal and indexed."""
    folder = tmp_path_factory.mktemp("portal-upload")
    path = folder / "travel-policy.md"
    path.write_bytes(REFUND_POLICY)
    context = browser.new_context(viewport=DESKTOP)
    try:
        page = _signed_in(context.new_page(), portal, OWNER)
        page.goto(portal.url(f"/documents/?workspace={portal.workspace}"))
        page.set_input_files("#files", str(path))
        page.locator(".upload-results").get_by_text("Indexed").wait_for(timeout=SLOW_MS)
    finally:
        context.close()
    return "travel-policy.md"


# Text whose colour is too close to its background's, as axe-core's color-contrast rule
# judges it (WCAG AA: 4.5:1, 3:1 for large text), over the visible text of the page.
_CONTRAST_JS = """() => {
  const rgba = c => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map(v => { v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const background = e => {
    for (; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c;
    }
    return [255, 255, 255];
  };
  const failures = [];
  for (const e of document.querySelectorAll("header *, main *")) {
    const own = [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || !e.getClientRects().length) continue;
    const s = getComputedStyle(e);
    if (s.visibility === "hidden" || parseFloat(s.opacity) === 0) continue;
    if (e.closest(".sr-only, .skip-link")) continue;
    const [a, b] = [lum(rgba(s.color)), lum(background(e))].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const size = parseFloat(s.fontSize), bold = parseInt(s.fontWeight, 10) >= 700;
    const needed = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    const text = e.textContent.trim().slice(0, 40);
    if (ratio < needed) failures.push(`${e.tagName}.${e.className} "${text}" ${ratio.toFixed(2)}`);
  }
  return failures;
}"""


def contrast_failures(page) -> list[str]:
    """The visible text of ``page`` below WCAG AA contrast (empty when all is readable)."""
    return page.evaluate(_CONTRAST_JS)


AXE = Path(__file__).with_name("vendor") / "axe.min.js"


def axe_violations(page, *, impacts: tuple[str, ...] = ("serious", "critical")) -> list[str]:
    """axe-core's violations of ``page`` at the given impacts, one line each."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    results = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + ", ".join(str(node["target"]) for node in v["nodes"][:5])
        for v in results
        if v["impact"] in impacts
    ]


def db_in_thread(django_db_blocker, target, *args) -> None:
    """Run ``target(*args)`` with database access in a thread of its own (Playwright's
    event loop makes the test's thread async to Django); its exception is re-raised."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            target(*args)
        except BaseException as error:  # re-raised in the test's thread
            failures.append(error)

    with django_db_blocker.unblock():
        worker = threading.Thread(target=run)
        worker.start()
        worker.join()
    if failures:
        raise failures[0]
