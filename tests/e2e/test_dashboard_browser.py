"""The dashboard in a real browser (Debian's Chromium, Selenium) over the stack as processes."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait
from support.system_tools import apt_install
from twinmcp.auth.v1 import auth_pb2, auth_pb2_grpc
from twinmcp.cli.stack import PROJECT_ROOT, SERVICES, Stack
from twinmcp.runtime.channels import open_channel

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# Screenshots of every page, for people to look at; tmp/ is ignored by git.
ARTEFACTS = PROJECT_ROOT / "tmp" / "artefacts" / "dashboard"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT_SECONDS = 90


def _chromium() -> None:
    """Debian's Chromium and its driver; pip's and npm's browser downloads are not reachable."""
    if os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER):
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip(
            "Chromium is not installed and this user cannot install it: run "
            "`apt-get install -y chromium chromium-driver` as root"
        )
    apt_install("chromium")
    apt_install("chromium-driver")


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    _chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root in a container has no user namespaces for the sandbox
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1100,900",
        "--lang=en-US",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@dataclass
class Dashboard:
    url: str
    driver: WebDriver
    http: aiohttp.ClientSession

    def open(self, path: str) -> None:
        self.driver.get(f"{self.url}{path}")

    def shot(self, name: str) -> Path:
        """Saves the page as an artefact and checks it rendered: a heading and no error page."""
        heading = self.driver.find_element(By.TAG_NAME, "h1").text
        assert heading, f"{name}: the page has no heading"
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTEFACTS / f"{name}.png"
        assert self.driver.save_screenshot(str(path)), name
        return path

    def fill(self, field_id: str, value: str) -> None:
        element = self.driver.find_element(By.ID, field_id)
        element.clear()
        element.send_keys(value)

    def submit(self, form_action: str) -> None:
        form = self.driver.find_element(By.CSS_SELECTOR, f'form[action="{form_action}"]')
        self.click(form.find_element(By.CSS_SELECTOR, 'button[type="submit"]'))

    def click(self, element: WebElement) -> None:
        """Clicks and waits for the next page: a click returns before its navigation ends."""
        old = self.driver.find_element(By.TAG_NAME, "html")
        try:
            element.click()
        except WebDriverException as error:
            # chromedriver sometimes reports the clicked node gone: the page it left, that is.
            if "does not belong to the document" not in str(error):
                raise
        WebDriverWait(self.driver, 30).until(staleness_of(old))

    def rows(self, table_id: str) -> list[str]:
        return [
            row.text for row in self.driver.find_elements(By.CSS_SELECTOR, f"#{table_id} tbody tr")
        ]

    def usage_total(self) -> int:
        found = re.search(r"(\d+) requests in this period", self.driver.page_source)
        assert found, "the account page shows no usage total"
        return int(found[1])

    def wait_for(self, check: Callable[[WebDriver], object], timeout: float = WAIT_SECONDS) -> None:
        WebDriverWait(
            self.driver,
            timeout,
            poll_frequency=0.5,
            ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
        ).until(check)

    async def rest(self, path: str, key: str) -> int:
        async with self.http.get(
            f"{self.url}{path}", headers={"Authorization": f"Bearer {key}"}
        ) as reply:
            return reply.status


@dataclass
class Operator:
    user_id: str
    admin_key: str


@pytest.fixture
async def stack(make_env: Callable[..., dict[str, str]]) -> AsyncIterator[tuple[Stack, Operator]]:
    # Usage is flushed to the database often, so the chart follows REST calls within a second.
    env = make_env(USAGE_FLUSH_SECONDS="0.2")
    running = Stack(env)
    try:
        await running.start(SERVICES, timeout=90)
        async with open_channel(env["AUTH_ADDR"]) as channel:
            auth = auth_pb2_grpc.AuthServiceStub(channel)
            user = await auth.CreateUser(
                auth_pb2.CreateUserRequest(
                    login=f"ada{uuid.uuid4().hex[:6]}", tier=auth_pb2.TIER_FREE, is_admin=True
                ),
                timeout=10,
            )
            key = await auth.CreateApiKey(
                auth_pb2.CreateApiKeyRequest(
                    user_id=user.user.user_id, name="operator", scopes=["read", "admin"]
                ),
                timeout=10,
            )
        yield running, Operator(user.user.user_id, key.secret)
    finally:
        await running.stop()


@pytest.fixture
async def dashboard(
    stack: tuple[Stack, Operator], browser: WebDriver
) -> AsyncIterator[tuple[Dashboard, Operator]]:
    async with aiohttp.ClientSession() as http:
        yield Dashboard(stack[0].gateway_url, browser, http), stack[1]


