#!/usr/bin/env python3
"""Drives real headless Chromium through halfsize's pages, as a person would, without JavaScript
being needed by the pages: uploads a CSV through the form, reads the reference on the page it is
sent to, follows the status page until the job ends, downloads the output CSV from its link;
uploads a broken CSV and finds every planted problem in the table; looks up an unknown reference.
Saves a screenshot of each page. Exits non-zero, naming the step, on the first failure.

usage: browser_test.py --url http://127.0.0.1:8080 --images http://127.0.0.1:PORT --shots DIR
"""
import argparse
import os
import sys
import tempfile
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def browser():
    options = webdriver.ChromeOptions()
    # Debian's build, found by path: Selenium Manager would try to download one.
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)


def check(condition, step):
    if not condition:
        raise SystemExit(f"browser test failed: {step}")
    print(f"ok  {step}")


def upload(driver, base, path):
    """Submits the form and waits for the page it leads to (a click does not wait for it)."""
    driver.get(base + "/")
    form_page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.ID, "file").send_keys(path)
    driver.find_element(By.CSS_SELECTOR, "form[action='/jobs'] button[type=submit]").click()
    WebDriverWait(driver, 30).until(lambda d: d.find_element(By.TAG_NAME, "html") != form_page)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--images", required=True, help="base URL of an image server with /ok/<file> and /missing/<x>")
    parser.add_argument("--shots", required=True)
    args = parser.parse_args()
    os.makedirs(args.shots, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix="halfsize-browser-")
    good = os.path.join(scratch, "products.csv")
    with open(good, "w") as f:
        f.write("S. No.,Product Name,Input Image Urls\n")
        files = ["j20_squirrel_0.2mp.jpg", "j17_donna_0.4mp.jpg", "p03_photo_fruits_512.png", "j16_building_0.5mp.jpg"]
        for row in range(1, 9):
            urls = [f"{args.images}/ok/{files[(row + k) % len(files)]}?copy={row}-{k}" for k in range(2)]
            if row == 5:
                urls[1] = f"{args.images}/missing/gone.jpg"
            f.write(f'{row},Product {row},"{", ".join(urls)}"\n')
    broken = os.path.join(scratch, "broken.csv")
    with open(broken, "w") as f:
        f.write("S. No.,Product Name,Input Image Urls\nx,Shirt,https://example.com/a.jpg\n2,,https://example.com/b.jpg\n"
                "3,Bag,ftp://example.com/c.jpg\n3,Hat,https://example.com/d.jpg\n5,Belt,\n")
    planted = {"invalid_serial_number": "2", "empty_product_name": "3", "invalid_url": "4", "duplicate_serial_number": "5",
               "no_image_url": "6"}

    driver = browser()
    try:
        driver.get(args.url + "/")
        driver.save_screenshot(os.path.join(args.shots, "page-upload.png"))
        check(driver.find_element(By.TAG_NAME, "h1").text.startswith("Halve the images"), "the upload page opens")

        upload(driver, args.url, good)
        reference = driver.find_element(By.ID, "reference").text.strip()
        check(len(reference) == 26 and driver.current_url.endswith(f"/jobs/{reference}/uploaded"),
              f"the upload leads to its reference page ({reference})")
        driver.save_screenshot(os.path.join(args.shots, "page-uploaded.png"))

        driver.find_element(By.LINK_TEXT, "Follow the job").click()
        WebDriverWait(driver, 30).until(lambda d: d.current_url.endswith(f"/jobs/{reference}"))
        deadline = time.time() + 180
        status = ""
        while time.time() < deadline:
            status = driver.find_element(By.ID, "status").get_attribute("data-status")
            if status in ("completed", "completed_with_errors", "failed"):
                break
            time.sleep(1)
            driver.refresh()  # what the page's meta refresh does every 3 s; sooner here
        check(status == "completed_with_errors", f"the status page reaches the end of the job ({status})")
        rows = driver.find_elements(By.CSS_SELECTOR, "#failures-heading + .table tbody tr")
        check(len(rows) == 1 and "http_status" in rows[0].text and "/missing/gone.jpg" in rows[0].text,
              "the failed image is listed in words")
        check(len(driver.find_elements(By.CSS_SELECTOR, ".thumbs img")) == 6, "halved images are shown")
        driver.save_screenshot(os.path.join(args.shots, "page-status.png"))
        link = driver.find_element(By.LINK_TEXT, "Download the output CSV").get_attribute("href")
        csv = urllib.request.urlopen(link, timeout=10).read().decode()
        lines = csv.strip().split("\r\n")
        check(len(lines) == 9 and lines[0].endswith("Output Image Urls") and f"/images/{reference}/r2-1." in lines[1],
              "the output CSV downloads with every row")

        upload(driver, args.url, broken)
        table = driver.find_elements(By.CSS_SELECTOR, "tbody tr")
        found = {code: row for code, row in planted.items()
                 if any(f"({code})" in tr.text and tr.find_elements(By.TAG_NAME, "td")[0].text == row for tr in table)}
        check(found == planted, f"every planted problem is in the table ({sorted(set(planted) - set(found))} missing)")
        driver.save_screenshot(os.path.join(args.shots, "page-problems.png"))

        driver.get(args.url + "/")
        box = driver.find_element(By.ID, "reference")
        box.send_keys("01ZZZZZZZZZZZZZZZZZZZZZZZZ")
        box.submit()
        WebDriverWait(driver, 30).until(lambda d: "/lookup" in d.current_url or "/jobs/" in d.current_url)
        check("No job has the reference" in driver.find_element(By.TAG_NAME, "h1").text, "an unknown reference gets its page")
        driver.save_screenshot(os.path.join(args.shots, "page-not-found.png"))

        driver.get(args.url + "/")
        box = driver.find_element(By.ID, "reference")
        box.send_keys(f" {reference.lower()} ")
        box.submit()
        WebDriverWait(driver, 30).until(lambda d: d.current_url.endswith(f"/jobs/{reference}"))
        check(driver.current_url.endswith(f"/jobs/{reference}"), "a reference typed in lower case finds its job")
    finally:
        driver.quit()


if __name__ == "__main__":
    sys.exit(main())
