#!/usr/bin/env bash
# Copies the screenshots of the main investor and voter paths — in zh, zh-Hant and en, at
# phone (390 px) and desktop (1280 px) width — from the page tests' output (target/screenshots/,
# written by `./scripts/test.sh` or `cargo nextest run -E 'binary(/pages_/)'`) into
# docs/screenshots/, where docs/pages.md shows them. Run it after changing a page's look.
set -euo pipefail
cd "$(dirname "$0")/.."
src="${SCREENSHOT_DIR:-target/screenshots}"
dst=docs/screenshots
# page  name in zh  name in zh-Hant  name in en (as the tests save them)
shots=(
  "form            form-zh          a11y-form-zh-Hant    form-en"
  "filed           filed-zh         filed-zh-Hant        filed-en"
  "track           track-zh         track-zh-Hant        track-en"
  "vote-code       vote-code-zh     vote-code-zh-Hant    vote-code-en"
  "vote-ballot     vote-ballot-zh   vote-ballot-zh-Hant  vote-ballot-en"
  "vote-review     vote-review-zh   vote-review-zh-Hant  vote-review-en"
  "vote-receipt    vote-receipt-zh  vote-receipt-zh-Hant vote-receipt-en"
)
mkdir -p "$dst"
missing=0
for row in "${shots[@]}"; do
  read -r page zh hant en <<<"$row"
  for pair in "zh:$zh" "zh-Hant:$hant" "en:$en"; do
    lang="${pair%%:*}" name="${pair#*:}"
    for width in 390 1280; do
      if [ -f "$src/$name-$width.png" ]; then
        cp "$src/$name-$width.png" "$dst/$page-$lang-$width.png"
      else
        echo "missing: $src/$name-$width.png (run the page tests first)" >&2
        missing=1
      fi
    done
  done
done
[ "$missing" -eq 0 ] && echo "copied $(( ${#shots[@]} * 6 )) screenshots into $dst"
exit "$missing"
