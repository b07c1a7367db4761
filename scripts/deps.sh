#!/usr/bin/env bash
# Installs what a fresh Debian machine with Go lacks for building and testing
# Varta. Idempotent: it installs only missing packages, and runs apt-get update
# only when the package lists are empty or a package cannot be found.
set -euo pipefail

# Debian packages: cgo toolchain and libopus for the varta client, sox and
# espeak-ng for audio tests, tmux for console tests.
PKGS=(gcc pkg-config libopus-dev libopusfile-dev sox espeak-ng tmux)

if ! command -v go >/dev/null 2>&1; then
  echo "deps: Go is not installed or not on PATH; install Go 1.26 first (https://go.dev/doc/install)" >&2
  exit 1
fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "deps: missing ${missing[*]} and no apt-get here; install them with your package manager" >&2
    exit 1
  fi
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
      echo "deps: missing ${missing[*]}; run as root or install sudo" >&2; exit 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  # A fresh machine may have empty package lists.
  if [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e lock -e partial)" ]; then
    $SUDO apt-get update -qq
  fi
  echo "deps: installing ${missing[*]}"
  if ! $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

go mod download
