"""The web UI end to end, as a person uses it: headless Chromium (Debian's, driven by Playwright)
on the page the API serves, against the local engine with the scripted model. Each view is saved
as a screenshot (docs/screenshots/ keeps committed copies)."""

import json
import os
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import playwright.sync_api as playwright_api
import pytest

from sfn_agents.local_api import LocalApi

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("SFN_AGENTS_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(os.environ.get("SFN_AGENTS_SCREENSHOTS", ROOT / ".screenshots"))
KEY = "ui-test-key"
QUESTION = "How many players are there?"


@pytest.fixture(scope="module")
def site(engine, scripted_model) -> Iterator[str]:
    scripted_model.play(json.loads((ROOT / "events" / "sql-approval-ui.script.json").read_text()))
    with LocalApi(engine, port=0, api_key=KEY) as local:
        yield local.url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    assert Path(CHROMIUM).is_file(), f"{CHROMIUM} missing: make test installs Debian's chromium"
    with playwright_api.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, site):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    opened = context.new_page()
    opened.goto(site)
    yield opened
    context.close()


def connect(page) -> None:
    page.get_by_label("API key").fill(KEY)
    page.get_by_role("button", name="Use key").click()
    playwright_api.expect(page.locator("#key-status")).to_have_text("connected")


def ask(page, question: str = QUESTION):
    page.get_by_label("Agent").select_option("sql-approval-agent")
    page.get_by_label("Message").fill(question)
    page.get_by_role("button", name="Send").click()
    exchange = page.locator(".exchange").last
    playwright_api.expect(exchange.locator(".tool.waiting")).to_contain_text(
        "execute_sql_query waits for approval", timeout=60_000
    )
    return exchange


def test_a_wrong_key_is_refused_and_not_kept(page):
    page.get_by_label("API key").fill("wrong")
    page.get_by_role("button", name="Use key").click()
    playwright_api.expect(page.locator("#key-status")).to_contain_text("403")
    assert page.evaluate("sessionStorage.getItem('sfn-agents-api-key')") is None


def test_ask_approve_in_the_chat_and_read_the_answer(page):
    SHOTS.mkdir(parents=True, exist_ok=True)
    connect(page)
    exchange = ask(page)
    expect = playwright_api.expect
    call = exchange.locator(".tool.call")
    expect(call).to_contain_text("SELECT COUNT(*) AS players FROM players")
    exchange.get_by_role("button", name="Approve").click()
    expect(exchange.locator(".bubble.answer")).to_contain_text(
        "The database holds 750 players.", timeout=60_000
    )
    result = exchange.locator(".tool.result table.rows")
    expect(result.locator("th")).to_have_text(["players"])
    expect(result.locator("td")).to_have_text(["750"])
    expect(exchange.locator(".summary")).to_contain_text("succeeded · 2 turns")
    expect(exchange.locator(".summary")).to_contain_text("transitions")
    receipt = re.compile(r"cost \$\d+\.\d{4} \(model \$")
    expect(exchange.locator(".summary")).to_contain_text(receipt)
    expect(page.locator("#sessions li")).not_to_have_count(0)
    page.screenshot(path=SHOTS / "chat.png", full_page=True)

    # The key is kept for the browser session: a reload stays connected.
    page.reload()
    expect(page.locator("#key-status")).to_have_text("connected")


def test_reject_with_a_reason_in_the_approvals_view_and_the_model_changes_course(page):
    connect(page)
    exchange = ask(page, "How many players, counted the quick way?")
    page.get_by_role("button", name="Approvals").click()
    card = page.locator(".approval").filter(has_text="execute_sql_query").first
    playwright_api.expect(card).to_contain_text("sql-approval-agent")
    playwright_api.expect(card.locator("pre")).to_contain_text("SELECT COUNT(*)")
    page.screenshot(path=SHOTS / "approvals.png", full_page=True)
    card.get_by_role("button", name="Reject", exact=True).click()
    card.get_by_label("Reason").fill("count only players with batting lines")
    card.get_by_role("button", name="Confirm reject").click()
    playwright_api.expect(card).to_contain_text("rejected")

    page.get_by_role("button", name="Chat").click()
    answer = exchange.locator(".bubble.answer")
    playwright_api.expect(answer).to_contain_text(
        "rejected my query (count only players with batting lines)", timeout=60_000
    )
    playwright_api.expect(exchange.locator(".tool.result.failed")).to_contain_text("rejected")


def test_runs_view_lists_runs_and_opens_their_events(page):
    connect(page)
    page.get_by_role("button", name="Runs").click()
    rows = page.locator("#run-table tbody tr")
    playwright_api.expect(rows.first).to_be_visible()
    first = rows.filter(has_text=QUESTION).first
    playwright_api.expect(first).to_contain_text("SUCCEEDED")
    playwright_api.expect(first).to_contain_text("sql-approval-agent")
    playwright_api.expect(first.locator("td").nth(7)).to_contain_text("$")
    first.get_by_role("link").click()
    playwright_api.expect(page.locator("#run-detail .bubble.answer")).to_contain_text("750 players")
    page.screenshot(path=SHOTS / "runs.png", full_page=True)


def test_a_throttled_call_is_sent_again_and_the_page_carries_on(page, site):
    """Another client of the same key uses up the usage plan (burst 20, 10 a second) while the
    page connects: API Gateway answers its calls 429, and the page waits and asks again."""
    throttled: list[int] = []

    def use_up_the_plan() -> None:
        until = time.monotonic() + 2
        while time.monotonic() < until:
            request = urllib.request.Request(f"{site}/agents", headers={"x-api-key": KEY})
            try:
                urllib.request.urlopen(request, timeout=30).close()
            except urllib.error.HTTPError as error:
                throttled.append(error.code)

    other = threading.Thread(target=use_up_the_plan)
    other.start()
    while not throttled:
        time.sleep(0.01)
    connect(page)  # throttled at first, then answered
    other.join()
    assert set(throttled) == {429}
    playwright_api.expect(page.get_by_label("Agent").locator("option")).not_to_have_count(0)
