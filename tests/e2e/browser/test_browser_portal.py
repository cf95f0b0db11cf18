"""The customer portal in real Chromium: sign-in, elder mode, languages, consents, accessibility, weight."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from netfin.core.ids import format_id
from netfin.core.money import Money
from netfin.credit.origination import Application, Decision
from netfin.identity.consents.model import ConsentStatus
from netfin.identity.model import Actor

from .conftest import (
    ARTEFACTS,
    OPERATOR,
    PageProblems,
    Person,
    Portal,
    axe_findings,
    axe_scan,
    elder_mode,
    set_elder_mode,
    shot,
    sign_in,
    sign_out,
)

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page, Response

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAGE_BYTES_MAX = 100 * 1024
CUSTOMER_PAGES = ("/home", "/pay", "/history", "/wallet", "/loans", "/consents", "/passkey")
PUBLIC_PAGES = ("/", "/open")
ELDER_FONT_PX_MIN = 20
TARGET_PX_MIN = 44
ELDER_TARGET_HEIGHT_PX_MIN = 56
_SMALL_TARGETS = """([minWidth, minHeight]) => {
  const small = [];
  const targets = document.querySelectorAll(
    "a[href], button, input[type=submit], input[type=button], [role=button], summary");
  for (const el of targets) {
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    if (style.display === "none" || style.visibility === "hidden" || (box.width === 0 && box.height === 0)) {
      continue;
    }
    if (box.right <= 0 || box.bottom <= 0) { continue; }  // off-screen until focused (the skip link)
    if (box.width < minWidth || box.height < minHeight) {
      const name = (el.innerText || el.value || el.getAttribute("aria-label") || "").trim().slice(0, 40);
      small.push(`${el.tagName.toLowerCase()} "${name}" ${box.width.toFixed(1)}x${box.height.toFixed(1)}`);
    }
  }
  return small;
}"""


def _authorised_consent(portal: Portal, person: Person, client_id: str) -> str:
    consent = portal.bank.consents.create_account_access(
        Actor("tpp", client_id), client_id, permissions=["ReadAccountsBasic", "ReadBalances"],
        expiration_ns=None, transaction_from_ns=None, transaction_to_ns=None,
    )  # fmt: skip
    customer = Actor("customer", format_id(person.party_id))
    portal.bank.consents.authorise(
        customer, consent.consent_id, party_id=person.party_id, account_ids=[person.account_id]
    )
    return str(consent.consent_id)


def _loan(portal: Portal, person: Person) -> None:
    application = Application(
        party_id=person.party_id, product="personal_instalment", amount=Money(1_200_000, "CNY"), term=12,
        monthly_income=Money(1_500_000, "CNY"),
    )  # fmt: skip
    outcome = portal.bank.origination.apply(Actor("customer", person.number), application)
    assert outcome.decision is Decision.APPROVE
    portal.bank.loans.accept(
        OPERATOR, outcome.application_id, party_id=person.party_id, settlement_account_id=person.account_id
    )


def _small_targets(page: Page, min_width: int, min_height: int) -> list[str]:
    found: list[str] = page.evaluate(_SMALL_TARGETS, [min_width, min_height])
    return found


def _font_px(page: Page) -> float:
    return float(page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)"))


def _html_lang(page: Page) -> str:
    return str(page.get_attribute("html", "lang"))


def _customer_pages(context: BrowserContext) -> list[str]:
    """Every signed-in customer page; each must answer 200."""
    for path in CUSTOMER_PAGES:
        assert context.request.get(path, max_redirects=0).status == 200, path
    return list(CUSTOMER_PAGES)


def test_a_customer_signs_in_with_a_password_and_sees_balances(portal: Portal, page: Page) -> None:
    alice = portal.customer("Alice", 123_456)
    page.goto("/")
    assert page.title() and _html_lang(page) == "zh-CN"
    shot(page, "portal-01-sign-in")
    sign_in(page, alice)
    main = page.locator("main")
    assert "1,234.56" in main.inner_text() and "Alice pay" in main.inner_text()
    assert page.locator("nav.main-nav a[aria-current=page]").get_attribute("href") == "/home"
    shot(page, "portal-02-home", readme=True)
    sign_out(page)
    assert page.url.endswith("/") and page.locator("#party_id").is_visible()


def test_a_wrong_password_is_refused_with_a_message(
    portal: Portal, page: Page, page_problems: PageProblems
) -> None:
    alice = portal.customer("Wrongpass", 0)
    page_problems.allow(r"status of 401")  # the refusal page answers 401
    page.goto("/")
    page.fill("#party_id", alice.number)
    page.fill("#password", "not the password at all")
    with page.expect_navigation():
        page.click("form[action='/sign-in'] button[type=submit]")
    assert page.locator("[role=alert]").is_visible() and page.url.endswith("/sign-in")
    axe_scan(page, "sign-in-refused")


def _targets_too_small(page: Page, paths: list[str], elder: bool) -> dict[str, list[str]]:
    """Per page, the visible links and buttons under 44 CSS px wide or 44 (elder: 56) px tall."""
    min_height = ELDER_TARGET_HEIGHT_PX_MIN if elder else TARGET_PX_MIN
    found = {}
    for path in paths:
        page.goto(path)
        assert elder_mode(page) == elder, f"{path} is not in the customer's mode"
        small = _small_targets(page, TARGET_PX_MIN, min_height)
        if small:
            found[path] = small
    return found


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_elder_mode_enlarges_text_and_targets_and_persists(
    portal: Portal, context: BrowserContext, page: Page, lang: str
) -> None:
    grace = portal.customer(f"Grace {lang}", 88_800)
    _authorised_consent(portal, grace, "elder-app")
    page.goto(f"/lang/{lang}")
    sign_in(page, grace)
    assert not elder_mode(page)
    standard_px = _font_px(page)
    paths = _customer_pages(context)
    standard_small = _targets_too_small(page, paths, elder=False)
    page.goto("/home")
    set_elder_mode(page, True)
    assert page.url.endswith("/home") and _font_px(page) >= ELDER_FONT_PX_MIN > standard_px
    elder_small = _targets_too_small(page, paths, elder=True)
    sign_out(page)
    sign_in(page, grace)
    assert elder_mode(page), "elder mode did not persist across sign-out and sign-in"
    shot(page, "elder-home" if lang == "zh" else f"elder-home-{lang}", readme=lang == "zh")
    set_elder_mode(page, False)
    assert _font_px(page) == standard_px
    assert (standard_small, elder_small) == ({}, {}), (
        f"targets under 44x44 CSS px in standard mode: {standard_small}; "
        f"under 44 wide or 56 tall in elder mode: {elder_small}"
    )


def test_the_language_switch_sets_html_lang(portal: Portal, page: Page) -> None:
    lin = portal.customer("Lin", 5_000)
    page.goto("/")
    assert _html_lang(page) == "zh-CN" and "客户号" in page.inner_text("main")
    with page.expect_navigation():
        page.click("a[href^='/lang/en']")
    assert _html_lang(page) == "en" and "Customer number" in page.inner_text("main")
    sign_in(page, lin)
    assert "My accounts" in page.inner_text("h1")
    shot(page, "portal-03-home-en")
    page.goto("/loans")
    with page.expect_navigation():
        page.click("a[href^='/lang/zh']")
    assert page.url.endswith("/loans") and _html_lang(page) == "zh-CN"
    assert "我的贷款" in page.inner_text("h1")


def test_a_customer_withdraws_a_consent(portal: Portal, page: Page) -> None:
    mei = portal.customer("Mei", 10_000)
    consent_id = _authorised_consent(portal, mei, "budget-app")
    sign_in(page, mei)
    page.click("a[href='/consents']")
    card = page.locator("section.card", has_text="budget-app")
    assert card.count() == 1
    shot(page, "portal-04-consents")
    with page.expect_navigation():
        card.locator(f"form[action='/consents/{consent_id}/revoke'] button").click()
    assert page.url.endswith("/consents")
    card = page.locator("section.card", has_text="budget-app")
    assert "已撤销" in card.inner_text() and card.locator("button").count() == 0
    assert portal.bank.consents.get(consent_id).status is ConsentStatus.REVOKED
    axe_scan(page, "consent-revoked")
    shot(page, "05-consent-revoked")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_customer_page_passes_axe_in_both_modes(
    portal: Portal, context: BrowserContext, page: Page, lang: str
) -> None:
    """Every page is scanned (and photographed) before the test fails, so one run lists every finding."""
    hua = portal.customer(f"Axe {lang}", 250_000)
    _authorised_consent(portal, hua, f"axe-app-{lang}")
    _loan(portal, hua)
    page.goto(f"/lang/{lang}")
    findings = []
    for public in PUBLIC_PAGES:
        page.goto(public)
        findings.append(axe_findings(page, f"axe-{lang}-public{public.replace('/', '-')}")[1])
    sign_in(page, hua)
    pages = _customer_pages(context)
    for elder in (False, True):
        set_elder_mode(page, elder)
        mode = "elder" if elder else "standard"
        for path in pages:
            page.goto(path)
            assert _html_lang(page) == ("zh-CN" if lang == "zh" else "en") and elder_mode(page) == elder
            findings.append(axe_findings(page, f"axe-{lang}-{mode}{path.replace('/', '-')}")[1])
            shot(page, f"axe-{lang}-{mode}{path.replace('/', '-')}")
    blocking = [found for found in findings if found]
    assert not blocking, "\n".join(blocking)


def test_every_page_weighs_at_most_100_kb(portal: Portal, context: BrowserContext, page: Page) -> None:
    kai = portal.customer("Kai", 42_000)
    _authorised_consent(portal, kai, "weight-app")
    _loan(portal, kai)
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})  # every page measured cold
    weights = {path: _weight(page, path) for path in PUBLIC_PAGES}
    sign_in(page, kai)
    for path in _customer_pages(context):
        weights[path] = _weight(page, path)
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    (ARTEFACTS / "page-weights.json").write_text(json.dumps(weights, indent=1))
    heavy = {path: size for path, size in weights.items() if size > PAGE_BYTES_MAX}
    assert heavy == {}, f"pages over {PAGE_BYTES_MAX} bytes: {heavy} (all: {weights})"


def _weight(page: Page, path: str) -> int:
    """The bytes of every response the page loaded (document, styles, scripts, images)."""
    responses: list[Response] = []

    def seen(response: Response) -> None:
        responses.append(response)

    page.on("response", seen)
    try:
        page.goto(path, wait_until="load")
    finally:
        page.remove_listener("response", seen)
    total = 0
    for response in responses:
        if 300 <= response.status < 400:
            continue  # a redirect has no body
        sizes = response.request.sizes()
        total += max(len(response.body()), sizes["responseBodySize"]) + sizes["responseHeadersSize"]
    return total


_SPEAK = """async ([url, token]) => {
    const response = await fetch(url, {method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRF-Token": token},
        body: JSON.stringify({text: "已付款 十二元三角四分"})});
    const bytes = new Uint8Array(await response.arrayBuffer());
    return [response.status, response.headers.get("content-type"), String.fromCharCode(...bytes.slice(0, 4))];
}"""


def test_elder_mode_offers_read_aloud_and_voice_commands(portal: Portal, page: Page) -> None:
    """Spoken commands route as the page's recogniser would; the server's voice answers with WAV."""
    wen = portal.customer("Wen", 66_600)
    sign_in(page, wen)
    set_elder_mode(page, True)
    assert page.locator("#read-aloud").is_visible(), "speech synthesis or the server's voice reads aloud"
    route = "([said]) => window.netfinVoiceRoute(said)"
    assert page.evaluate(route, ["请帮我查余额"]) == "/home"
    assert page.evaluate(route, ["我要转账"]) == "/pay"
    assert page.evaluate(route, ["Show my balance"]) == "/home"
    assert page.evaluate(route, ["pay"]) == "/pay"
    assert page.evaluate(route, ["今天天气怎么样"]) is None
    token = page.get_attribute("input[name=csrf]", "value")
    fallback = page.get_attribute("#read-aloud", "data-fallback")
    status, media, magic = page.evaluate(_SPEAK, [fallback, token])
    if status == 503:
        pytest.fail("espeak-ng is not installed (make e2e-deps installs it)")
    assert (status, media, magic) == (200, "audio/wav", "RIFF")
