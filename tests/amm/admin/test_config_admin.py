"""Per-market config through the console (SPEC §4, §9): a valid change bumps the version and
publishes `amm:config:{market_id}`; an out-of-range value is an error on its field and
changes nothing in the database or Redis; a form opened on an older version is refused."""
from __future__ import annotations

import pytest

from amm import state
from amm.models import PARAMETER_NAMES, MarketConfig
from amm.services import config_update
from tests.amm.admin.conftest import enable

pytestmark = pytest.mark.django_db


def _url(config) -> str:
    return f"/admin/amm/marketconfig/{config.pk}/change/"


def _form_data(config: MarketConfig, **changes) -> dict:
    """The change form as the browser sends it (an unchecked checkbox is not sent)."""
    data = {"loaded_version": config.version, "_save": "Save"}
    for name in PARAMETER_NAMES:
        value = changes.get(name, getattr(config, name))
        if value is True:
            data[name] = "on"
        elif value is not False:
            data[name] = value
    return data


@pytest.fixture
def editor(login):
    client, _ = login("amm.view_marketconfig", "amm.change_marketconfig", name="gina")
    return client


def test_form_shows_ranges_and_units(editor, redis_conn):
    config = enable("MKT-C").config
    html = editor.get(_url(config)).content.decode()
    assert "most cash in cents the AMM may commit to this market (its budget) [0 .. 1000000000000]" in html
    assert "quote cycle interval in ms [50 .. 3600000] (default 1000)" in html


def test_a_valid_change_bumps_the_version_and_publishes_to_redis(editor, redis_conn,
                                                                 django_capture_on_commit_callbacks):
    config = enable("MKT-C").config
    assert state.config_get("MKT-C")["version"] == "1"
    with django_capture_on_commit_callbacks(execute=True):
        response = editor.post(_url(config), _form_data(config, base_spread_cents=4, budget_limit_cents=123_456,
                                                        auto_reinvest=False))
    assert response.status_code == 302, response.content.decode()[:2000]
    config.refresh_from_db()
    assert (config.version, config.base_spread_cents, config.budget_limit_cents, config.auto_reinvest,
            config.updated_by) == (2, 4, 123_456, False, "admin:gina")
    assert config.instance.budget_cents == 123_456  # the one budget
    published = state.config_get("MKT-C")
    assert (published["version"], published["base_spread_cents"], published["budget_limit_cents"],
            published["auto_reinvest"]) == ("2", "4", "123456", "0")


@pytest.mark.parametrize("changes, field, message", [
    ({"order_levels": 11}, "order_levels", "must be at most 10 (got 11)"),
    ({"base_spread_cents": 0}, "base_spread_cents", "must be at least 1 (got 0)"),
    ({"base_spread_cents": 10, "max_spread_cents": 5}, "max_spread_cents", "must be at least base_spread_cents (10)"),
    ({"budget_limit_cents": -1}, "budget_limit_cents", "must be at least 0 (got -1)"),
    ({"gamma_short": "lots"}, "gamma_short", "Enter a number."),
])
def test_an_out_of_range_value_is_a_form_error_and_changes_nothing(changes, field, message, editor, redis_conn,
                                                                   django_capture_on_commit_callbacks):
    config = enable("MKT-C").config
    before_db = MarketConfig.objects.filter(pk=config.pk).values().get()
    before_redis = state.config_get("MKT-C")
    with django_capture_on_commit_callbacks(execute=True):
        response = editor.post(_url(config), _form_data(config, **changes))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert message in errors[field][0], errors
    assert MarketConfig.objects.filter(pk=config.pk).values().get() == before_db
    assert state.config_get("MKT-C") == before_redis


def test_a_form_opened_before_another_change_is_refused(editor, redis_conn, django_capture_on_commit_callbacks):
    config = enable("MKT-C").config
    stale = _form_data(config, order_size=50)
    with django_capture_on_commit_callbacks(execute=True):
        config_update(market_id="MKT-C", actor="someone", order_size=70)
        response = editor.post(_url(config), stale)
    assert response.status_code == 200
    assert "this config changed since you opened it (now version 2, by someone)" in response.content.decode()
    config.refresh_from_db()
    assert (config.version, config.order_size) == (2, 70)
    assert state.config_get("MKT-C")["order_size"] == "70"


def test_configs_are_neither_added_nor_deleted_here(editor, redis_conn):
    config = enable("MKT-C").config
    assert editor.get("/admin/amm/marketconfig/add/").status_code == 403
    assert editor.post(f"/admin/amm/marketconfig/{config.pk}/delete/", {"post": "yes"}).status_code == 403
    assert MarketConfig.objects.filter(pk=config.pk).exists()
