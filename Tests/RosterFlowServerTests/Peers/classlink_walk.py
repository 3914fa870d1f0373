"""A teacher's first Sign in with ClassLink, a class import, and a student's placement, in headless chromium.

Arguments: RosterFlow's base URL, the integration id, the teacher's and the student's ClassLink user ids, the class
title, the artifacts folder (screenshots). Prints `ok` at the end.
"""
import os
import shutil
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

base, integration, teacher, student, title, artifacts = sys.argv[1:7]
os.makedirs(artifacts, exist_ok=True)
options = webdriver.ChromeOptions()
for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000"]:
    options.add_argument(flag)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
driver.set_page_load_timeout(30)


def shot(name):
    driver.save_screenshot(os.path.join(artifacts, name))


def body():
    return driver.find_element(By.TAG_NAME, "body").text


def settled(text):
    """Waits (up to 20 s) until the page that a click loads shows `text`; a page being replaced is read again."""
    def shows(_):
        try:
            return text in body()
        except StaleElementReferenceException:
            return False
    try:
        WebDriverWait(driver, 20).until(shows)
    except TimeoutException:
        pass  # the assertion that follows says what the page shows


try:
    driver.get(f"{base}/sign-in/classlink?integration={integration}")
    shot("classlink-launchpad.png")
    driver.find_element(By.ID, f"as-{teacher}").click()
    assert driver.current_url.endswith("/dashboard/teacher"), driver.current_url
    assert title in body(), body()
    assert "current term" in body(), body()
    shot("teacher-classes.png")
    driver.find_element(By.CSS_SELECTOR, 'input[type=checkbox][value="cls-1"]').click()
    driver.find_element(By.XPATH, "//button[normalize-space()='Import the ticked classes']").click()
    settled("Import done.")
    assert f"{title}: imported" in body(), body()
    assert "imported by you" in body(), body()
    shot("teacher-imported.png")

    # The next person on the same Chromebook: the student.
    driver.get(f"{base}/sign-in/classlink?integration={integration}")
    driver.find_element(By.ID, f"as-{student}").click()
    assert driver.current_url.endswith("/dashboard/student"), driver.current_url
    assert f"You are in {title}." in body(), body()
    shot("student-placed.png")
    driver.get(f"{base}/dashboard/teacher")
    assert "not signed in" in body() or "for teachers" in body(), body()
finally:
    driver.quit()
print("ok")
