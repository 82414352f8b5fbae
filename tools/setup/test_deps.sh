#!/usr/bin/env bash
# What the tests need beyond Deno, installed when missing (deno task test runs this first):
#   python3-numpy                   the NumPy interoperability tests (Debian's /usr/bin/python3)
#   python3-nbclient python3-nbformat  the notebook tests, which execute notebooks/*.ipynb headless
#   fonts-dejavu-core               the font lib/plot/svg_to_png.ts gives resvg for PNG text
#   mesa-vulkan-drivers libvulkan1  from bookworm-backports (Mesa 25): lavapipe, a software Vulkan
#                                   device for the WebGPU tests (bookworm's Mesa 22 is refused by Dawn)
#   the Jupyter kernel "deno"       deno jupyter --install, from the deno binary given as $1
# As root it installs what is missing with apt-get (adding bookworm-backports when needed); as any
# other user it names the command to run, in one line, and exits 1. SOUP_SKIP_NOTEBOOKS=1 and
# SOUP_SKIP_WEBGPU=1 leave out what only those tests need. Prints nothing when all is there.
set -uo pipefail
deno_bin=${1:-deno}
skip_nb=${SOUP_SKIP_NOTEBOOKS:-0}
skip_gpu=${SOUP_SKIP_WEBGPU:-0}

need=()
/usr/bin/python3 -c "import numpy" 2>/dev/null || need+=(python3-numpy)
if [ "$skip_nb" != 1 ]; then
  /usr/bin/python3 -c "import nbclient, nbformat" 2>/dev/null || need+=(python3-nbclient python3-nbformat)
fi
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
# A one-node Slurm cluster for tests/slurm_test.ts (tools/slurm/local_cluster.sh).
if [ "${SOUP_SKIP_SLURM:-}" != 1 ]; then
  for b in /usr/sbin/slurmctld /usr/sbin/slurmd /usr/bin/sbatch /usr/sbin/munged; do
    [ -x "$b" ] || { need+=(slurmctld slurmd slurm-client munge); break; }
  done
fi
mesa_ok=1
if [ "$skip_gpu" != 1 ]; then
  case "$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null)" in
    2[5-9].*) ;;
    *) mesa_ok=0 ;;
  esac
fi

if [ ${#need[@]} -gt 0 ] || [ "$mesa_ok" = 0 ]; then
  what="${need[*]}"
  [ "$mesa_ok" = 0 ] && what="$what mesa-vulkan-drivers libvulkan1 (bookworm-backports)"
  if [ "$(id -u)" != 0 ]; then
    echo "the tests need Debian packages: ${what# }; install them with: sudo bash tools/setup/test_deps.sh" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  echo "installing Debian packages for the tests: ${what# }" >&2
  if [ ${#need[@]} -gt 0 ]; then
    { apt-get update -qq >/dev/null && apt-get install -y -qq "${need[@]}" >/dev/null; } ||
      { echo "apt-get install ${need[*]} failed" >&2; exit 1; }
  fi
  if [ "$mesa_ok" = 0 ]; then
    # The suite bookworm-backports from the machine's own Debian mirror.
    uri=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: %s\n' \
      "${uri:-http://deb.debian.org/debian}" /usr/share/keyrings/debian-archive-keyring.gpg \
      >/etc/apt/sources.list.d/soup-bookworm-backports.sources
    { apt-get update -qq >/dev/null &&
      apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null; } ||
      { echo "installing Mesa's Vulkan drivers from bookworm-backports failed" >&2; exit 1; }
  fi
fi

if [ "$skip_nb" != 1 ]; then
  # The kernel "deno", installed (for this user, no root needed) when missing or pointing at a
  # deno binary that is gone.
  kernel=$(/usr/bin/python3 - <<'EOF' 2>/dev/null
import os
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
try:
    spec = KernelSpecManager().get_kernel_spec("deno")
    print("ok" if os.path.exists(spec.argv[0]) else "stale")
except NoSuchKernel:
    print("missing")
EOF
)
  if [ "$kernel" != ok ]; then
    echo "installing the Jupyter kernel \"deno\" ($deno_bin jupyter --install)" >&2
    "$deno_bin" jupyter --install --force >/dev/null ||
      { echo "$deno_bin jupyter --install failed" >&2; exit 1; }
  fi
fi
exit 0
