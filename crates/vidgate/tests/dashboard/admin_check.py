"""Drives the dashboard's Administration section in headless Chromium as an operator would.

Run by tests/api/dashboard.rs against a live vidgate. With an admin key: the section shows;
a new key is made from the form (with a budget and a first top-up) and shown once; a top-up
and a budget change land in the keys table; the audit list names each change. With a user
key: no section. Back with the admin key, the new key is revoked from its row. Prints one JSON line of what it saw; saves a screenshot.

Env: VIDGATE_URL, VIDGATE_KEY (an admin key), SCREENSHOT.
"""

import json
import os
import sys

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from dashboard_check import BASE, KEY, SHOT, browser, fill


def row_text(d, name):
    """The cells of a key's row; blank cells while the table is being rebuilt."""
    try:
        rows = d.find_elements(By.CSS_SELECTOR, f'#keys tr[data-key="{name}"]')
        cells = [c.text for c in rows[0].find_elements(By.TAG_NAME, "td")] if rows else []
    except StaleElementReferenceException:
        cells = []
    return cells + [""] * (9 - len(cells))


def main():
    d = browser()
    wait = WebDriverWait(d, 30, poll_frequency=0.05)
    seen = {}
    try:
        d.get(f"{BASE}/dashboard")
        fill(d, "api-key", KEY)
        d.find_element(By.ID, "key-save").click()
        wait.until(lambda d: d.find_element(By.ID, "admin").is_displayed())
        wait.until(lambda d: row_text(d, "bootstrap")[0])
        seen["account"] = d.find_element(By.ID, "account").text

        # A new key, with a budget and a first top-up.
        fill(d, "nk-name", "team-ui")
        d.find_element(By.ID, "nk-prepaid").click()
        fill(d, "nk-top-up", "2")
        fill(d, "nk-day", "5")
        d.find_element(By.ID, "nk-submit").click()
        wait.until(lambda d: d.find_element(By.ID, "nk-created").text)
        seen["created"] = d.find_element(By.ID, "nk-created").text
        wait.until(lambda d: row_text(d, "team-ui")[0])
        seen["row_after_create"] = row_text(d, "team-ui")

        # A top-up with a note, then a month limit.
        Select(d.find_element(By.ID, "tu-key")).select_by_visible_text("team-ui")
        fill(d, "tu-amount", "0.5")
        fill(d, "tu-note", "from the page")
        d.find_element(By.ID, "tu-submit").click()
        wait.until(lambda d: row_text(d, "team-ui")[3] == "2.5")
        Select(d.find_element(By.ID, "bu-key")).select_by_visible_text("team-ui")
        fill(d, "bu-month", "40")
        d.find_element(By.ID, "bu-submit").click()
        wait.until(lambda d: "month ≤ 40" in row_text(d, "team-ui")[6])
        seen["row_after_changes"] = row_text(d, "team-ui")

        # A bad amount is said in place.
        fill(d, "tu-amount", "0")
        d.find_element(By.ID, "tu-submit").click()
        wait.until(lambda d: d.find_element(By.ID, "tu-errors").text)
        seen["top_up_error"] = d.find_element(By.ID, "tu-errors").text

        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#audit li")) >= 3)
        seen["audit"] = [li.text for li in d.find_elements(By.CSS_SELECTOR, "#audit li")]
        d.save_screenshot(SHOT)

        # The new key is a user key: no Administration section for it.
        d.find_element(By.ID, "key-forget").click()
        key = seen["created"].split(": ", 1)[1].split(" ", 1)[0]
        fill(d, "api-key", key)
        d.find_element(By.ID, "key-save").click()
        wait.until(lambda d: d.find_element(By.ID, "main").is_displayed())
        wait.until(lambda d: "balance" in d.find_element(By.ID, "account").text)
        seen["user_account"] = d.find_element(By.ID, "account").text
        seen["user_sees_admin"] = d.find_element(By.ID, "admin").is_displayed()

        # Back as the operator: revoke the new key from its row.
        d.find_element(By.ID, "key-forget").click()
        fill(d, "api-key", KEY)
        d.find_element(By.ID, "key-save").click()
        wait.until(lambda d: row_text(d, "team-ui")[0])
        d.find_element(By.CSS_SELECTOR, '#keys tr[data-key="team-ui"] button.revoke').click()
        wait.until(lambda d: row_text(d, "team-ui")[2] == "revoked")
        seen["row_after_revoke"] = row_text(d, "team-ui")
        seen["revoked_key"] = key
        seen["console_errors"] = [
            e["message"] for e in d.get_log("browser")
            if e["level"] == "SEVERE" and "403" not in e["message"] and "422" not in e["message"]
        ]
    except Exception:
        d.save_screenshot(SHOT)
        print(json.dumps(seen), file=sys.stderr)
        raise
    finally:
        d.quit()
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
