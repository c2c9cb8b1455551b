#!/usr/bin/env bash
# Installs every Debian 12 package nextbatch needs to build, test and run (clang, its runtime
# libraries and its OpenMP for the sanitizer build of tools/sanitize.sh and the fuzz targets of
# tools/fuzz.sh).
# Idempotent and quiet when everything is already there.
set -euo pipefail
packages=(
  build-essential cmake clang-format
  clang libclang-rt-14-dev libomp-dev
  libmujoco-dev libqhull-dev libgl-dev
  libceres-dev libeigen3-dev nlohmann-json3-dev doctest-dev
  libcli11-dev libnanoflann-dev libboost-dev
  python3 python3-jsonschema
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
