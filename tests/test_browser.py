"""The tutoring page in a real headless Chromium (Debian's chromium and chromium-driver, driven by
selenium): build a profile, see the options, click a therapy for why / why not, untick a fact for
what-if. Skips, with the reason, only where the browser or its driver is not installed."""
from __future__ import annotations

import shutil
import tempfile

import pytest

pytest.importorskip("fastapi")
selenium = pytest.importorskip("selenium", reason="selenium is not installed (pip install -e '.[test]')")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER),
    reason="headless Chromium and chromedriver are not installed (apt-get install chromium chromium-driver)",
)


@pytest.fixture(scope="module")
def browser(engine):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    from engine.service.app import create_app
    from service_util import LiveServer

    profile = tempfile.mkdtemp(prefix="kras-rules-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
              f"--user-data-dir={profile}"):
        opts.add_argument(a)
    with LiveServer(create_app(engine), max_requests=500) as url:
        driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
        try:
            driver.set_page_load_timeout(30)
            yield driver, url
        finally:
            driver.quit()
            shutil.rmtree(profile, ignore_errors=True)


def _wait(driver, cond, timeout=20):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # (a panel the page replaces while it is read is read again)
    return WebDriverWait(driver, timeout, ignored_exceptions=[StaleElementReferenceException]).until(cond)


def _evaluate_profile(driver, url, cancer_text):
    """Open the page, type the cancer type (the page starts with KRAS G12C, metastatic, one prior
    line) and press Evaluate."""
    from selenium.webdriver.common.by import By

    driver.get(url + "/")
    _wait(driver, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1")
    cancer = driver.find_element(By.ID, "cancer")
    cancer.clear()
    cancer.send_keys(cancer_text)
    driver.find_element(By.ID, "evaluate").click()


def test_build_profile_see_options_ask_why_not_and_what_if(browser):
    from selenium.webdriver.common.by import By

    driver, url = browser
    # build the profile: metastatic LUAD, KRAS G12C, one prior line (the page starts with these)
    _evaluate_profile(driver, url, "LUAD")
    assert len(driver.find_elements(By.CSS_SELECTOR, "#therapies li.therapy")) >= 20
    def opt(t):
        return driver.find_elements(By.CSS_SELECTOR, f'#options li.option[data-therapy="{t}"]')

    _wait(driver, lambda d: opt("sotorasib"))
    assert opt("sotorasib")[0].get_attribute("data-verdict") == "eligible"
    assert "sotorasib: eligible" in opt("sotorasib")[0].text

    # why not a therapy that has no option here
    driver.find_element(By.CSS_SELECTOR, '#therapies li.therapy[data-therapy="adagrasib+cetuximab"]').click()
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, '#why-title[data-therapy="adagrasib+cetuximab"]'))
    crits = driver.find_elements(By.CSS_SELECTOR, "#criteria li.crit")
    not_met = [c.text for c in crits if c.get_attribute("data-status") == "not_met"]
    assert any("Colorectal" in t for t in not_met)
    assert "No rule gives an option" in driver.find_element(By.ID, "why-text").text

    # why for an option: click it in the option list
    opt("sotorasib")[0].click()
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, '#why-title[data-therapy="sotorasib"]'))
    assert all(c.get_attribute("data-status") == "met" for c in driver.find_elements(By.CSS_SELECTOR, "#criteria li.crit"))

    # what if: untick the prior therapy -> treatment-naive: sotorasib no longer eligible
    driver.find_element(By.CSS_SELECTOR, "#priors .prior .prior-on").click()
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, '#changes li.option-change[data-therapy="sotorasib"]'))
    change = driver.find_element(By.CSS_SELECTOR, '#changes li.option-change[data-therapy="sotorasib"]').text
    assert "eligible" in change and "not eligible" in change
    _wait(driver, lambda d: opt("sotorasib") and opt("sotorasib")[0].get_attribute("data-verdict") == "not_eligible")
    # the why panel follows the profile: the prior-therapy criterion is now not met
    _wait(driver, lambda d: any(c.get_attribute("data-status") == "not_met"
                                for c in d.find_elements(By.CSS_SELECTOR, "#criteria li.crit")))


