"""One new district from enablement to a locked course, in three real browsers (headless Debian chromium through
chromedriver and selenium), against a live `rosterflow serve --demo` whose worker e-mails through a real SMTP server
(aiosmtpd, scripts/peers/smtp_peer.py) on loopback:

 1. ClassLink enables the app: a Standard Webhooks-signed `POST /hooks/v1/app-enabled` (signed by the reference
    `standardwebhooks` package with the secret of a sender made by `rosterflow hooks senders add`).
 2. The vendor admin asks for a sign-in link at /sign-in, opens the link from the e-mail, and authenticates the
    district with the integration page's button.
 3. The school admin (an account of that district) signs in the same way and sets the daily sync time with the form.
 4. A sync runs (`rosterflow sync run` on the same database) and creates the course shells.
 5. The DSP (an account of that district) signs in, finds the district in their queue and maps a course with its map
    form; the school verifies it; the DSP adds content.
 6. A student starts the course (a signed `POST /hooks/v1/student-started`): the DSP's page shows it locked.
 7. A later sync that deletes too much is held; the vendor admin approves it on the integration page.

Each person signs in once, in their own browser, through the link e-mailed to them. A screenshot is saved after each
step (walk-NN-….png) and of every browser when a step fails (walk-failure-ROLE.png).

Usage: district_walk.py CONFIG.json   (keys: see `main`)
Prints one line per step and "ok" at the end; writes what it made (ids) to the config's "results" path; exits 1 with
the reason on the first step that fails.
"""
import csv
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
import zoneinfo

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait
from standardwebhooks.webhooks import Webhook

from browser_common import browser, check

WAIT = 20


