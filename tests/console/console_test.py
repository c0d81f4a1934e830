#!/usr/bin/env python3
"""The console in a real browser (headless Chromium through Selenium).

Starts the real tern-relay (loopback, a temp data dir, a known admin token),
opens the console at its admin listener and walks the flow a user would:
log in with /#token=, create a source and copy its write key, send events with
the SDK (tern-send) using that key and see them in the debugger within two
seconds, filter them, open one; add a file sink and a route; watch the
overview's chart move; make a conflicting edit and see the 412; restore a
revision. Screenshots of each page go to --screenshots (and, with
--docs-img, the debugger's and the overview's to docs/img for the README).

Exits 77 with "SKIPPED: <why>" when there is no browser, driver or Selenium.
"""
import argparse
import base64
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

TOKEN = "tat_console_test_0123456789abcdef"


def skip(why):
    print(f"SKIPPED: {why}")
    sys.exit(77)


def find_browser():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def find_driver():
    path = shutil.which("chromedriver")
    if path:
        return path
    for p in ("/usr/lib/chromium/chromedriver", "/usr/bin/chromedriver"):
        if os.path.exists(p):
            return p
    return None


class Relay:
    """tern-relay on loopback with an admin listener and a known token."""

    def __init__(self, binary, workdir):
        env = dict(os.environ, TERN_ADMIN_TOKEN=TOKEN)
        self.proc = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
             "--data-dir", os.path.join(workdir, "data")],
            stdout=subprocess.PIPE, stderr=open(os.path.join(workdir, "relay.log"), "w"),
            env=env, text=True)
        self.ingest = "http://" + self._expect("listening on ")
        self.admin = "http://" + self._expect("admin listening on ")

    def _expect(self, prefix):
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("tern-relay exited before saying " + prefix)
            if line.startswith(prefix):
                return line[len(prefix):].strip()
        raise RuntimeError("tern-relay did not say " + prefix)

    def api(self, method, path, body=None, headers=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.admin + "/admin/v1" + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + TOKEN)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        with urllib.request.urlopen(req, timeout=10) as r:
            text = r.read().decode()
            return r.status, (json.loads(text) if text else None), r.headers

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class ConsoleTest:
    def __init__(self, args, workdir):
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service

        self.args = args
        self.workdir = workdir
        self.shots = args.screenshots
        os.makedirs(self.shots, exist_ok=True)
        self.relay = Relay(args.relay, workdir)
        options = Options()
        options.binary_location = args.browser
        for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                  "--window-size=1280,900", "--no-first-run", "--disable-extensions",
                  "--disable-background-networking", "--force-device-scale-factor=1"):
            options.add_argument(a)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service(args.driver), options=options)
        self.driver.set_page_load_timeout(15)
        self.driver.set_script_timeout(10)
        # The Copy button writes to the clipboard: allow it, as a user's click would.
        origin = self.relay.admin
        for name in ("clipboardReadWrite", "clipboardSanitizedWrite"):
            try:
                self.driver.execute_cdp_cmd("Browser.grantPermissions",
                                            {"origin": origin, "permissions": [name]})
            except Exception:  # an older Chromium without one of the names
                pass
        self.started = time.monotonic()

    # ---- helpers ----------------------------------------------------------

    def step(self, text):
        now = time.monotonic()
        print(f"[{now - self.started:5.1f}s] {text}", flush=True)

    def q(self, testid, root=None):
        from selenium.webdriver.common.by import By
        return (root or self.driver).find_element(By.CSS_SELECTOR, f'[data-testid="{testid}"]')

    def qa(self, testid, root=None):
        from selenium.webdriver.common.by import By
        return (root or self.driver).find_elements(By.CSS_SELECTOR, f'[data-testid="{testid}"]')

    def css(self, selector, root=None):
        from selenium.webdriver.common.by import By
        return (root or self.driver).find_element(By.CSS_SELECTOR, selector)

    def wait(self, what, fn, timeout=10.0):
        """Polls fn() until it returns something truthy; fails after timeout."""
        from selenium.common.exceptions import StaleElementReferenceException, NoSuchElementException
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                v = fn()
                if v:
                    return v
            except (StaleElementReferenceException, NoSuchElementException) as e:
                last = e
            time.sleep(0.05)
        self.shot("failure")
        raise AssertionError(f"timed out after {timeout} s waiting for {what} ({last!r})")

    def wait_quietly(self, fn, timeout):
        """Polls fn() for up to timeout seconds; returns its last value."""
        deadline = time.monotonic() + timeout
        while True:
            v = fn()
            if v or time.monotonic() >= deadline:
                return v
            time.sleep(0.05)

    def shot(self, name):
        path = os.path.join(self.shots, f"{name}.png")
        self.driver.save_screenshot(path)
        return path

    def go(self, view):
        self.driver.execute_script("location.hash = arguments[0]", view)
        self.wait(f"the {view} view", lambda: self.driver.execute_script(
            "return document.body.dataset.view") == view.lstrip("#"))

    def fill(self, el, text):
        el.clear()
        el.send_keys(text)

    def send_events(self, key, count, db, rate=0):
        t0 = time.monotonic()
        out = subprocess.run(
            [self.args.send, "--endpoint", self.relay.ingest, "--write-key", key,
             "--db", os.path.join(self.workdir, db), "--count", str(count), "--immediate",
             "--timeout-ms", "10000", "--rate", str(rate)],
            capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, f"tern-send failed: {out.stdout}{out.stderr}"
        return t0, time.monotonic()

    # ---- the flow ---------------------------------------------------------

    # The flow, in order (each step leaves the page where the next begins).
    STEPS = [
        "log_in",
        "create_source_and_copy_its_key",
        "see_sent_events_in_the_debugger",
        "filter_by_type_and_event_name",
        "pause_and_resume",
        "open_one_event",
        "see_a_rejected_event",
        "add_a_file_sink_and_a_route",
        "see_the_tap_limit",
        "see_the_overview_chart_move",
        "see_events_not_shown",
        "see_a_conflicting_edit_refused",
        "restore_a_revision",
        "see_dead_letters",
        "use_a_phone_width",
        "log_out",
    ]

    def run(self):
        self.started = time.monotonic()
        for step in self.STEPS:
            getattr(self, step)()
        self.check_browser_log()
        self.step("done")

    def log_in(self):
        d = self.driver
        self.step("log in with /#token=")
        d.get(self.relay.admin + "/#token=" + TOKEN)
        self.wait("the debugger after login", lambda: d.execute_script(
            "return document.body.dataset.view") == "debugger")
        assert "token" not in d.current_url, f"the token stays in the address bar: {d.current_url}"
        assert d.execute_script("return sessionStorage.getItem('tern.console.token')") == TOKEN
        assert self.q("logout").is_displayed()

    def create_source_and_copy_its_key(self):
        d = self.driver
        self.step("create a source and copy its write key")
        self.go("#pipeline")
        self.fill(self.q("source-id"), "web-console")
        self.q("source-create").click()
        key_input = self.wait("the new write key", lambda: self.q("new-key-value"))
        key = self.key = key_input.get_attribute("value")
        assert key, "the new source's write key is not shown"
        self.wait("the source in the list", lambda: self.css('tr[data-source="web-console"]'))
        self.q("copy-key").click()
        status = self.wait("the copy's outcome", lambda: self.q("copy-status").text)
        if status == "Copied.":
            copied = d.execute_async_script(
                "const done = arguments[0];"
                "navigator.clipboard.readText().then(done, () => done(null));")
            assert copied in (None, key), f"the clipboard holds {copied!r}, not the key"
        else:
            assert "selected" in status, status
            selected = d.execute_script("return window.getSelection().toString() || "
                                        "document.activeElement.value")
            assert selected == key
        self.revision_with_source = self.current_revision()
        self.shot("pipeline-source")

    def see_sent_events_in_the_debugger(self):
        d = self.driver
        self.step("send events with that key; they show in the debugger within 2 s")
        self.go("#debugger")
        self.wait("the tap to be live", lambda: self.q("tap-status").get_attribute(
            "data-state") == "live", timeout=15)
        _, sent = self.send_events(self.key, 12, "sdk1.db")
        self.wait("12 events from web-console in the debugger", lambda: len(
            d.find_elements("css selector", '[data-testid="event-row"][data-source="web-console"]')) >= 12,
            timeout=2.0 + 0.5)
        elapsed = time.monotonic() - sent
        assert elapsed <= 2.0, f"events took {elapsed:.2f} s to show"
        rows = self.qa("event-row")
        names = [r.get_attribute("data-event") for r in rows]
        assert "Item Purchased" in names and "Checkout" in names, names
        # newest first: the tap's sequence numbers go down the list
        seqs = [int(r.get_attribute("data-seq")) for r in rows if r.get_attribute("data-seq")]
        assert seqs == sorted(seqs, reverse=True), seqs

    def filter_by_type_and_event_name(self):
        self.step("filter by type and event name")
        self.fill(self.q("filter-type"), "track")
        self.fill(self.q("filter-event"), "Item Purchased")
        self.q("filter-apply").click()
        self.wait("the filtered tap to be live", lambda: self.q("tap-status").get_attribute(
            "data-state") == "live" and not self.qa("event-row"), timeout=10)
        # tern-send's 12 events hold 7 "Item Purchased" tracks, the last of
        # them 11th: once all 7 show, any other event the tap let through
        # (all sent before that one) would show too.
        self.send_events(self.key, 12, "sdk2.db")
        self.wait("the 7 Item Purchased tracks in the filtered debugger",
                  lambda: len(self.qa("event-row")) >= 7, timeout=3)
        rows = self.qa("event-row")
        shown = [(r.get_attribute("data-type"), r.get_attribute("data-event")) for r in rows]
        assert shown == [("track", "Item Purchased")] * 7, shown

    def pause_and_resume(self):
        self.step("pause: new events are counted, not shown, until resumed")
        self.q("pause").click()
        self.send_events(self.key, 12, "sdk-paused.db")
        self.wait("the paused count", lambda: "paused: 7 new" in self.q("tap-count").text, timeout=3)
        assert len(self.qa("event-row")) == 7
        self.q("pause").click()  # now "Resume"
        self.wait("the held events shown", lambda: len(self.qa("event-row")) == 14, timeout=2)

    def open_one_event(self):
        self.step("open one event and see the relay's fields marked")
        rows = self.qa("event-row")
        rows[0].click()
        detail = self.q("event-detail")
        received = self.wait("receivedAt marked", lambda: self.q("added-event.receivedAt", detail))
        assert '"receivedAt"' in received.text
        assert self.q("added-source", detail).text.startswith('"source": "web-console"')
        assert '"Item Purchased"' in detail.text
        self.shot("debugger")
        self.docs_shot("console-debugger")

    def see_a_rejected_event(self):
        self.step("with 'rejected too', a refused event shows with its reason")
        self.fill(self.q("filter-type"), "")
        self.fill(self.q("filter-event"), "")
        self.q("filter-rejected").click()
        self.q("filter-apply").click()
        self.wait("the tap with rejections to be live", lambda: self.q("tap-status").get_attribute(
            "data-state") == "live" and not self.qa("event-row"), timeout=10)
        # A track without its "event" name, as a broken client would send it.
        auth = base64.b64encode((self.key + ":").encode()).decode()
        req = urllib.request.Request(self.relay.ingest + "/v1/track", method="POST",
                                     data=json.dumps({"type": "track", "userId": "u-1"}).encode(),
                                     headers={"Authorization": "Basic " + auth,
                                              "Content-Type": "application/json"})
        try:
            urllib.request.urlopen(req, timeout=10).read()
        except urllib.error.HTTPError as e:
            assert e.code == 400, e.code
        row = self.wait("the rejected event", lambda: self.css('[data-testid="event-row"].rejected'), timeout=2)
        assert "rejected: " in row.text, row.text
        row.click()
        assert "Rejected event" in self.q("event-detail").text
        self.q("filter-rejected").click()

    def add_a_file_sink_and_a_route(self):
        self.step("add a file sink and a route")
        self.go("#pipeline")
        self.fill(self.q("sink-name"), "console-archive")
        self.q("sink-type").send_keys("file")
        settings = self.q("sink-settings")
        self.fill(settings, json.dumps({"dir": os.path.join(self.workdir, "archive")}))
        self.q("sink-create").click()
        row = self.wait("the sink in the list", lambda: self.css('tr[data-sink="console-archive"]'))
        self.q("sink-test", row).click()
        result = self.wait("the connection test's result", lambda: self.q("sink-test-result").text)
        assert result == "Connection OK", result
        self.fill(self.q("route-id"), "web-to-archive")
        self.fill(self.q("route-sources"), "web-console")
        self.fill(self.q("route-types"), "track")
        self.fill(self.q("route-sinks"), "console-archive")
        self.q("route-create").click()
        route = self.wait("the route in the list", lambda: self.css('tr[data-route="web-to-archive"]'))
        assert "console-archive" in route.text and "track" in route.text
        # A field error shows next to its field: a route to a sink that does not exist.
        self.fill(self.q("route-sinks"), "no-such-sink")
        self.q("route-create").click()
        err = self.wait("the route's error", lambda: self.css('[data-testid="route-form"] .field-error:not(:empty), '
                                                              '[data-testid="route-form"] .form-error:not(:empty)'))
        assert "no-such-sink" in err.text, err.text
        self.shot("pipeline")

    def see_the_tap_limit(self):
        self.step("every tap slot taken: the debugger shows the relay's 429 and gets in later")
        # Other viewers (here, raw HTTP clients) take every slot while the page shows no tap.
        viewers = []
        refusal = None
        for _ in range(16):
            conn = http.client.HTTPConnection(self.relay.admin.split("//")[1], timeout=10)
            conn.request("GET", "/admin/v1/tap", headers={"Authorization": "Bearer " + TOKEN})
            resp = conn.getresponse()
            if resp.status == 429:
                refusal = json.loads(resp.read())["error"]["message"]
                conn.close()
                break
            assert resp.status == 200, resp.status
            viewers.append(resp)  # the open response holds the connection
        assert refusal, "the relay never refused a tap"
        self.go("#debugger")
        self.wait("the refusal in the debugger", lambda: refusal in self.q("tap-status").text, timeout=5)
        for resp in viewers:
            resp.close()
        # Retry-After is 5 s: the page tries again then, and gets a slot.
        self.wait("the tap to be live again", lambda: self.q("tap-status").get_attribute(
            "data-state") == "live", timeout=10)

    def see_events_not_shown(self):
        self.step("a burst past the tap's rate: the debugger says how many it did not show")
        self.go("#debugger")
        self.wait("the tap to be live", lambda: self.q("tap-status").get_attribute(
            "data-state") == "live", timeout=10)
        self.send_events(self.key, 400, "sdk-burst.db")
        # The relay tells a viewer what it skipped along with the next text it
        # sends (or the 15 s keep-alive): the next event shown, once the
        # tap's one-second rate window has passed, carries the count.
        deadline = time.monotonic() + 8
        while not self.qa("tap-notice") and time.monotonic() < deadline:
            self.send_events(self.key, 1, "sdk-after-burst.db")
            self.wait_quietly(lambda: self.qa("tap-notice"), 0.5)
        notice = self.wait("the dropped notice", lambda: self.qa("tap-notice"), timeout=1)[0]
        assert "events not shown: over the tap's rate" in notice.text, notice.text
        shown = len(self.qa("event-row"))
        assert 0 < shown < 400, shown

    def see_the_overview_chart_move(self):
        self.step("the overview's chart moves")
        self.go("#overview")
        chart = self.wait("the source's chart", lambda: self.q("chart-source-web-console"), timeout=5)
        before = chart.get_attribute("data-points")
        total_before = self.q("source-accepted-total",
                              self.css('[data-testid="overview-source"][data-source="web-console"]')).text
        self.send_events(self.key, 24, "sdk3.db")

        def moved():
            c = self.q("chart-source-web-console")
            return c.get_attribute("data-points") != before and self.q(
                "source-accepted-total",
                self.css('[data-testid="overview-source"][data-source="web-console"]')).text != total_before
        self.wait("the chart to change after more events", moved, timeout=8)
        if self.args.docs_img:
            # For the README: twenty seconds of steady traffic draw a fuller chart.
            self.send_events(self.key, 400, "sdk-docs.db", rate=20)
            time.sleep(2.5)  # two polls of the overview
        self.shot("overview")
        self.docs_shot("console-overview")

    def see_a_conflicting_edit_refused(self):
        self.step("a conflicting edit shows the 412 and the current value")
        self.go("#pipeline")
        row = self.wait("the sink", lambda: self.css('tr[data-sink="console-archive"]'))
        self.q("sink-edit", row).click()
        text = self.wait("the sink's editor", lambda: self.q("sink-edit-json"))
        # Someone else changes the sink meanwhile.
        self.relay.api("PATCH", "/sinks/console-archive", {"max_bytes": 1048576})
        edited = json.loads(text.get_attribute("value"))
        edited["max_bytes"] = 2097152
        self.fill(text, json.dumps(edited))
        self.q("sink-save").click()
        error = self.wait("the 412's message", lambda: self.q("sink-edit-error").text)
        assert "changed since you read it" in error, error
        current = self.wait("the current value", lambda: self.q("conflict-current"))
        assert "412" in self.q("conflict-title").text
        assert '"max_bytes": 1048576' in current.text, current.text
        self.shot("pipeline-conflict")
        # Starting again from the current value, the edit goes through.
        self.q("conflict-reload").click()
        text = self.q("sink-edit-json")
        edited = json.loads(text.get_attribute("value"))
        assert edited["max_bytes"] == 1048576, edited
        edited["max_bytes"] = 2097152
        self.fill(text, json.dumps(edited))
        self.q("sink-save").click()
        self.wait("the save after reloading", lambda: self.qa("sink-saved"))
        _, sink, _ = self.relay.api("GET", "/sinks/console-archive")
        assert sink["max_bytes"] == 2097152, sink

    def restore_a_revision(self):
        d = self.driver
        self.step("restore a revision and see the state back")
        rev = self.revision_with_source
        restore_row = self.wait(f"revision {rev}", lambda: self.css(f'tr[data-revision="{rev}"]'))
        self.q("revision-diff", restore_row).click()
        diff = self.wait("the diff", lambda: self.q("diff"))
        assert "sinks/console-archive" in diff.text and "routes/web-to-archive" in diff.text, diff.text
        self.q("revision-restore", self.css(f'tr[data-revision="{rev}"]')).click()
        self.q("revision-restore-confirm").click()
        self.wait("the restore's note", lambda: self.qa("restored"))
        assert not self.qa('sink-row') or not d.find_elements(
            "css selector", 'tr[data-sink="console-archive"]'), "the sink is still there after the restore"
        assert not d.find_elements("css selector", 'tr[data-route="web-to-archive"]')
        assert d.find_elements("css selector", 'tr[data-source="web-console"]')
        self.shot("pipeline-restored")

    def see_dead_letters(self):
        self.step("dead letters")
        self.go("#dead-letters")
        cards = self.wait("a card per sink", lambda: self.qa("dead-letter-sink"))
        assert [c.get_attribute("data-sink") for c in cards] == ["file"]
        # Nothing was dead-lettered in this run: each sink says so.
        self.wait("the file sink's (empty) dead letters", lambda: self.qa("dead-letters-none", cards[0]))
        self.shot("dead-letters")

    def use_a_phone_width(self):
        d = self.driver
        self.step("a phone's width")
        d.set_window_size(390, 844)
        for view in ("#debugger", "#overview", "#pipeline"):
            self.go(view)
            time.sleep(0.2)
            width = d.execute_script("return document.documentElement.scrollWidth")
            assert width <= 390, f"{view} is {width} px wide at a 390 px window"
            self.shot("phone-" + view.lstrip("#"))

    def log_out(self):
        d = self.driver
        self.step("log out")
        self.q("logout").click()
        self.wait("the login form", lambda: self.q("login-form"))
        assert d.execute_script("return sessionStorage.getItem('tern.console.token')") is None

    def current_revision(self):
        _, body, _ = self.relay.api("GET", "/revisions?limit=1")
        return body["items"][0]["revision"]

    def docs_shot(self, name):
        if self.args.docs_img:
            os.makedirs(self.args.docs_img, exist_ok=True)
            self.driver.save_screenshot(os.path.join(self.args.docs_img, name + ".png"))

    def check_browser_log(self):
        # A CSP violation or a script error is a failure; the API's own 4xx
        # answers (the 412, the 422) are logged by the browser as failed loads.
        bad = [e for e in self.driver.get_log("browser")
               if e["level"] == "SEVERE" and "Failed to load resource" not in e["message"]]
        assert not bad, "the browser logged errors:\n" + "\n".join(e["message"] for e in bad)

    def close(self):
        try:
            self.driver.quit()
        finally:
            self.relay.stop()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--relay", required=True)
    p.add_argument("--send", required=True)
    p.add_argument("--screenshots", required=True)
    p.add_argument("--docs-img", default=os.environ.get("TERN_CONSOLE_DOCS_IMG", ""),
                   help="also write the README's screenshots here (docs/img)")
    args = p.parse_args()
    try:
        import selenium  # noqa: F401
    except ImportError:
        skip("selenium is not installed in this Python (run scripts/install-deps.sh)")
    args.browser = find_browser()
    if not args.browser:
        skip("no chromium (scripts/install-deps.sh installs Debian's chromium)")
    args.driver = find_driver()
    if not args.driver:
        skip("no chromedriver (scripts/install-deps.sh installs Debian's chromium-driver)")
    workdir = tempfile.mkdtemp(prefix="tern-console-")
    test = None
    try:
        test = ConsoleTest(args, workdir)
        test.run()
    except Exception:
        if test is not None:
            try:
                test.shot("failure")
            except Exception:
                pass
            log = os.path.join(workdir, "relay.log")
            if os.path.exists(log):
                print("---- relay log (tail) ----")
                print("".join(open(log).readlines()[-30:]))
        raise
    finally:
        if test is not None:
            test.close()
        shutil.rmtree(workdir, ignore_errors=True)
    print("console_test: passed")


if __name__ == "__main__":
    main()