def test_a_bad_profile_shows_the_engine_error_with_did_you_mean(browser):
    from selenium.webdriver.common.by import By

    driver, url = browser
    _evaluate_profile(driver, url, "NSCLCC")
    _wait(driver, lambda d: d.find_element(By.ID, "error").text)
    assert "cancer_type" in driver.find_element(By.ID, "error").text and "NSCLC" in driver.find_element(By.ID, "error").text


def test_why_explains_the_profile_as_the_form_shows_it_and_keeps_the_error(browser):
    """After an edit not yet evaluated, a click on a therapy explains the edited profile; after a
    rejected input, the click shows the error again instead of explaining the earlier profile."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver, url = browser
    driver.get(url + "/")
    _wait(driver, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1")
    driver.find_element(By.ID, "evaluate").click()
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, '#options li.option[data-therapy="sotorasib"]'))
    variant = driver.find_element(By.CSS_SELECTOR, "#alts .alt .alt-variant")
    variant.clear()
    variant.send_keys("G12D")  # edited, not evaluated
    driver.find_element(By.CSS_SELECTOR, '#therapies li.therapy[data-therapy="sotorasib"]').click()
    _wait(driver, lambda d: "G12D" in d.find_element(By.ID, "why-text").text
          and "eligible" not in d.find_element(By.ID, "why-title").text.replace("not eligible", ""))
    cancer = driver.find_element(By.ID, "cancer")
    cancer.clear()
    cancer.send_keys("NSCLCC", Keys.TAB)
    _wait(driver, lambda d: d.find_element(By.ID, "error").text)
    driver.find_element(By.CSS_SELECTOR, '#therapies li.therapy[data-therapy="adagrasib"]').click()
    _wait(driver, lambda d: "cancer_type" in d.find_element(By.ID, "error").text)


def test_what_if_shows_a_note_that_an_added_co_alteration_brings(browser):
    """Adding STK11 loss to KRAS G12C lung adenocarcinoma changes no verdict: the page's what-if
    must show the note it brings (the caution about PD-1 inhibitors), not "Nothing changes."."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver, url = browser
    _evaluate_profile(driver, url, "LUAD")
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, '#options li.option[data-therapy="sotorasib"]'))
    driver.find_element(By.ID, "add-alt").click()
    row = driver.find_elements(By.CSS_SELECTOR, "#alts .alt")[-1]
    row.find_element(By.CSS_SELECTOR, ".alt-gene").send_keys("STK11")
    row.find_element(By.CSS_SELECTOR, ".alt-variant").send_keys("loss", Keys.TAB)  # (change fires on leaving the field)
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, '#changes li.note-change[data-change="gained"]'))
    texts = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#changes li")]
    assert any(t.startswith("Note now:") and "PD-1" in t for t in texts)
    assert "Nothing changes." not in texts


def test_a_slow_answer_to_an_older_edit_does_not_replace_the_answer_to_the_newer(browser):
    """Typing a gene, then its variant, sends two what-ifs: the first (the gene alone, no
    change) answered after the second replaced the note with "Nothing changes." (seen in CI,
    under load). Each kind of request now drops an answer that a newer request has overtaken."""
    import time

    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver, url = browser
    _evaluate_profile(driver, url, "LUAD")
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, '#options li.option[data-therapy="sotorasib"]'))
    # the page's first /compare answer comes back 1.5 s late
    driver.execute_script("""
        const real = window.fetch; let n = 0;
        window.fetch = async (...args) => {
          const slow = String(args[0]).endsWith('/compare') && n++ === 0;
          const r = await real(...args);
          if (slow) await new Promise((done) => setTimeout(done, 1500));
          return r;
        };""")
    driver.find_element(By.ID, "add-alt").click()
    row = driver.find_elements(By.CSS_SELECTOR, "#alts .alt")[-1]
    row.find_element(By.CSS_SELECTOR, ".alt-gene").send_keys("STK11")
    row.find_element(By.CSS_SELECTOR, ".alt-variant").send_keys("loss", Keys.TAB)
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, '#changes li.note-change[data-change="gained"]'))
    time.sleep(2)  # (the slow answer has come back by now)
    texts = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#changes li")]
    assert any(t.startswith("Note now:") and "PD-1" in t for t in texts) and "Nothing changes." not in texts
