#!/bin/sh
# Installs impasto from its .deb on Debian 12, as a user would: apt resolves the package's
# dependencies from Debian's archive; POCL, the CPU OpenCL driver, comes along so that every
# machine has a device (a GPU vendor's driver can be added beside it). The container recipe
# (Containerfile) and the install test (tools/deb-install-check) both run this script.
# Usage: install-impasto.sh impasto_VERSION_amd64.deb [--with-ffmpeg]
set -eu
deb="$1"
extra=""
[ "${2:-}" = "--with-ffmpeg" ] && extra="ffmpeg"
case "$deb" in /*) ;; *) deb="./$deb" ;; esac  # apt installs a local file only by a path
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "$deb" pocl-opencl-icd $extra
rm -rf /var/lib/apt/lists/*
