#!/bin/bash
# dracut module for Ignition: first-boot provisioning from the initramfs.
#
# Installs the ignition binary (and its multi-call names), the generator
# that decides on each boot whether Ignition runs, the units that run its
# stages in order, and the host tools the stages call.
#
# The binary comes from /usr/bin/ignition; set IGNITION_BINARY to take it
# from elsewhere (a build tree) when building the initramfs.

# check: only when another module or the command line (--add ignition)
# asks for it, and only if the binary is there.
check() {
    require_binaries "${IGNITION_BINARY:-/usr/bin/ignition}" || return 1
    return 255
}

depends() {
    echo systemd
    return 0
}

installkernel() {
    # qemu_fw_cfg: the qemu provider's config; vsock: hypervisor channels;
    # hv_utils: Hyper-V's KVP pool. The rest: what the disks stage creates.
    hostonly='' instmods -o \
        qemu_fw_cfg \
        vsock vmw_vsock_virtio_transport vmw_vsock_vmci_transport hv_sock \
        hv_utils hv_vmbus \
        ext4 xfs btrfs vfat nls_cp437 nls_iso8859_1 \
        dm_crypt md_mod raid0 raid1 raid10 raid456 linear
}

install() {
    inst_simple "${IGNITION_BINARY:-/usr/bin/ignition}" /usr/bin/ignition
    # The binary dispatches on the name it is called by.
    ln_r /usr/bin/ignition /usr/bin/ignition-apply
    ln_r /usr/bin/ignition /usr/bin/ignition-rmcfg

    # Tools the stages run. -o: a distribution may leave some out (no
    # RAID, no LUKS; the s390-tools, for the zvm platform's reader and
    # Crypto Express keys, exist on s390x only); the stage that needs a
    # missing one fails saying so.
    inst_multiple -o \
        sgdisk partx wipefs blkid udevadm modprobe mount umount \
        mkfs.ext4 mkfs.xfs mkfs.btrfs mkfs.vfat mkswap \
        mdadm cryptsetup \
        useradd usermod userdel groupadd groupmod groupdel \
        setfiles ignition-kargs-helper \
        vmur chccwdev cio_ignore zkey

    # Clevis and what its pins run, when the host has them.
    if find_binary clevis >/dev/null; then
        inst_multiple -o \
            clevis clevis-decrypt clevis-luks-bind clevis-luks-unlock \
            clevis-luks-common-functions clevis-luks-list \
            clevis-encrypt-tang clevis-decrypt-tang \
            clevis-encrypt-tpm2 clevis-decrypt-tpm2 \
            clevis-encrypt-sss clevis-decrypt-sss \
            jose luksmeta curl \
            tpm2_createprimary tpm2_create tpm2_load tpm2_unseal \
            tpm2_createpolicy tpm2_pcrread tpm2_flushcontext \
            tpm2_startauthsession tpm2_policypcr tpm2_getcap
    fi

    inst_script "$moddir/ignition-generator" \
        "$systemdutildir/system-generators/ignition-generator"

    local u
    for u in \
        ignition-complete.target \
        ignition-diskful.target \
        ignition-subsequent.target \
        ignition-fetch-offline.service \
        ignition-fetch.service \
        ignition-kargs.service \
        ignition-disks.service \
        ignition-remount-sysroot.service \
        ignition-mount.service \
        ignition-files.service \
        ignition-delete-config.service; do
        inst_simple "$moddir/$u" "$systemdsystemunitdir/$u"
    done

    inst_simple "$moddir/99-zz-ignition-crypt-ready.rules" \
        "$udevrulesdir/99-zz-ignition-crypt-ready.rules"
}
