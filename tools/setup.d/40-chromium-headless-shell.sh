#!/bin/sh
# Headless Chromium, for tests/test_html_report.py only: it opens report.html offline and takes a
# screenshot (the page must render with no network).  From the distribution's package
# chromium-headless-shell (Debian/Ubuntu apt); nothing else uses it and nothing downloads at run time.
set -eu
for exe in chromium-headless-shell chromium chromium-browser; do
    if command -v "$exe" >/dev/null 2>&1; then
        exit 0
    fi
done
if ! command -v apt-get >/dev/null 2>&1; then
    echo "40-chromium-headless-shell: no apt-get here; install headless Chromium by hand for the HTML report test" \
        "(tests/test_html_report.py skips without it)" >&2
    exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "40-chromium-headless-shell: run as root: apt-get install chromium-headless-shell" >&2
        exit 1
    fi
    SUDO=sudo
fi
$SUDO apt-get install -y --no-install-recommends chromium-headless-shell >/dev/null \
    || { $SUDO apt-get update -qq && $SUDO apt-get install -y --no-install-recommends chromium-headless-shell >/dev/null; }
command -v chromium-headless-shell >/dev/null 2>&1
