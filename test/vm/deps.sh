#!/bin/bash
# Install the Debian packages the VM test bench needs (see doc/testing.md).
# Idempotent: when every package is already installed, it does nothing and
# prints nothing.  Needs root (apt-get).
set -euo pipefail

PKGS=(
    qemu-system-x86   # qemu-system-x86_64 (TCG)
    qemu-utils        # qemu-img for the emulated NVMe image
    linux-image-amd64 # guest kernel + modules (rdma_rxe, nvme*, nvmet*, vfio_pci, 9p)
    busybox-static    # the initramfs userland
    kmod              # modprobe -D to resolve module dependencies for the initramfs
    cpio              # packs the initramfs
    rdma-core         # rdma (iproute2 rdma tool comes with iproute2), rxe provider
    ibverbs-utils     # ibv_devinfo
    ibverbs-providers # librxe userspace provider
    rdmacm-utils      # rping
    perftest          # ib_write_bw etc. for ad-hoc checks
    nvme-cli          # nvme discover/connect
    fio               # I/O with verify
    iproute2          # ip, rdma
    iputils-ping      # ping
    procps            # pkill in guests, ps
    python3           # runner's port picking and monitor socket client
)

missing=()
for p in "${PKGS[@]}"; do
    # dpkg-query prints "install ok installed" only for a fully installed package.
    if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps.sh: installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps.sh: done"
