#!/usr/bin/env bash
# Makes the README's sample report and its screenshot from this project's own captures:
#   docs/sample-report.html, docs/sample-report.md, docs/report.png
# Usage (after cargo build --release): docs/make-sample.sh
set -euo pipefail
cd "$(dirname "$0")/.."
lantern=./target/release/lantern
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The captures were made on 2026-11-23 (ISO week 2026-W48); one is cut short on purpose.
$lantern replay --quiet --store "$work/sample.db" --sensor hq-span-1 --policy dist/policy.toml \
  --identity docs/sample-identity.csv captures/*.pcap || true
for format in html md; do
  ext=$format
  $lantern report --store "$work/sample.db" --policy dist/policy.toml --week 2026-W48 \
    --format "$format" --output "docs/sample-report.$ext"
done
chromium --headless=new --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --hide-scrollbars --user-data-dir="$work/profile" \
  --window-size=1000,1400 --screenshot=docs/report.png "file://$PWD/docs/sample-report.html" 2>/dev/null
echo "docs/sample-report.html docs/sample-report.md docs/report.png"
