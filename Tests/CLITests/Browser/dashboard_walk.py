"""A real browser (headless Debian chromium through chromedriver and selenium) walks the dashboard of a live
`rosterflow serve --demo`: the school admin signs in through the e-mailed one-time link, opens the district's page and
sets the daily sync time with the time-zone picker; the vendor admin signs in through theirs and sees the board; a used
link is refused. A screenshot of each page is saved to the artifacts folder.

Usage: dashboard_walk.py SCHOOL_LINK VENDOR_LINK ARTIFACTS_FOLDER
Prints one line per step and "ok" at the end; exits 1 with the reason on the first step that fails.
"""
import os
import sys

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from browser_common import browser, check


def sign_in(driver, link, who, artifacts):
    driver.get(link)
    check(driver.find_element(By.TAG_NAME, "h1").text == "Sign in", f"{who}: no confirm page at the link")
    driver.save_screenshot(os.path.join(artifacts, f"{who}-confirm.png"))
    driver.find_element(By.XPATH, "//button[normalize-space()='Sign in']").click()
    WebDriverWait(driver, 15).until(lambda d: "/dashboard" in d.current_url)
    cookie = driver.get_cookie("rf_session")
    check(cookie is not None and cookie.get("httpOnly") is True, f"{who}: no HttpOnly session cookie: {cookie}")
    print(f"{who}: signed in through the e-mailed link")


def main():
    school_link, vendor_link, artifacts = sys.argv[1], sys.argv[2], sys.argv[3]
    os.makedirs(artifacts, exist_ok=True)
    driver = browser()
    try:
        sign_in(driver, school_link, "school", artifacts)
        check("Your onboarding" in driver.page_source, "school: not the school's page")
        driver.save_screenshot(os.path.join(artifacts, "school-home.png"))
        driver.find_element(By.CSS_SELECTOR, "main h2 a").click()
        WebDriverWait(driver, 15).until(lambda d: "/dashboard/integrations/" in d.current_url)
        time_field = driver.find_element(By.ID, "time")
        driver.execute_script("arguments[0].value = '03:15';", time_field)
        Select(driver.find_element(By.ID, "timezone")).select_by_value("America/New_York")
        driver.find_element(By.XPATH, "//button[normalize-space()='Save the sync time']").click()
        WebDriverWait(driver, 15).until(lambda d: "Daily sync at 03:15 (America/New_York)" in d.page_source)
        driver.save_screenshot(os.path.join(artifacts, "school-sync-time.png"))
        print("school: set the daily sync time to 03:15 America/New_York through the form")
        driver.find_element(By.XPATH, "//button[normalize-space()='Sign out']").click()
        WebDriverWait(driver, 15).until(lambda d: "/sign-in" in d.current_url)

        # The school's link was used: it is refused now.
        driver.get(school_link)
        check("Sign in to RosterFlow as" not in driver.page_source, "school: a used link offered sign-in again")
        print("school: the used link is refused")

        sign_in(driver, vendor_link, "vendor", artifacts)
        WebDriverWait(driver, 15).until(lambda d: d.find_element(By.TAG_NAME, "h1").text == "Integrations")
        check("Springfield USD" in driver.page_source, "vendor: the board does not list Springfield")
        ages = [cell.text for cell in driver.find_elements(By.CSS_SELECTOR, "main table tbody tr td:first-of-type")]
        check(ages and all(age.endswith(("minute", "minutes", "hour", "hours", "day", "days")) for age in ages),
              f"vendor: the board's ages in state are missing: {ages}")
        driver.save_screenshot(os.path.join(artifacts, "vendor-board.png"))
        print("vendor: the board lists the demo districts")
        print("ok")
    except Exception as error:  # noqa: BLE001 - the reason is the test's output
        driver.save_screenshot(os.path.join(artifacts, "failure.png"))
        print(f"failed at {driver.current_url}: {error}")
        sys.exit(1)
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
