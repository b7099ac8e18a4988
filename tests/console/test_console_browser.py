"""The operator console in a real browser (issue 11): headless Chromium logs into the admin
served by gunicorn (DEBUG off, static files by WhiteNoise), engages the kill switch of a
market `run_amm` is quoting, with a reason, through the changelist action and its
confirmation page; the market's AMM orders are gone from the platform by the time the
action's answer is shown (within one cycle), and the dashboard shows the switch ON.

Screenshots go to the test's output folder (pytest's tmp_path), or to AMM_SCREENSHOT_DIR
when set (how the README's pictures are made)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from amm.runtime.context import context_reset
from tests.amm.runtime.harness import (  # noqa: F401 - fixtures
    platform_open_orders,
    quoting,
    redis_orders,
    wait_until,
    world_factory,
)
from tests.console.browser import browser_or_skip

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("amm_console")]

OPERATOR, PASSWORD = "console-operator", "console-pass-8361"
START_TIMEOUT = 45


@pytest.fixture
def browser():
    driver = browser_or_skip()
    yield driver
    driver.quit()


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("AMM_SCREENSHOT_DIR") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _operator():
    from ammproject.security.operators import operator_ensure

    return operator_ensure(username=OPERATOR, password=PASSWORD)


def _login(browser, base_url: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{base_url}/admin/login/?next=/admin/")
    browser.find_element(By.NAME, "username").send_keys(OPERATOR)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait_until(lambda: "/admin/login" not in browser.current_url, timeout=15, message="logged in")


def test_kill_switch_from_the_admin_empties_the_book_and_the_dashboard_shows_it(world_factory, browser, shots,
                                                                                settings):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    from amm.models import AMMInstance, KillSwitchChange

    world = world_factory(markets=2, console=True)  # gunicorn serves the platform and the console
    m, other = world.markets
    settings.AMM_PLATFORM_BASE_URL = world.platform.url
    settings.AMM_PLATFORM_API_KEY = world.amm_key
    context_reset()
    _operator()
    world.run_amm(workers=2)
    wait_until(lambda: quoting(m) and quoting(other), timeout=START_TIMEOUT, message="both markets quoted")

    _login(browser, world.platform.url)
    css = browser.execute_script(
        "return getComputedStyle(document.querySelector('#header')).backgroundColor")
    assert css not in ("", "rgba(0, 0, 0, 0)"), "the admin is unstyled: its static files are not served"

    browser.get(f"{world.platform.url}/admin/amm/amminstance/")
    browser.save_screenshot(str(shots / "console.png"))
    pk = AMMInstance.objects.get(market_id=m).pk
    browser.find_element(By.CSS_SELECTOR, f'input[name="_selected_action"][value="{pk}"]').click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("kill")
    browser.find_element(By.CSS_SELECTOR, 'button[name="index"]').click()

    # the click submits the action: wait for the confirmation page, not the changelist still shown
    reason = WebDriverWait(browser, 30).until(lambda d: d.find_element(By.NAME, "reason"))
    reason.send_keys("browser test: operator pulls the switch")
    browser.save_screenshot(str(shots / "kill-confirmation.png"))
    assert platform_open_orders(m), "the market was quoting before the confirmation"
    browser.find_element(By.NAME, "confirm").click()
    WebDriverWait(browser, 30).until(lambda d: "kill switch" in d.find_element(By.CSS_SELECTOR, "ul.messagelist").text)

    # The action returned: the book is empty on the platform and in Redis, and stays so.
    assert platform_open_orders(m) == {}
    assert redis_orders(m) == {}
    instance = AMMInstance.objects.get(market_id=m)
    assert (instance.kill_switch, instance.lifecycle_state) == ("ON", "EMERGENCY")
    change = KillSwitchChange.objects.filter(market_id=m).latest("timestamp_ms")
    assert change.actor == f"admin:{OPERATOR}" and "browser test" in change.reason
    assert quoting(other), "the other market keeps quoting"
    browser.save_screenshot(str(shots / "console-after-kill.png"))

    browser.get(f"{world.platform.url}/amm/dashboard/")
    row = f'#dash-rows tr[data-id="{m}"]'
    WebDriverWait(browser, 30).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, row)
        and d.find_element(By.CSS_SELECTOR, f"{row} td.c-kill").text.strip() == "ON")
    ids = [tr.get_attribute("data-id") for tr in browser.find_elements(By.CSS_SELECTOR, "#dash-rows tr[data-id]")]
    assert ids[0] == m, f"the killed market needs attention first: {ids}"
    browser.save_screenshot(str(shots / "dashboard.png"))
    assert platform_open_orders(m) == {}
