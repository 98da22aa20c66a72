"""Drives vidgate's /dashboard in headless Chromium the way a person would.

Run by tests/api/dashboard.rs against a live vidgate (sandbox provider, one slot). Refuses a
wrong key, takes the right one, shows field errors from a bad submission, submits two requests
from the form, watches the first live (status stream with logs), cancels the queued second,
plays the first's video and cover, and finds everything again after a reload (the key is
remembered). Prints one JSON line of what it saw; saves a screenshot.

Env: VIDGATE_URL, VIDGATE_KEY, SCREENSHOT (path of the PNG).
"""

import json
import os
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

BASE = os.environ["VIDGATE_URL"]
KEY = os.environ["VIDGATE_KEY"]
SHOT = os.environ["SCREENSHOT"]


def browser():
    o = webdriver.ChromeOptions()
    o.binary_location = "/usr/bin/chromium"
    # Headless as root on a closed network: no sandbox, no background calls home.
    for arg in [
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--window-size=1400,1100",
        "--autoplay-policy=no-user-gesture-required",
    ]:
        o.add_argument(arg)
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=o)


def main():
    d = browser()
    wait = WebDriverWait(d, 30, poll_frequency=0.05)
    seen = {}
    try:
        d.get(f"{BASE}/dashboard")
        key_input = d.find_element(By.ID, "api-key")

        # A wrong key is refused and the rest of the page stays hidden.
        key_input.send_keys("vg_this_key_does_not_exist")
        d.find_element(By.ID, "key-save").click()
        wait.until(lambda d: "not accepted" in d.find_element(By.ID, "key-status").text)
        assert not d.find_element(By.ID, "main").is_displayed()

        key_input.clear()
        key_input.send_keys(KEY)
        d.find_element(By.ID, "key-save").click()
        wait.until(lambda d: d.find_element(By.ID, "main").is_displayed())
        models = [o.text for o in Select(d.find_element(By.ID, "model_name")).options]
        seen["models"] = models
        Select(d.find_element(By.ID, "model_name")).select_by_visible_text("Kling")
        Select(d.find_element(By.ID, "model_version")).select_by_visible_text("2.1")
        seen["rules"] = d.find_element(By.ID, "model-rules").text
        seen["resolutions"] = [o.text for o in Select(d.find_element(By.ID, "resolution")).options]

        # A bad submission: errors show beside their fields; nothing is created.
        fill(d, "prompt", "x")
        fill(d, "duration", "99")
        d.find_element(By.ID, "add-image").click()
        row = d.find_element(By.CSS_SELECTOR, "#file-infos .file-info")
        row.find_element(By.NAME, "value").send_keys("not a url")
        d.find_element(By.ID, "submit").click()
        wait.until(lambda d: d.find_element(By.ID, "form-errors").text)
        seen["form_errors"] = d.find_element(By.ID, "form-errors").text
        seen["invalid_fields"] = sorted(
            e.get_attribute("id") or e.get_attribute("name")
            for e in d.find_elements(By.CSS_SELECTOR, ".invalid")
        )
        row.find_element(By.TAG_NAME, "button").click()  # remove the image row

        # Two good submissions covering the seed's fields; the first takes the only slot.
        fill(d, "prompt", "A lighthouse at dusk, waves rolling in")
        fill(d, "negative_prompt", "blurry")
        Select(d.find_element(By.ID, "enhance_prompt")).select_by_visible_text("Enabled")
        fill(d, "duration", "5")
        Select(d.find_element(By.ID, "resolution")).select_by_visible_text("720P")
        Select(d.find_element(By.ID, "aspect_ratio")).select_by_visible_text("16:9")
        Select(d.find_element(By.ID, "storage_mode")).select_by_visible_text("Temporary")
        fill(d, "media_name", "lighthouse")
        Select(d.find_element(By.ID, "person_generation")).select_by_visible_text("Disallowed")
        fill(d, "tasks_priority", "7")
        fill(d, "session_context", "dashboard-e2e")
        fill(d, "ext_info", "from-the-dashboard")
        d.find_element(By.ID, "submit").click()
        first = wait.until(lambda d: new_card(d, set()))
        fill(d, "prompt", "A second request, to be cancelled")
        fill(d, "session_context", "")
        d.find_element(By.ID, "submit").click()
        second = wait.until(lambda d: new_card(d, {first}))
        seen["ids"] = [first, second]

        # The second waits behind the first; cancel it from its card.
        # The text the wait saw (read once): the card may re-render right after.
        seen["second_position"] = wait.until(
            lambda d: (t := card_text(d, second, ".position")).startswith("position") and t
        )
        card(d, second).find_element(By.CSS_SELECTOR, ".cancel").click()
        wait.until(lambda d: card(d, second).get_attribute("data-outcome") == "cancelled")

        # The first goes through its states live, with log lines only the stream carries.
        states, logs = [], set()
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                outcome = card(d, first).get_attribute("data-outcome")
                log = card_text(d, first, ".log")
            except StaleElementReferenceException:
                continue
            if not states or states[-1] != outcome:
                states.append(outcome)
            if log:
                logs.add(log)
            if outcome in ("succeeded", "failed", "cancelled"):
                break
            time.sleep(0.05)
        seen["first_states"] = states
        seen["first_logs"] = sorted(logs)
        assert states[-1] == "succeeded", states

        # The finished video plays (metadata loads) and its cover is an image.
        video = wait.until(lambda d: card(d, first).find_element(By.TAG_NAME, "video"))
        wait.until(lambda d: d.execute_script("return arguments[0].readyState >= 1", video))
        seen["video"] = d.execute_script(
            "const v = arguments[0]; return {width: v.videoWidth, height: v.videoHeight,"
            " duration: v.duration, src: v.currentSrc, poster: v.poster};",
            video,
        )
        d.execute_script("arguments[0].play()", video)
        wait.until(lambda d: d.execute_script("return arguments[0].currentTime > 0", video))
        img = card(d, first).find_element(By.CSS_SELECTOR, ".media img")
        wait.until(lambda d: d.execute_script("return arguments[0].complete", img))
        seen["cover_width"] = d.execute_script("return arguments[0].naturalWidth", img)

        # After a reload the key is remembered and both requests are listed as they ended.
        d.refresh()
        wait.until(lambda d: d.find_element(By.ID, "main").is_displayed())
        wait.until(lambda d: card(d, second) and card(d, first).find_elements(By.TAG_NAME, "video"))
        seen["after_reload"] = {
            i: card(d, i).get_attribute("data-outcome") for i in (first, second)
        }
        seen["prompt_shown"] = card_text(d, first, ".prompt")

        # The usage chart: the key's own and, for this admin key, every key's; one bar per
        # day and model, drawn from the usage route's data.
        bars = {}
        for chart in ("usage-chart", "admin-usage-chart"):
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f"#{chart} rect[data-model]"))
            bars[chart] = [
                {k: r.get_attribute(f"data-{k}") for k in ("day", "model", "seconds")}
                for r in d.find_elements(By.CSS_SELECTOR, f"#{chart} rect[data-model]")
            ]
        seen["usage_bars"] = bars
        seen["usage_legend"] = [li.text for li in d.find_elements(By.CSS_SELECTOR, "#usage-legend li")]
        d.execute_script("window.scrollTo(0, 0)")
        d.save_screenshot(SHOT)
        chart = d.find_element(By.ID, "usage-section")
        d.execute_script("arguments[0].scrollIntoView()", chart)
        chart.screenshot(SHOT.replace(".png", "-usage.png"))
        seen["console_errors"] = [
            e["message"] for e in d.get_log("browser") if e["level"] == "SEVERE"
            and "vg_this_key_does_not_exist" not in e["message"]
            and "401" not in e["message"] and "422" not in e["message"]
        ]
    except Exception:
        d.save_screenshot(SHOT)
        print(json.dumps(seen), file=sys.stderr)
        raise
    finally:
        d.quit()
    print(json.dumps(seen))


def fill(d, element_id, text):
    e = d.find_element(By.ID, element_id)
    e.clear()
    if text:
        e.send_keys(text)


def card(d, request_id):
    cards = d.find_elements(By.CSS_SELECTOR, f'li.card[data-request-id="{request_id}"]')
    return cards[0] if cards else None


def card_text(d, request_id, selector):
    c = card(d, request_id)
    return c.find_element(By.CSS_SELECTOR, selector).text if c else ""


def new_card(d, known):
    ids = [c.get_attribute("data-request-id") for c in d.find_elements(By.CSS_SELECTOR, "li.card")]
    fresh = [i for i in ids if i not in known]
    return fresh[0] if fresh else None


if __name__ == "__main__":
    main()
