#!/usr/bin/env bash
# The Debian packages the tests use besides Go and Docker: jq and curl (the
# README's walkthrough, the compose smoke test), openssl (the smoke test's
# TLS rotation check). Installed with apt-get when missing and run as root,
# as on CI; otherwise named, and the run fails.
set -euo pipefail
missing=()
for cmd in jq curl openssl; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd") # each package is named as its command
done
[[ ${#missing[@]} -eq 0 ]] && exit 0
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "deps: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "deps: the tests need ${missing[*]}: install them (Debian: apt-get install ${missing[*]})" >&2
  exit 1
fi
