#!/usr/bin/env bash
# Installs the Debian packages realreach needs to build, run and test.
# Idempotent: does nothing (and needs no network) when every package is there.
# Prints one summary line; apt's own output is kept in a temp file and shown
# only when something fails.
set -euo pipefail

# nginx: on Debian 12 the package `nginx` holds the binary (fastcgi is built
# in); nginx-light/-core/-full are transitional names that depend on it.
# postgresql (the meta package) is PostgreSQL 15 on Debian 12; the -15
# packages are named too so a later Debian cannot silently change the major.
# llvm-14 brings llvm-symbolizer, so sanitizer reports show file:line.
PACKAGES=(
  build-essential pkg-config
  libfcgi-dev libpq-dev libjansson-dev libssl-dev
  postgresql postgresql-15 postgresql-client postgresql-client-15
  nginx
  libcmocka-dev python3-pytest python3-requests python3-psycopg2
  wrk curl clang libclang-rt-14-dev llvm-14 procps
)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    echo "deps: missing packages: ${missing[*]}" >&2
    echo "deps: not root and no sudo: install them as root with" >&2
    echo "      apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi

log=$(mktemp /tmp/realreach-deps.XXXXXX)
policy=/usr/sbin/policy-rc.d
made_policy=0
cleanup() {
  if [ "$made_policy" = 1 ]; then "${SUDO[@]}" rm -f "$policy" || true; fi
  rm -f "$log"
}
trap cleanup EXIT

# Installing nginx or postgresql would start Debian's own services (port 80,
# cluster 15/main on 5432); nothing of ours uses them, and a failed start (a
# busy port, no init system) can make dpkg fail. Unless the machine already has
# a policy, forbid service starts for the duration of the install (the Debian
# mechanism: invoke-rc.d honours exit 101 of policy-rc.d).
if [ ! -e "$policy" ]; then
  "${SUDO[@]}" sh -c "printf '#!/bin/sh\n# temporary, from realreach scripts/deps.sh\nexit 101\n' > $policy && chmod 755 $policy"
  made_policy=1
fi

apt_env=(env DEBIAN_FRONTEND=noninteractive)
apt_opts=(-q -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

if ! "${SUDO[@]}" "${apt_env[@]}" apt-get "${apt_opts[@]}" update >"$log" 2>&1; then
  cat "$log" >&2
  echo "deps: apt-get update failed" >&2
  exit 1
fi
if ! "${SUDO[@]}" "${apt_env[@]}" apt-get "${apt_opts[@]}" install -y --no-install-recommends \
     "${missing[@]}" >>"$log" 2>&1; then
  cat "$log" >&2
  echo "deps: apt-get install failed for: ${missing[*]}" >&2
  exit 1
fi

# Check again: apt can exit 0 and still leave a package unconfigured.
still=()
for p in "${missing[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || still+=("$p")
done
if [ ${#still[@]} -ne 0 ]; then
  cat "$log" >&2
  echo "deps: still not installed: ${still[*]}" >&2
  exit 1
fi
echo "deps: installed ${#missing[@]} package(s): ${missing[*]}"
