#!/usr/bin/env bash
# Vendor the JavaScript the web UI bundles: dagre (https://github.com/dagrejs/dagre), the
# layered-graph layout that draws the asset graph. Run it only to upgrade; its output is
# committed, and nothing is fetched when the UI runs or the tests run.
#
# What it does: `npm pack` downloads the published tarballs from the npm registry (npm checks
# them against the registry's integrity hashes), and the script copies the browser build
# `dist/dagre.min.js` (an IIFE that defines the global `dagre`, with @dagrejs/graphlib bundled
# inside it) into src/headwater/ui/static/, unchanged except for two trailing comments: the
# `sourceMappingURL` line is dropped (the map is not shipped) and the pointer to the licence file
# names dagre.LICENSE instead of the LEGAL.txt left behind. The MIT licences of dagre and of the
# graphlib it bundles go alongside as dagre.LICENSE.
#
# Usage: ./scripts/vendor_js.sh   (needs node and npm; bump the versions below to upgrade)
set -euo pipefail

DAGRE_VERSION=3.1.4
# The exact version dagre ${DAGRE_VERSION} depends on (its package.json), bundled in dagre.min.js.
GRAPHLIB_VERSION=4.0.8

here="$(cd "$(dirname "$0")/.." && pwd)"
static="$here/src/headwater/ui/static"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$work"
npm pack --silent "@dagrejs/dagre@${DAGRE_VERSION}" "@dagrejs/graphlib@${GRAPHLIB_VERSION}" >/dev/null
mkdir dagre graphlib
tar xzf "dagrejs-dagre-${DAGRE_VERSION}.tgz" -C dagre
tar xzf "dagrejs-graphlib-${GRAPHLIB_VERSION}.tgz" -C graphlib

bundled="$(node -e 'console.log(require("./dagre/package/package.json").dependencies["@dagrejs/graphlib"])')"
if [ "$bundled" != "$GRAPHLIB_VERSION" ]; then
  echo "vendor_js: dagre ${DAGRE_VERSION} bundles graphlib ${bundled}; set GRAPHLIB_VERSION=${bundled}" >&2
  exit 1
fi

sed -e '\#^//\# sourceMappingURL=#d' -e 's#dagre\.min\.js\.LEGAL\.txt#dagre.LICENSE#' \
  dagre/package/dist/dagre.min.js >"$static/dagre.min.js"
{
  echo "dagre.min.js is @dagrejs/dagre ${DAGRE_VERSION} from npm (dist/dagre.min.js), which bundles"
  echo "@dagrejs/graphlib ${GRAPHLIB_VERSION}. Vendored by scripts/vendor_js.sh. Both are MIT-licensed:"
  echo
  echo "--- @dagrejs/dagre ${DAGRE_VERSION} ---"
  cat dagre/package/LICENSE
  echo
  echo "--- @dagrejs/graphlib ${GRAPHLIB_VERSION} ---"
  cat graphlib/package/LICENSE
} >"$static/dagre.LICENSE"

echo "vendor_js: wrote $static/dagre.min.js ($(sha256sum "$static/dagre.min.js" | cut -c1-16)…) and dagre.LICENSE"
