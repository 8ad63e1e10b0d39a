#!/usr/bin/env bash
# Installs OpenCL implementations besides Debian's POCL on a CPU-only Debian 12 machine, each
# behind its own ICD folder so nothing machine-wide changes (/etc/OpenCL/vendors is not
# touched), and writes env.sh to choose one:
#
#   tools/install-opencl-icds.sh [DIR]            # default DIR: /tmp/impasto-icds
#   source DIR/env.sh intel                        # pocl | intel | rusticl | pocl-pypi
#
#   intel    Intel's CPU Runtime for OpenCL 2026.2 (PyPI intel-opencl-rt + intel-cmplr-lib-rt)
#   rusticl  Mesa 22.3 rusticl on llvmpipe (Debian mesa-opencl-icd, unpacked, not installed)
#   pocl-pypi  PoCL 3.0-rc2 with LLVM 14 (PyPI pocl-binary-distribution 3.0), an older POCL
#   pocl     Debian's pocl-opencl-icd (tools/setup-debian.sh installs it)
# Safe to run again.
set -euo pipefail
dir=${1:-/tmp/impasto-icds}
mkdir -p "$dir"/{pocl,intel,rusticl,pocl-pypi,debs,cache}
sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"

echo libpocl.so.2 > "$dir/pocl/pocl.icd"

# Intel: libintelocl.so finds its companions through its RUNPATH (same lib folder).
[ -x "$dir/venv/bin/pip" ] || python3 -m venv "$dir/venv"
"$dir/venv/bin/pip" install -q intel-opencl-rt==2026.2.0 intel-cmplr-lib-rt==2026.2.0
echo "$dir/venv/lib/libintelocl.so" > "$dir/intel/intel-cpu.icd"
if ldd "$dir/venv/lib/libintelocl.so" | grep -q "not found"; then
  echo "install-opencl-icds: libintelocl.so has unresolved libraries:" >&2
  ldd "$dir/venv/lib/libintelocl.so" | grep "not found" >&2
  exit 1
fi

# PoCL 3.0 from PyPI: its own pocl.icd names the library without a path, so write one.
[ -x "$dir/venv-pocl30/bin/pip" ] || python3 -m venv "$dir/venv-pocl30"
"$dir/venv-pocl30/bin/pip" install -q pocl-binary-distribution==3.0
ls "$dir"/venv-pocl30/lib/python3*/site-packages/pyopencl/.libs/libpocl-*.so > "$dir/pocl-pypi/pocl-pypi.icd"

# rusticl: its libraries' dependencies from apt; the package itself unpacked into $dir, so its
# .icd files do not appear machine-wide.
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
  libclc-15 libclang-cpp15 libllvm15 libllvmspirvlib15 libdrm-amdgpu1 libdrm-nouveau2 libdrm-radeon1 \
  libdrm2 libelf1 libexpat1 libsensors5 libzstd1 >/dev/null
mesa="$dir/mesa/usr/lib/x86_64-linux-gnu"
if [ ! -e "$mesa/libRusticlOpenCL.so.1" ]; then
  (cd "$dir/debs" && apt-get download mesa-opencl-icd >/dev/null && dpkg -x mesa-opencl-icd_*.deb "$dir/mesa")
fi
echo "$mesa/libRusticlOpenCL.so.1" > "$dir/rusticl/rusticl.icd"

cat > "$dir/env.sh" <<ENV
# source $dir/env.sh IMPL   (IMPL: pocl | intel | rusticl | pocl-pypi): which OpenCL ICD the loader sees.
impl="\${1:-pocl}"
export OCL_ICD_VENDORS="$dir/\$impl"
unset RUSTICL_ENABLE
[ "\$impl" = rusticl ] && export RUSTICL_ENABLE=llvmpipe
export XDG_CACHE_HOME="$dir/cache/\$impl"   # impasto's tuning and programs, POCL's kernels
mkdir -p "\$XDG_CACHE_HOME"
ENV
for i in pocl intel rusticl pocl-pypi; do (source "$dir/env.sh" $i; echo "== $i"; clinfo -l || true); done
