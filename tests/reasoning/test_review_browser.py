"""`mixloom review` end to end in headless Chromium (Debian's chromium + chromium-driver, driven by Selenium):
two reviewers decide concurrently with the keyboard shortcuts, the export yields the expected SFT rows,
pairs and kappa, hostile sample text renders as text; and killing the server loses no committed decision.

Set MIXLOOM_UPDATE_SCREENSHOT=1 to refresh docs/review.png from the test's screenshot.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest
from review_helpers import HOSTILE, make_run

from mixloom.layout import RunLayout
from reasoning.review.export import decisions_path
from reasoning.review.items import Item, load_items

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(run: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "mixloom.cli", "review", str(run), "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(url + "/stats.json", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"server did not start: {proc.stdout.read().decode()[-2000:]}")


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1100,940"):
        opts.add_argument(a)
    return webdriver.Chrome(options=opts, service=Service(DRIVER))


def plan(items: list[Item]) -> dict[str, dict[str, tuple]]:
    """What each reviewer does per item: ('accept',), ('reject', reason), ('edit', answer), ('pick', letter)."""
    failed = [i for i in items if i.kind == "sample" and not i.answers[0].verdict]
    pairs = [i for i in items if i.kind == "pair"]
    out: dict[str, dict[str, tuple]] = {"alice": {}, "bob": {}}
    for i in items:
        if i.kind == "sample":
            d = ("accept",) if i.answers[0].verdict else ("reject", "wrong final answer")
            out["alice"][i.id] = out["bob"][i.id] = d
        else:
            checker = "ab"[[a.sample_id for a in i.answers].index(i.checker_choice)]
            out["alice"][i.id] = out["bob"][i.id] = ("pick", checker)
    out["alice"][failed[0].id] = ("edit", "Corrected: 48 + 24 = 72.\n#### 72")
    out["bob"][failed[1].id] = out["bob"][failed[2].id] = ("accept",)  # two disagreements
    for who in ("alice", "bob"):  # both prefer the checker's `rejected` answer of the first pair
        out[who][pairs[0].id] = ("pick", "ba"["ab".index(out[who][pairs[0].id][1])])
    out["bob"][pairs[1].id] = ("pick", "ba"["ab".index(out["bob"][pairs[1].id][1])])  # a tie
    return out


def review_all(url: str, name: str, todo: dict[str, tuple], seen: list[str], errors: list) -> None:
    from selenium.common.exceptions import JavascriptException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    flaky = (StaleElementReferenceException, JavascriptException)  # a page that is being replaced

    d = browser()
    state = "var e = document.querySelector('[name=item]'); return document.getElementById('done') ? 'done' : e && e.value;"
    try:
        d.get(url + "/")
        d.find_element(By.ID, "name").send_keys(name + Keys.ENTER)
        while True:
            item = WebDriverWait(d, 20, ignored_exceptions=flaky).until(lambda d: d.execute_script(state))
            if item == "done":
                break
            seen.append(item)
            body = d.find_element(By.TAG_NAME, "body")
            action = todo[item]
            if action[0] == "accept":
                body.send_keys("a")
            elif action[0] == "reject":
                body.send_keys("r")
                d.switch_to.active_element.send_keys(action[1] + Keys.ENTER)
            elif action[0] == "edit":
                body.send_keys("e")
                box = d.switch_to.active_element
                box.clear()
                box.send_keys(action[1])
                d.find_element(By.ID, "edit").click()
            else:
                body.send_keys({"a": "1", "b": "2"}[action[1]])
            WebDriverWait(d, 20, ignored_exceptions=flaky).until(
                lambda d, old=item: d.execute_script(state) not in (None, old)
            )
    except Exception as e:  # reported by the main thread
        errors.append(e)
        raise
    finally:
        d.quit()


@pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="needs Debian's chromium and chromium-driver")
def test_two_reviewers_in_chromium_then_export(write_recipe, tmp_path):
    pytest.importorskip("selenium")
    sklearn = pytest.importorskip("sklearn.metrics")
    from selenium.webdriver.common.by import By

    run = make_run(write_recipe, tmp_path)
    items = load_items(RunLayout(run))
    todo = plan(items)
    proc, url = start_server(run)
    try:
        seen: dict[str, list[str]] = {"alice": [], "bob": []}
        errors: list = []
        threads = [threading.Thread(target=review_all, args=(url, n, todo[n], seen[n], errors)) for n in todo]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        assert not errors, errors
        assert sorted(seen["alice"]) == sorted(seen["bob"]) == sorted(i.id for i in items)

        d = browser()
        try:  # the sample whose answer holds a <script> and HTML, as alice sees it after both reviewed
            from selenium.webdriver.support.ui import WebDriverWait

            d.get(url + "/")
            d.find_element(By.ID, "name").send_keys("alice\n")
            WebDriverWait(d, 30).until(lambda d: not d.find_elements(By.ID, "name"))  # signed in (a busy CI)
            hostile = items[0]
            d.get(f"{url}/item?{httpx.QueryParams({'id': hostile.id})}")
            WebDriverWait(d, 30).until(lambda d: d.find_elements(By.ID, "answer-text"))
            assert HOSTILE in d.find_element(By.ID, "answer-text").text
            assert d.title.startswith("mixloom review") and not d.find_elements(By.ID, "injected")
            assert d.execute_script("return document.querySelectorAll('main script, main img').length") == 0
            page_kappa = d.find_element(By.ID, "agreement").text
            shot = tmp_path / "review.png"
            d.save_screenshot(str(shot))
        finally:
            d.quit()
        assert shot.stat().st_size > 10_000
        if os.environ.get("MIXLOOM_UPDATE_SCREENSHOT") == "1":
            shutil.copy(shot, ROOT / "docs" / "review.png")
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    out = subprocess.run(
        [sys.executable, "-m", "mixloom.cli", "review", "export", str(run)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    layout = RunLayout(run)
    import json

    m = json.loads((layout.stage_dir("review") / "manifest.json").read_text())

    def lab(item: Item, d: tuple) -> str:
        if item.kind == "pair":
            return "chosen" if item.answers["ab".index(d[1])].sample_id == item.checker_choice else "rejected"
        return "accept" if d[0] == "accept" else "reject"

    a = [lab(i, todo["alice"][i.id]) for i in items]
    b = [lab(i, todo["bob"][i.id]) for i in items]
    expected = sklearn.cohen_kappa_score(a, b)
    got = m["agreement"]["cohen"]["alice / bob"]
    assert got["items"] == len(items) and got["kappa"] == pytest.approx(expected)
    assert f"{expected:.3f}" in page_kappa
    assert m["decisions"] == 2 * len(items)

    failed = [i for i in items if i.kind == "sample" and not i.answers[0].verdict]
    pairs = [i for i in items if i.kind == "pair"]
    sft = {r["sample_id"]: r for r in pq.read_table(layout.ref_path("review.sft")).to_pylist()}
    assert sft[failed[0].answers[0].sample_id]["messages"][1]["content"] == todo["alice"][failed[0].id][1]
    assert failed[1].answers[0].sample_id not in sft  # a tie leaves the sample as generated (not in SFT)
    rows = pq.read_table(layout.ref_path("review.pairs")).to_pylist()
    by_review = {r["review"]: r for r in rows}
    assert sorted(r["review"] for r in rows) == ["correction", "flipped", "unreviewed"]
    assert by_review["flipped"]["rejected_id"] == pairs[0].checker_choice
    assert by_review["unreviewed"]["chosen_id"] == pairs[1].checker_choice
    assert by_review["correction"]["rejected_id"] == failed[0].answers[0].sample_id


def test_killing_the_server_loses_no_committed_decision(write_recipe, tmp_path):
    run = make_run(write_recipe, tmp_path)
    items = [i for i in load_items(RunLayout(run)) if i.kind == "sample"]
    proc, url = start_server(run)
    acked: list[int] = []
    stop = threading.Event()

    def reviewer(name: str) -> None:
        with httpx.Client(base_url=url, timeout=10, follow_redirects=True) as c:
            token = re.search(r'name="token" value="([^"]+)"', c.get("/").text).group(1)
            c.post("/reviewer", data={"token": token, "name": name})
            n = 0
            while not stop.is_set():
                item = items[n % len(items)]
                n += 1
                try:
                    form = {"token": token, "item": item.id, "action": "accept"}
                    r = c.post("/decide", data=form, follow_redirects=False)
                except httpx.HTTPError:
                    return  # the server is gone
                if r.status_code == 303:
                    acked.append(int(r.headers["x-decision-id"]))

    threads = [threading.Thread(target=reviewer, args=(n,)) for n in ("alice", "bob", "carol")]
    for t in threads:
        t.start()
    deadline = time.time() + 60
    while len(acked) < 40 and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # mid-session: requests are in flight
    proc.wait(timeout=30)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert len(acked) >= 40
    con = sqlite3.connect(decisions_path(RunLayout(run)))
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {r[0] for r in con.execute("SELECT id FROM decisions")}
    finally:
        con.close()
    assert set(acked) <= stored
    proc2, url2 = start_server(run)  # and the review goes on where it was
    try:
        assert httpx.get(url2 + "/stats.json").json()["decisions"] == len(stored)
    finally:
        proc2.terminate()
        proc2.wait(timeout=30)
