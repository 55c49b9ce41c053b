#!/usr/bin/env bash
# Loads realistic demo data into a running realreach through its API: four
# clients, accounts on X, Instagram and TikTok, follower snapshots at four
# dates (Lumen Skincare's Instagram bought a burst of fake-looking followers
# about 40 days ago), a year of daily counts, posts with metrics, and
# engagements. `make run` calls it with the stack's URL and admin key; run
# again, it sees the data is there and does nothing (tools/demo_data.py).
#
#   scripts/demo-data.sh BASE_URL API_KEY
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
[ $# -eq 2 ] || { echo "usage: scripts/demo-data.sh BASE_URL API_KEY" >&2; exit 2; }
# Debian's interpreter (scripts/deps.sh installs what the tools need for it)
exec /usr/bin/python3 "$ROOT/tools/demo_data.py" "$1" "$2"
