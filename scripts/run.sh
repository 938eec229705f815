#!/usr/bin/env bash
# weft's main job on this host: builds weft, starts an embedded store and
# exercises it from several processes (clients connect, set, add, pass a
# barrier), printing the timings.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/build.sh" >/dev/null
exec "$root/build/bin/weft-store" bench --clients "${WEFT_RUN_CLIENTS:-64,256}" "$@"
