#!/usr/bin/python3
"""The web form as a person uses it, in a real browser (headless Chromium through chromedriver,
Debian's chromium, chromium-driver and python3-selenium).

  browser_e2e.py URL SMTP_FOLDER

Loads the form, submits invalid input and sees the errors beside the fields, submits valid input
(with a <script> in the subject) and sees the tutorial's success message, finds the email in the
SMTP sink's folder, and checks that a form post without the CSRF token is refused. Prints one
"ok: ..." line per check; exits 1 at the first failure.
"""
import glob
import json
import os
import sys
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

url, smtp_folder = sys.argv[1], sys.argv[2]


def fail(message):
    print("FAILED:", message, flush=True)
    sys.exit(1)


def ok(message):
    print("ok:", message, flush=True)


options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]:
    options.add_argument(flag)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
driver.set_page_load_timeout(30)


def wait_for(element_id):
    """The element, once the page after a submit has loaded it (a loaded machine may be slow)."""
    return WebDriverWait(driver, 30).until(expected_conditions.presence_of_element_located((By.ID, element_id)))

try:
    driver.get(url)
    if "Send an email" not in driver.title:
        fail(f"the form did not load: title {driver.title!r}")
    ok("the form loads")

    driver.find_element(By.ID, "subject").clear()
    driver.find_element(By.ID, "body").send_keys("Some text")
    driver.find_element(By.ID, "recipient").send_keys("not an address")
    driver.find_element(By.ID, "send").click()
    subject_error = wait_for("subject-error").text
    recipient_error = wait_for("recipient-error").text
    if not subject_error or not recipient_error:
        fail("no field errors shown")
    if driver.find_element(By.ID, "recipient").get_attribute("value") != "not an address":
        fail("the user's input was not kept beside the error")
    ok(f"invalid input shows errors beside the fields: {subject_error!r}, {recipient_error!r}")

    subject = "Hello <script>alert('x')</script> from the browser"
    for field, value in [("subject", subject), ("body", "Sent by a real browser."), ("recipient", "ann@example.com")]:
        element = driver.find_element(By.ID, field)
        element.clear()
        element.send_keys(value)
    driver.find_element(By.ID, "send").click()
    success = wait_for("success").text
    if success != "You have successfully sent an email to ann@example.com":
        fail(f"unexpected success message {success!r}")
    ok(f"valid input shows the success message: {success!r}")
    try:
        driver.switch_to.alert
        fail("a script in the subject ran")
    except NoAlertPresentException:
        pass
    if subject not in driver.find_element(By.ID, "recent").text:
        fail("the subject is not shown as text in the recent emails")
    ok("a <script> in the subject is shown as text, not run")

    deadline = time.time() + 60
    found = None
    while time.time() < deadline and not found:
        for path in glob.glob(os.path.join(smtp_folder, "*.json")):
            with open(path) as f:
                summary = json.load(f)
            if summary.get("subject") == subject:
                found = summary
        time.sleep(0.2)
    if not found:
        fail("the email did not arrive at the SMTP sink")
    if found.get("to_addresses") != ["ann@example.com"]:
        fail(f"the email went to {found.get('to_addresses')}")
    ok("the email arrived at the SMTP sink")

    deadline = time.time() + 30
    while time.time() < deadline:
        driver.get(url)
        if "sent" in wait_for("recent").text:
            break
        time.sleep(0.3)
    else:
        fail("the recent emails never showed the status 'sent'")
    ok("the page shows the email as sent")

    request = urllib.request.Request(
        url, data=b"subject=x&body=y&recipient=ann%40example.com", method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        urllib.request.urlopen(request, timeout=10)
        fail("a form post without the CSRF token was accepted")
    except urllib.error.HTTPError as error:
        if error.code != 403:
            fail(f"a form post without the CSRF token got {error.code}, not 403")
    ok("a form post without the CSRF token is refused with 403")
finally:
    driver.quit()
print("E2E PASSED", flush=True)