def wait_until(condition, what, timeout=WAIT, every=0.1):
    """Polls `condition` until it returns something truthy (returned), or fails naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


class Walk:
    def __init__(self, config):
        self.config = config
        self.base = config["base"]
        self.artifacts = config["artifacts"]
        self.step = 0
        self.drivers = {}
        # The CLI runs on the server's database: the test's folder, with nothing but the binary's built-ins.
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("ROSTERFLOW_DB", "ROSTERFLOW_WORKFLOWS", "ROSTERFLOW_TEMPLATES", "ROSTERFLOW_CONFIG")}

    # Helpers

    def shot(self, who, name):
        self.step += 1
        self.drivers[who].save_screenshot(os.path.join(self.artifacts, f"walk-{self.step:02d}-{who}-{name}.png"))

    def say(self, text):
        print(text, flush=True)

    def cli(self, *arguments):
        result = subprocess.run([self.config["binary"], *arguments, "--json"], cwd=self.config["folder"], env=self.env,
                                capture_output=True, text=True, timeout=120)
        check(result.returncode == 0, f"rosterflow {' '.join(arguments)} exited {result.returncode}: {result.stderr}")
        return json.loads(result.stdout)

    def hook(self, route, body):
        """A Standard Webhooks-signed POST of `body` to /hooks/v1/ROUTE, as ClassLink or the platform sends it."""
        payload = json.dumps(body)
        message_id = "msg_walk_" + uuid.uuid4().hex
        now = datetime.datetime.now(tz=datetime.timezone.utc)
        signature = Webhook(self.config["secret"]).sign(message_id, now, payload)
        request = urllib.request.Request(
            f"{self.base}/hooks/v1/{route}?sender={self.config['sender']}", data=payload.encode(), method="POST",
            headers={"content-type": "application/json", "webhook-id": message_id,
                     "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": signature})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.loads(answer.read().decode())
        except urllib.error.HTTPError as error:
            raise AssertionError(f"hook {route}: {error.code} {error.read().decode()}") from None

    def mailed_link(self, email):
        """The sign-in link in the newest e-mail to `email` the SMTP server received, not one the demo printed."""
        try:
            with open(self.config["smtp_out"], encoding="utf-8") as f:
                records = [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return None
        for record in reversed(records):
            if email not in record.get("rcpt_tos", []) or record.get("subject") != "Your RosterFlow sign-in link":
                continue
            found = re.search(r"(https?://\S+/sign-in/(rfl_[A-Za-z0-9_\-]+))", record.get("text/plain", ""))
            if found and found.group(2) not in self.config["printed_tokens"]:
                return found.group(1)
        return None

    def sign_in(self, who, email):
        """`who` asks for a link at /sign-in, reads it from the e-mail, opens it and presses "Sign in"."""
        driver = self.drivers[who]
        driver.get(self.base + "/sign-in")
        driver.find_element(By.ID, "email").send_keys(email)
        driver.find_element(By.XPATH, "//button[normalize-space()='Send me a sign-in link']").click()
        WebDriverWait(driver, WAIT).until(lambda d: "a sign-in link is on its way" in d.page_source)
        link = wait_until(lambda: self.mailed_link(email), f"the sign-in e-mail to {email}", timeout=30)
        check(link.startswith(self.base + "/sign-in/rfl_"), f"{who}: the e-mailed link points elsewhere: {link}")
        driver.get(link)
        check(f"Sign in to RosterFlow as {email}" in driver.find_element(By.TAG_NAME, "main").text,
              f"{who}: the e-mailed link shows no confirm page for {email}")
        self.shot(who, "confirm")
        driver.find_element(By.XPATH, "//button[normalize-space()='Sign in']").click()
        WebDriverWait(driver, WAIT).until(lambda d: d.current_url.endswith("/dashboard"))
        cookie = driver.get_cookie("rf_session")
        check(cookie is not None and cookie.get("httpOnly") is True, f"{who}: no HttpOnly session cookie: {cookie}")
        self.say(f"{who}: signed in through the link e-mailed to {email}")

    def open_integration(self, who, integration):
        driver = self.drivers[who]
        driver.get(f"{self.base}/dashboard/integrations/{integration}")
        WebDriverWait(driver, WAIT).until(lambda d: d.find_element(By.TAG_NAME, "h1").text == self.config["district"])

    def press(self, who, xpath, done):
        """Presses the button at `xpath` and waits for the integration page's "Done: …" notice."""
        driver = self.drivers[who]
        driver.find_element(By.XPATH, xpath).click()
        WebDriverWait(driver, WAIT).until(lambda d: f"Done: {done}." in d.page_source)

    def course_row(self, who, sourced_id):
        for row in self.drivers[who].find_elements(By.CSS_SELECTOR, "section[aria-labelledby='courses'] table tbody tr"):
            if row.find_element(By.TAG_NAME, "th").text.endswith(f"({sourced_id})"):
                return row
        raise AssertionError(f"{who}: no row for course {sourced_id} in the course map")

    def state_of(self, integration):
        return self.cli("integrations", "show", integration)["state"]

    # The walk

    def run(self):
        c = self.config
        for who in ("vendor", "school", "dsp"):
            self.drivers[who] = browser()

        # 1. ClassLink: the district enabled the app.
        status, answer = self.hook("app-enabled", {
            "tenantId": c["tenant"], "district": {"sourcedId": "org-riverdale", "name": c["district"]},
            "permissionType": "Rule-Based", "contact": {"name": "Sam", "email": c["contact"]}})
        changes = answer.get("changes", [])
        check(status == 200 and len(changes) == 1 and changes[0]["to"] == "requested", f"app-enabled: {answer}")
        integration = changes[0]["instanceId"]
        self.say(f"classlink: app-enabled hook → {integration} requested")

        # 2. The vendor admin authenticates it.
        vendor = self.drivers["vendor"]
        self.sign_in("vendor", c["vendor_email"])
        WebDriverWait(vendor, WAIT).until(lambda d: d.find_element(By.TAG_NAME, "h1").text == "Integrations")
        requested = vendor.find_element(By.CSS_SELECTOR, "section[aria-labelledby='state-requested']")
        check(c["district"] in requested.text, f"vendor: the board's Requested group lacks {c['district']}: {requested.text}")
        self.shot("vendor", "board")
        requested.find_element(By.LINK_TEXT, c["district"]).click()
        WebDriverWait(vendor, WAIT).until(lambda d: d.current_url.endswith(f"/dashboard/integrations/{integration}"))
        self.shot("vendor", "requested")
        self.press("vendor", "//button[normalize-space()='Authenticate']", "Authenticate")
        check("<code>authenticated</code>" in vendor.page_source, "vendor: the page does not say authenticated")
        self.shot("vendor", "authenticated")
        self.say("vendor: authenticated the district with the integration page's button")

        # 3. The school admin sets the daily sync time (12 hours from now in its zone: no nightly sync fires meanwhile).
        school = self.drivers["school"]
        self.sign_in("school", c["school_email"])
        check("Your onboarding" in school.page_source and c["district"] in school.page_source, "school: not its district's page")
        check("choose the daily sync time" in school.page_source, "school: the page does not ask for the sync time")
        self.shot("school", "home")
        school.find_element(By.LINK_TEXT, c["district"]).click()
        WebDriverWait(school, WAIT).until(lambda d: d.current_url.endswith(f"/dashboard/integrations/{integration}"))
        zone = "America/Chicago"
        at = (datetime.datetime.now(zoneinfo.ZoneInfo(zone)) + datetime.timedelta(hours=12)).strftime("%H:%M")
        school.execute_script("arguments[0].value = arguments[1];", school.find_element(By.ID, "time"), at)
        Select(school.find_element(By.ID, "timezone")).select_by_value(zone)
        self.press("school", "//button[normalize-space()='Save the sync time']", "Schedule")
        check(f"Daily sync at {at} ({zone})" in school.page_source, f"school: the page does not show the sync time {at}")
        self.shot("school", "sync-time")
        self.say(f"school: set the daily sync time to {at} {zone} with the form")

        # 4. The first sync creates the course shells.
        first = self.cli("sync", "run", "--integration", integration, "--bundle", c["bundle"])
        check(first["decision"] == "applied", f"the first sync was not applied: {first}")
        state = self.state_of(integration)
        check(state == "shells_created", f"after the first sync the integration is {state}")
        self.say(f"sync: {first['id']} applied; the course shells exist")

        # 5. The DSP maps a course from their queue's district page; the school verifies it; the DSP adds content.
        dsp = self.drivers["dsp"]
        self.sign_in("dsp", c["dsp_email"])
        WebDriverWait(dsp, WAIT).until(lambda d: d.find_element(By.TAG_NAME, "h1").text == "Your queue")
        check("to a catalog course" in dsp.page_source, "dsp: the queue lists no shell to map")
        self.shot("dsp", "queue")
        dsp.find_element(By.LINK_TEXT, c["district"]).click()
        WebDriverWait(dsp, WAIT).until(lambda d: d.current_url.endswith(f"/dashboard/integrations/{integration}"))
        row = dsp.find_elements(By.CSS_SELECTOR, "section[aria-labelledby='courses'] table tbody tr")[0]
        heading = row.find_element(By.TAG_NAME, "th").text
        title, sourced_id = re.match(r"^(.*) \(([^()]+)\)$", heading).groups()
        row.find_element(By.TAG_NAME, "summary").click()
        base_field = row.find_element(By.CSS_SELECTOR, "input[name='baseID']")
        WebDriverWait(dsp, WAIT).until(lambda d: base_field.is_displayed())
        course = base_field.get_attribute("id").removeprefix("base-")
        base_field.send_keys("RIV-101")
        row.find_element(By.CSS_SELECTOR, "input[name='catalog']").send_keys("Riverdale " + title)
        self.shot("dsp", "map-form")
        self.press("dsp", f"//button[@aria-label={xpath_text('Map: ' + title)}]", "Map")
        check("(RIV-101)" in self.course_row("dsp", sourced_id).text, "dsp: the course map does not show the mapping")
        self.shot("dsp", "mapped")
        self.say(f"dsp: mapped {title} ({sourced_id}) to RIV-101 with the map form")

        self.open_integration("school", integration)
        self.press("school", f"//button[@aria-label={xpath_text('Verify: ' + title)}]", "Verify")
        check("Verified" in self.course_row("school", sourced_id).text, "school: the course is not shown verified")
        self.shot("school", "verified")
        self.say(f"school: verified {title}")

        self.open_integration("dsp", integration)
        self.press("dsp", f"//button[@aria-label={xpath_text('Add content: ' + title)}]", "Add content")
        self.shot("dsp", "content-added")
        self.say(f"dsp: added content to {title}")

        # 6. A student starts the course: it locks.
        status, answer = self.hook("student-started", {"tenantId": c["tenant"], "courseSourcedId": sourced_id})
        check(status == 200 and [change["to"] for change in answer.get("changes", [])] == ["locked"], f"student-started: {answer}")
        self.open_integration("dsp", integration)
        cells = [cell.text for cell in self.course_row("dsp", sourced_id).find_elements(By.TAG_NAME, "td")]
        check(cells[1:3] == ["Locked", "locked"], f"dsp: the course does not show locked: {cells}")
        check(self.course_row("dsp", sourced_id).find_elements(By.TAG_NAME, "summary") == [],
              "dsp: a locked course still offers its map form")
        self.shot("dsp", "locked")
        self.say(f"platform: student-started hook → {title} shows locked")

        # 7. A later sync drops a fifth of the users: it is held, and the vendor admin approves it.
        held = self.cli("sync", "run", "--integration", integration, "--bundle", shrunk_copy(c["bundle"], c["folder"]))
        check(held["decision"] == "held", f"the shrunk sync was not held: {held}")
        run = held["id"]
        self.open_integration("vendor", integration)
        section = vendor.find_element(By.CSS_SELECTOR, "section[aria-labelledby='held']")
        check(f"Sync {run}" in section.text, f"vendor: the held sync {run} is not on the page: {section.text}")
        self.shot("vendor", "held")
        self.press("vendor", f"//form[@action='/dashboard/sync-runs/{run}/decide']//button[@value='approve']", "Approve")
        check(not vendor.find_elements(By.CSS_SELECTOR, "section[aria-labelledby='held']"), "vendor: the sync is still held")
        self.shot("vendor", "approved")
        self.say(f"vendor: approved the held sync {run}")

        with open(c["results"], "w", encoding="utf-8") as f:
            json.dump({"integration": integration, "course": course, "sourcedId": sourced_id, "title": title,
                       "heldRun": run, "firstRun": first["id"]}, f)

    def failed(self):
        for who, driver in self.drivers.items():
            try:
                driver.save_screenshot(os.path.join(self.artifacts, f"walk-failure-{who}.png"))
                print(f"  {who} was at {driver.current_url}")
            except Exception as error:  # noqa: BLE001 - a broken browser must not hide the first failure
                print(f"  {who}: no screenshot ({error})")

    def quit(self):
        for driver in self.drivers.values():
            driver.quit()


