#!/usr/bin/env bash
# Copies the web UI's third-party browser assets (uPlot, pinned in
# server/ui/package-lock.json) from npm to server/ui/static/vendor, where
# the binary embeds them. Without npm the build goes on without them: every
# page is served, and the pages with charts say how to get them.
set -euo pipefail
cd "$(dirname "$0")/../server/ui"
if ! command -v npm >/dev/null 2>&1; then
  echo "ui-assets: npm not found: building the web UI without charts (install Node.js and npm, e.g. apt-get install nodejs npm, then run make ui-assets)" >&2
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
cp node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css static/vendor/
