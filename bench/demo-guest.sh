#!/bin/sh
# Runs inside the guest for `make demo`: the co-location table, then the
# agent placing a fake VM when offlinectl is in the initramfs.
echo
echo "=== Online latency and batch CPU use, by how the batch work runs ==="
echo "    (timer probe every 1 ms and 4 CPU hogs, all on the last CPU)"
echo
colo_demo 2 4 || exit 1

if [ -x /opt/offlinectl/demo-agent.sh ]; then
	echo
	echo "=== offlinectl placing a fake VM and host work ==="
	sh /opt/offlinectl/demo-agent.sh || exit 1
fi
