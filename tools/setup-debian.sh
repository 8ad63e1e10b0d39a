#!/usr/bin/env bash
# Installs the system packages Impasto builds and tests against (Debian 12 / Ubuntu).
# Swift itself is assumed installed (swift.org toolchain). Safe to run again.
set -euo pipefail
packages=(
  pocl-opencl-icd      # OpenCL on the CPU, so every machine has a device
  ocl-icd-opencl-dev   # the ICD loader, libOpenCL.so
  opencl-headers       # CL/cl.h
  libpng-dev libjpeg-dev
  libcurl4-openssl-dev # links the statically linked Swift runtime's networking (tools/package-deb)
  oclgrind             # OpenCL simulator the tests use to find races and bad accesses
  clinfo
  ffmpeg               # impasto video's video files (decoding and encoding through its commands)
)
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
