"""The dashboard in a real browser (headless Chromium over the live server): the script
builds the table attention first, draws the selected market's charts with the vendored
uPlot, and refreshes figures in place without reloading the page."""
from __future__ import annotations

import pytest

from amm import state
from amm.runtime.history_sampler import history_sample
from tests.amm.dashboard.support import market
from tests.console.browser import browser_or_skip

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser():
    driver = browser_or_skip()
    yield driver
    driver.quit()


def _login(browser, live_server, django_user_model):
    from django.contrib.auth.models import Permission
    from selenium.webdriver.common.by import By

    user = django_user_model.objects.create_user("watcher", password="pw-watch-1", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_amminstance", content_type__app_label="amm"))
    browser.get(f"{live_server.url}/amm/dashboard/")  # sent to the login page first
    browser.find_element(By.NAME, "username").send_keys("watcher")
    browser.find_element(By.NAME, "password").send_keys("pw-watch-1")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()


def test_the_page_shows_markets_attention_first_and_refreshes_in_place(browser, live_server, django_user_model,
                                                                       redis_conn, settings):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    settings.AMM_DASHBOARD_REFRESH_MS = 1000
    now = state.now_ms()
    market("CALM", redis_state={"fair_price_cents": 50, "last_requote_ms": now})
    market("HALTED", lifecycle="EMERGENCY", kill_switch="ON", defense="KILL_SWITCH",
           redis_state={"fair_price_cents": 31})
    history_sample(["CALM", "HALTED"], now_ms=now - 10_000)
    history_sample(["CALM", "HALTED"], now_ms=now)
    _login(browser, live_server, django_user_model)
    wait = WebDriverWait(browser, 15)

    def row_ids(driver):
        return [tr.get_attribute("data-id") for tr in driver.find_elements(By.CSS_SELECTOR, "#dash-rows tr[data-id]")]

    wait.until(lambda d: row_ids(d) == ["HALTED", "CALM"])
    assert "KILL SWITCH" in browser.find_element(By.CSS_SELECTOR, '#dash-rows tr[data-id="HALTED"]').text
    assert browser.find_element(By.CSS_SELECTOR, "#d-title").text == "HALTED"  # the most urgent, selected
    assert browser.find_elements(By.CSS_SELECTOR, "#chart-price .uplot canvas")  # uPlot drew its chart

    browser.find_element(By.CSS_SELECTOR, '#dash-rows tr[data-id="CALM"]').click()
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#d-title").text == "CALM")

    browser.execute_script("window.__same_page = true")
    state.state_update("CALM", fair_price_cents=57)
    fair = '#dash-rows tr[data-id="CALM"] td.c-fair'
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, fair).text == "57")
    assert browser.execute_script("return window.__same_page") is True  # updated without a reload
    assert browser.find_element(By.CSS_SELECTOR, "#d-title").text == "CALM"  # the selection kept