async def test_a_person_signs_in_manages_keys_and_sees_usage_move(
    dashboard: tuple[Dashboard, Operator],
) -> None:
    page, operator = dashboard
    page.open("/dashboard/libraries")
    assert "/dashboard/sign-in" in page.driver.current_url  # signed out: sent to sign in
    page.shot("sign-in")
    page.fill("api_key", "not-a-key")
    page.submit("/dashboard/sign-in")
    assert "not valid or has been revoked" in page.driver.find_element(By.ID, "sign-in-error").text
    # By keyboard alone: Tab reaches the key field, Enter sends the form.
    body = page.driver.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)
    for _ in range(10):
        if page.driver.switch_to.active_element.get_attribute("id") == "api_key":
            break
        page.driver.switch_to.active_element.send_keys(Keys.TAB)
    field = page.driver.switch_to.active_element
    assert field.get_attribute("id") == "api_key", "Tab never reached the API key field"
    field.clear()
    field.send_keys(operator.admin_key)
    old = page.driver.find_element(By.TAG_NAME, "html")
    field.send_keys(Keys.ENTER)
    WebDriverWait(page.driver, 30).until(staleness_of(old))
    assert page.driver.current_url.endswith("/dashboard/libraries")  # back where it was going
    assert operator.admin_key not in page.driver.page_source

    page.open("/dashboard")
    assert page.driver.find_element(By.TAG_NAME, "h1").text == "Your account"
    assert any("operator" in row for row in page.rows("keys"))
    page.fill("key-name", "laptop")
    page.submit("/dashboard/keys")
    secret = page.driver.find_element(By.ID, "secret").get_attribute("value") or ""
    assert secret
    assert secret in page.driver.find_element(By.ID, "config-1").text  # Claude Code, filled in
    assert page.driver.find_element(By.CSS_SELECTOR, "button.copy").is_displayed()
    page.shot("account-new-key")
    assert await page.rest("/api/v1/account/keys", secret) == 200

    # Usage follows REST calls made with the user's key.
    page.open("/dashboard")
    before = page.usage_total()
    for _ in range(5):
        assert await page.rest("/api/v2/libs/search?libraryName=twinmcp", secret) == 200

    def moved(driver: WebDriver) -> bool:
        driver.refresh()
        return page.usage_total() >= before + 5

    page.wait_for(moved, timeout=30)
    assert len(page.driver.find_elements(By.CSS_SELECTOR, "svg.chart rect.bar")) == 14
    page.shot("account-usage")

    # Revoking it in the dashboard stops it at once.
    row = page.driver.find_element(
        By.XPATH, "//table[@id='keys']//tr[td[1][normalize-space()='laptop']]"
    )
    page.click(row.find_element(By.CSS_SELECTOR, "button.danger"))
    assert "revoked" in page.driver.find_element(By.CSS_SELECTOR, ".notice").text
    assert secret not in page.driver.page_source
    assert await page.rest("/api/v1/account/keys", secret) == 401

    page.click(page.driver.find_element(By.CSS_SELECTOR, "form.signout button"))
    assert "/dashboard/sign-in" in page.driver.current_url
    page.open("/dashboard")
    assert "/dashboard/sign-in" in page.driver.current_url


async def test_an_admin_adds_a_folder_watches_its_job_succeed_and_queries_it(
    dashboard: tuple[Dashboard, Operator], tmp_path: Path
) -> None:
    page, operator = dashboard
    docs = tmp_path / "widgets" / "docs"
    docs.mkdir(parents=True)
    (docs / "index.md").write_text(
        "# Widgets\n\nWidgets spin when you call `spin()`.\n\n## Spinning a widget\n\n"
        "Call spin with a speed in turns per second.\n\n```python\nfrom widgets import spin\n"
        "spin(speed=3)\n```\n"
    )
    page.open("/dashboard/sign-in")
    page.fill("api_key", operator.admin_key)
    page.submit("/dashboard/sign-in")

    page.open("/dashboard/jobs")
    page.click(page.driver.find_element(By.LINK_TEXT, "Add a source"))
    page.shot("add-source")
    Select(page.driver.find_element(By.ID, "src-kind")).select_by_value("local")
    page.fill("src-source", str(tmp_path / "widgets"))
    page.fill("src-library", "/acme/widgets")
    page.fill("src-version", "1.0")
    page.submit("/dashboard/sources")
    assert "/dashboard/jobs?submitted=" in page.driver.current_url
    page.shot("jobs-running")
    # No script: the page refreshes itself (meta refresh) while a job is queued or running.
    page.wait_for(
        lambda d: d.find_element(By.CSS_SELECTOR, '#jobs tr[data-state="succeeded"]'),
    )
    succeeded = page.driver.find_element(By.CSS_SELECTOR, '#jobs tr[data-state="succeeded"]')
    assert "/acme/widgets" in succeeded.text
    assert not page.driver.find_elements(By.CSS_SELECTOR, 'meta[http-equiv="refresh"]')
    page.shot("jobs")

    page.open("/dashboard/libraries?q=widgets")
    rows = page.rows("libraries")
    assert len(rows) == 1 and "/acme/widgets" in rows[0] and "1.0" in rows[0]
    page.shot("libraries")

    page.click(page.driver.find_element(By.CSS_SELECTOR, "#libraries tbody a"))
    assert page.driver.find_element(By.TAG_NAME, "h1").text
    assert any(row.startswith("1.0") for row in page.rows("versions"))
    page.fill("pg-query", "How do I spin a widget?")
    page.submit("/dashboard/libraries/acme/widgets")
    answer = page.driver.find_element(By.ID, "answer").text
    assert "spin(speed=3)" in answer
    facts = page.driver.find_element(By.ID, "answer-facts").text
    assert "1.0" in facts and "ms" in facts
    page.shot("library-playground")

    page.open("/dashboard/users")
    assert any(operator.user_id in row and "free" in row for row in page.rows("users"))
    page.shot("users")

    # A phone's width (headless windows are at least 500 px wide: the viewport is emulated).
    page.driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True},
    )
    for path in ("/dashboard", "/dashboard/libraries", "/dashboard/jobs", "/dashboard/users"):
        page.open(path)
        width = page.driver.execute_script("return document.documentElement.scrollWidth")
        assert width <= 390, f"{path} is {width}px wide on a 390px phone: the page scrolls sideways"
    page.open("/dashboard")
    page.shot("account-phone")
