#!/usr/bin/env bash
# Installs what vidgate's tests need beyond the Rust toolchain, when it is missing:
#   ffmpeg (ffprobe checks the sandbox's videos), nasm (faster openh264 builds; optional),
#   chromium + chromium-driver (the dashboard's browser test), and .venv, a Python virtualenv
#   with the pinned packages of scripts/requirements-test.txt (fal's client, schemathesis,
#   selenium), and .tools/bin/s3s-fs, the S3 server of the media tests.
# Idempotent; uses apt-get (Debian/Ubuntu), with sudo when not root.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
command -v nasm >/dev/null 2>&1 || need+=(nasm)
python3 -m venv --help >/dev/null 2>&1 || need+=(python3-venv)
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
if [ ${#need[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-deps: please install: ${need[*]} (no apt-get here)" >&2
    exit 1
  fi
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "install-deps: installing ${need[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

stamp=.venv/.requirements
if [ ! -x .venv/bin/python ] || ! cmp -s scripts/requirements-test.txt "$stamp"; then
  echo "install-deps: preparing .venv" >&2
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r scripts/requirements-test.txt
  cp scripts/requirements-test.txt "$stamp"
fi

# A real S3-protocol server for the media store's tests (s3s-fs: path-style buckets, Range,
# multipart, presigned URLs), built from crates.io into .tools/ (about two minutes, once).
if [ ! -x .tools/bin/s3s-fs ]; then
  echo "install-deps: building s3s-fs (the S3 server the media tests run against)" >&2
  cargo install -q s3s-fs@0.14.1 --features binary --locked --root .tools
fi
