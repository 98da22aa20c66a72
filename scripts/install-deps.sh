#!/usr/bin/env bash
# Installs what vidgate's tests need beyond the Rust toolchain, when it is missing:
#   ffmpeg (ffprobe checks the sandbox's videos), nasm (faster openh264 builds; optional).
# Idempotent; uses apt-get (Debian/Ubuntu), with sudo when not root.
set -euo pipefail

need=()
command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
command -v nasm >/dev/null 2>&1 || need+=(nasm)
[ ${#need[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-deps: please install: ${need[*]} (no apt-get here)" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-deps: installing ${need[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
