#!/bin/bash
# Test-only stand-in for dracut's kernel-network-modules, which the
# systemd-networkd module depends on: the boot test's VM has one NIC,
# virtio-net, and the ~40 MiB of every other network driver only slow the
# boot under TCG (the kernel unpacks the whole initramfs).
check() { return 255; }
depends() { return 0; }
installkernel() { hostonly='' instmods virtio_net; }
