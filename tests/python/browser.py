"""A real browser on Haven's pages: Debian's Chromium driven by Playwright, JavaScript off,
at a cheap Android phone's size (412 x 900), as a nurse meets them.

  browser.py answer <url> <screenshot.png>
      opens an answer link, photographs it, tries to decline without a reason (the form must
      not send), presses Accept, and prints what the page said before and after as JSON
"""
import json
import shutil
import sys

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    raise SystemExit("chromium is not installed (scripts/browser.sh installs Debian's)")


def answer(url: str, screenshot: str) -> dict:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        context = browser.new_context(
            viewport={"width": 412, "height": 900},
            java_script_enabled=False,
            user_agent="Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/148.0 Mobile Safari/537.36",
        )
        page = context.new_page()
        sent = []
        page.on("request", lambda r: sent.append(f"{r.method} {r.url}"))
        first = page.goto(url)
        html = first.body()
        before = page.inner_text("main")
        page.screenshot(path=screenshot, full_page=False)
        # Decline without a reason: the browser itself refuses to send the form.
        requests_before = len(sent)
        page.click("form.decline button")
        page.wait_for_timeout(300)
        declined_without_reason_sent = len(sent) > requests_before
        # Accept.
        with page.expect_navigation():
            page.click("form.accept button")
        after = page.inner_text("main")
        has_forms_after = page.locator("form").count()
        browser.close()
    return {
        "status": first.status,
        "content_type": first.headers.get("content-type", ""),
        "bytes": len(html),
        "before": before,
        "after": after,
        "forms_after": has_forms_after,
        "declined_without_reason_sent": declined_without_reason_sent,
        "requests": sent,
    }


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "answer":
        print(json.dumps(answer(sys.argv[2], sys.argv[3])))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
