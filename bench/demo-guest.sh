#!/bin/sh
# Runs inside the guest for `make demo`: the co-location table, then the
# agent placing a fake VM when offlinectl is in the initramfs.
echo
echo "=== Online latency and batch CPU use, by how the batch work runs ==="
echo "    (timer probe every 1 ms and 4 CPU hogs, all on the last CPU)"
echo
colo_demo 2 4 || exit 1

if [ -x /opt/offlinectl/agent_e2e.sh ]; then
	echo
	echo "=== offlinectl classifying a fake VM, host daemons and batch jobs ==="
	echo "    (qemu-system-x86_64 with 'CPU N/KVM' threads; agent --once, then checks from /proc)"
	echo
	E2E_SCOPE=host /opt/offlinectl/agent_e2e.sh 2>&1 | grep -E '^(not )?ok|^#' || exit 1
fi
