"""A clerk logs a DNA match, which confirms identity, verifies the family, then records the pickup that closes the case."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from service.services.intake import register_arrival
from tests.browser.conftest import screenshot
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_dna_result_confirms_identity_then_family_pickup(page, live_server, users, settings):
    case = register_arrival(users["staff"], {"name": "王老汉", "gender": "male", "age_min": "70", "age_max": "80"}, [],
                            settings).case
    page.goto(live_server + "/login")
    page.fill("input[name=username]", "staff1")
    page.fill("input[name=password]", PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/cases$"))
    page.goto(f"{live_server}/cases/{case.id}")

    dna = page.locator("tr.stepform", has=page.get_by_test_id("log-dna"))
    dna.locator("summary").click()
    dna.locator("select[name=kind]").select_option("requested")
    dna.locator("select[name=status]").select_option("in_progress")
    dna.locator("input[name=police_office]").fill("河西公安分局")
    dna.get_by_test_id("log-dna").click()
    expect(page.locator('tr[data-channel="dna"] .status')).to_have_text("进行中")

    dna = page.locator("tr.stepform", has=page.get_by_test_id("log-dna"))
    dna.locator("summary").click()
    dna.locator("select[name=kind]").select_option("result")
    dna.locator("select[name=status]").select_option("confirmed")
    dna.locator("input[name=sample_id]").fill("TJ-DNA-0042")
    dna.locator("input[name=result]").fill("match")
    dna.locator("input[name=note]").fill("公安DNA库比对一致")
    dna.get_by_test_id("log-dna").click()

    expect(page.locator(".flash-success")).to_contain_text("已记录")
    expect(page.get_by_test_id("identified-by")).to_have_text("DNA比对")
    expect(page.locator("h1 .identity")).to_have_text("已确认")
    expect(page.locator('tr[data-channel="dna"] .status')).to_have_text("已确认")

    # Nothing is handed to an unverified family: the clerk records what was checked (the DNA match) first.
    expect(page.get_by_test_id("handover-status")).to_have_text("未核实")
    page.get_by_test_id("evidence-dna_match").check()
    page.fill("input[name=detail_dna_match]", "TJ-DNA-0042")
    page.fill("input[name=family_name]", "王大")
    page.get_by_test_id("verify-submit").click()
    expect(page.get_by_test_id("handover-status")).to_have_text("已核实")

    page.get_by_test_id("exit-link").click()
    expect(page.get_by_test_id("handover-verified")).to_be_visible()
    page.select_option("#exit-type", "family_pickup")
    page.fill("input[name=collector_name]", "王大")
    page.fill("input[name=collector_id_number]", "110105194912310021")  # wrong checksum first
    page.fill("input[name=relation]", "儿子")
    page.get_by_test_id("exit-submit").click()
    expect(page.get_by_test_id("exit-error")).to_contain_text("collector")
    page.fill("input[name=collector_id_number]", "11010519491231002X")
    page.get_by_test_id("exit-submit").click()

    expect(page.get_by_test_id("exit-type")).to_have_text("亲属接领")
    expect(page.locator("h1 .state")).to_have_text("已返乡")
    expect(page.get_by_test_id("timeline")).to_contain_text("离站")
    screenshot(page, "case-closed-family-pickup")