def xpath_text(text):
    """`text` as an XPath string literal (titles may hold either quote)."""
    if "'" not in text:
        return f"'{text}'"
    if '"' not in text:
        return f'"{text}"'
    return "concat(" + ", \"'\", ".join(f"'{part}'" for part in text.split("'")) + ")"


def shrunk_copy(bundle, folder):
    """A copy of `bundle` without its last fifth of users and their enrollments and roles: more deletes than a sync
    may make without review."""
    copy = os.path.join(folder, "bundle-shrunk")
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(bundle, copy)

    def read(name):
        with open(os.path.join(copy, name), newline="", encoding="utf-8") as f:
            return list(csv.reader(f))

    def write(name, rows):
        with open(os.path.join(copy, name), "w", newline="", encoding="utf-8") as f:
            csv.writer(f, lineterminator="\r\n").writerows(rows)

    users = read("users.csv")
    keep = len(users) - (len(users) - 1) // 5
    dropped = {row[users[0].index("sourcedId")] for row in users[keep:]}
    write("users.csv", users[:keep])
    for name in ("enrollments.csv", "roles.csv"):
        if os.path.exists(os.path.join(copy, name)):
            rows = read(name)
            column = rows[0].index("userSourcedId")
            write(name, [rows[0]] + [row for row in rows[1:] if row[column] not in dropped])
    return copy


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        config = json.load(f)
    os.makedirs(config["artifacts"], exist_ok=True)
    walk = Walk(config)
    try:
        walk.run()
        print("ok")
    except Exception as error:  # noqa: BLE001 - the reason is the test's output
        print(f"failed: {type(error).__name__}: {error}")
        walk.failed()
        sys.exit(1)
    finally:
        walk.quit()


if __name__ == "__main__":
    main()
