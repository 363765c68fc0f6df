#!/usr/bin/env bash
# Installs what test/windows/wine.test.ts needs, from Debian's own packages:
# wine64 (runs the windows-x64 binary) and the MinGW-w64 C compiler (builds
# the ProcessPrng stub DLL wine 8 lacks, and the hold-open.exe helper).
# Without them that suite prints one SKIPPED line and the rest still runs.
# Idempotent; prints how long it took.
set -euo pipefail

start=$(date +%s)
have_wine() { command -v wine64 >/dev/null 2>&1 || [ -x /usr/lib/wine/wine64 ]; }
if have_wine && command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1; then
  echo "windows deps: already installed"
  exit 0
fi
if [ "$(uname -m)" != "x86_64" ]; then
  echo "windows deps: not installed (the wine suite needs an x86_64 host)"
  exit 0
fi

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends wine64 gcc-mingw-w64-x86-64-win32 >/dev/null
echo "windows deps: wine64 and mingw installed in $(( $(date +%s) - start )) s"
