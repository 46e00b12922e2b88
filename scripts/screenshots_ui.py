"""The Python half of scripts/screenshots.sh: wait for the Dagster UI, report a check, click and shoot.

    python3 scripts/screenshots_ui.py wait URL     until the code location is loaded and no run is in flight;
                                                   then dismiss the "Join the Dagster community" dialog
    python3 scripts/screenshots_ui.py check URL ASSET CHECK
                                                   the check's latest evaluation: status, run, partition, metadata
    python3 scripts/screenshots_ui.py click URL OUT.png --wait TEXT --click TEXT [--show TEXT] [--size WxH]
                                                   [-- CHROMIUM_FLAG ...]

`click` opens URL in headless Chromium, waits until TEXT is on the page, clicks the first element whose
own text is --click, waits until --show is on the page, and writes the PNG: for what `chromium
--screenshot` cannot show (a dialog). Standard library only: it drives Chromium through the DevTools
protocol on a pipe (--remote-debugging-pipe: JSON messages ended by NUL on file descriptors 3 and 4), no
websocket.
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import json
import os
import sys
import time
import urllib.request

RUNS_IN_FLIGHT = "[QUEUED, NOT_STARTED, STARTING, STARTED, CANCELING]"


def graphql(url: str, query: str) -> dict:
    request = urllib.request.Request(url + "/graphql", json.dumps({"query": query}).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        answer = json.load(response)
    if answer.get("errors"):
        raise RuntimeError(f"GraphQL: {answer['errors']}")
    return answer["data"]


def wait(url: str, timeout: float = 600) -> int:
    query = f"""{{ workspaceOrError {{ ... on Workspace {{ locationEntries {{ name loadStatus
      locationOrLoadError {{ __typename }} }} }} }}
      runsOrError(filter: {{statuses: {RUNS_IN_FLIGHT}}}) {{ ... on Runs {{ results {{ runId }} }} }} }}"""
    deadline, quiet = time.monotonic() + timeout, 0
    while True:
        try:
            data = graphql(url, query)
            entries = data["workspaceOrError"]["locationEntries"]
            loaded = bool(entries) and all(e["loadStatus"] == "LOADED" for e in entries)
            if loaded and any(e["locationOrLoadError"]["__typename"] != "RepositoryLocation" for e in entries):
                sys.exit("screenshots_ui.py: the code location failed to load (see the log)")
            busy = len(data["runsOrError"]["results"])
        except OSError:
            loaded, busy = False, None
        # Three sensor intervals (30 s) without a run in flight: a drop settles in two ticks, so the daemon
        # has nothing left to start.
        quiet = quiet + 1 if loaded and busy == 0 else 0
        if quiet >= 18:
            break
        if time.monotonic() > deadline:
            sys.exit(f"screenshots_ui.py: the UI was not ready within {timeout:.0f} s (loaded={loaded}, runs in flight={busy})")
        time.sleep(5)
    graphql(url, "mutation { setNuxSeen }")  # what the dialog's Skip button does
    runs = graphql(url, "{ runsOrError { ... on Runs { results { tags { key value } } } } }")["runsOrError"]["results"]
    daemon = [r for r in runs if any(t["key"] in ("dagster/sensor_name", "dagster/schedule_name") for t in r["tags"])]
    print(f"screenshots_ui.py: {len(runs)} runs in the instance, {len(daemon)} of them launched by the daemon", file=sys.stderr)
    return 0


def check(url: str, asset: str, name: str) -> int:
    path = json.dumps(asset.split("/"))
    data = graphql(url, f"""{{ assetCheckExecutions(assetKey: {{path: {path}}}, checkName: {json.dumps(name)}, limit: 1) {{
      runId status evaluation {{ severity metadataEntries {{ label ... on TextMetadataEntry {{ text }}
        ... on IntMetadataEntry {{ intValue }} ... on MarkdownMetadataEntry {{ mdStr }} }} }}
      run {{ jobName tags {{ key value }} }} }} }}""")
    executions = data["assetCheckExecutions"]
    if not executions:
        print(f"{asset}:{name}: never evaluated")
        return 1
    latest = executions[0]
    evaluation = latest["evaluation"] or {}
    tags = {t["key"]: t["value"] for t in (latest["run"] or {}).get("tags", [])}
    print(f"{asset}:{name}, latest evaluation: {latest['status']} (severity {evaluation.get('severity')}) in run "
          f"{latest['runId']} of {(latest['run'] or {}).get('jobName')}, partition {tags.get('dagster/partition', '-')}")
    for entry in evaluation.get("metadataEntries", []):
        value = entry.get("text", entry.get("intValue", entry.get("mdStr")))
        print(f"  {entry['label']}: " + str(value).replace("\n", "\n    "))
    return 0


class Browser:
    def __init__(self, flags: list[str]):
        to_child, self._send = os.pipe()
        self._receive, from_child = os.pipe()
        # Above 4 first, so that neither dup2 below overwrites the other end.
        to_child, from_child = (self._moved_up(fd) for fd in (to_child, from_child))
        argv = ["chromium", "--headless", "--remote-debugging-pipe", *flags, "about:blank"]
        # The child gets the protocol's pipes on fd 3 (commands) and fd 4 (replies); its output goes nowhere.
        self.pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=[
            (os.POSIX_SPAWN_DUP2, to_child, 3),
            (os.POSIX_SPAWN_DUP2, from_child, 4),
            (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
            (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
        ])
        os.close(to_child)
        os.close(from_child)
        self._buffer = b""
        self._next_id = 0
        self.session: str | None = None

    @staticmethod
    def _moved_up(fd: int) -> int:
        high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(fd)
        return high

    def call(self, method: str, **params):
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            message["sessionId"] = self.session
        os.write(self._send, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def _read(self) -> dict:
        while b"\0" not in self._buffer:
            chunk = os.read(self._receive, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def evaluate(self, expression: str):
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True).get("result", {}).get("value")

    def wait_for_text(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.evaluate(f"document.body && document.body.innerText.includes({json.dumps(text)})"):
            if time.monotonic() > deadline:
                raise SystemExit(f"screenshots_ui.py: {text!r} did not appear within {timeout:.0f} s")
            time.sleep(0.5)

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (RuntimeError, OSError):
            pass
        for _ in range(100):  # up to 10 s for it to exit, then kill it
            if os.waitpid(self.pid, os.WNOHANG)[0]:
                return
            time.sleep(0.1)
        os.kill(self.pid, 9)
        os.waitpid(self.pid, 0)


CLICK = """(() => {
  const wanted = %s;
  const hit = [...document.querySelectorAll('body *')].find(e => e.textContent.trim() === wanted &&
      ![...e.children].some(c => c.textContent.trim() === wanted));
  if (!hit) return false;
  hit.scrollIntoView({block: 'center'});
  hit.click();
  return true;
})()"""


def click(args: argparse.Namespace) -> int:
    width, height = (int(v) for v in args.size.split("x"))
    browser = Browser([f"--window-size={width},{height}", "--hide-scrollbars", *args.flags])
    try:
        target = browser.call("Target.createTarget", url="about:blank")["targetId"]
        browser.session = browser.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        browser.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
        browser.call("Page.enable")
        browser.call("Page.navigate", url=args.url)
        browser.wait_for_text(args.wait, args.timeout)
        time.sleep(2)  # the rest of the page's queries
        if not browser.evaluate(CLICK % json.dumps(args.click)):
            raise SystemExit(f"screenshots_ui.py: nothing to click with the text {args.click!r}")
        if args.show:
            browser.wait_for_text(args.show, args.timeout)
        time.sleep(1)  # the dialog's opening transition
        png = browser.call("Page.captureScreenshot", format="png")["data"]
        with open(args.out, "wb") as out:
            out.write(base64.b64decode(png))
    finally:
        browser.close()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("wait").add_argument("url")
    checked = commands.add_parser("check")
    for name in ("url", "asset", "check"):
        checked.add_argument(name)
    shot = commands.add_parser("click")
    shot.add_argument("url")
    shot.add_argument("out")
    shot.add_argument("--wait", required=True, help="text that tells the page has rendered")
    shot.add_argument("--click", required=True, help="the text of the element to click")
    shot.add_argument("--show", help="text that tells the click's result has rendered")
    shot.add_argument("--size", default="1600x1000")
    shot.add_argument("--timeout", type=float, default=60)
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)  # Chromium's flags follow "--"
    args = parser.parse_args(argv[:cut])
    args.flags = argv[cut + 1:]
    if args.command == "wait":
        return wait(args.url)
    if args.command == "check":
        return check(args.url, args.asset, args.check)
    return click(args)


if __name__ == "__main__":
    sys.exit(main())
