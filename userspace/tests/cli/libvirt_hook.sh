#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# scripts/libvirt-qemu-hook: pokes a running offlinectl with SIGUSR1 on
# lifecycle operations, nothing else; always exits 0 (also with a stale or
# garbage pid file, no pid file, or a non-offlinectl pid).
#   libvirt_hook.sh HOOK OFFLINECTL
set -u
hook=$1
bin=$2
tmp=$(mktemp -d)
trap 'kill "$agent" 2>/dev/null; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cat >"$tmp/c.toml" <<EOT
[agent]
resync_interval = "10m"
state_file = "$tmp/state.json"
events = "none"
[classify]
default_class = "exempt"
EOT
"$bin" -v -c "$tmp/c.toml" agent >"$tmp/agent.log" 2>&1 &
agent=$!
i=0
while [ ! -s "$tmp/agent.pid" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$tmp/agent.pid" ] || fail "agent wrote no pid file"
sleep 0.3
n0=$(grep -c "resync:" "$tmp/agent.log")
echo '<domain/>' | OFFLINECTL_PIDFILE=$tmp/agent.pid "$hook" vm1 started begin - || fail "hook failed"
i=0
while [ "$(grep -c "resync:" "$tmp/agent.log")" -le "$n0" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
[ "$(grep -c "resync:" "$tmp/agent.log")" -gt "$n0" ] || fail "the hook did not make the agent resync"
# prepare is not a poke; garbage and stale pid files never fail.
n1=$(grep -c "resync:" "$tmp/agent.log")
OFFLINECTL_PIDFILE=$tmp/agent.pid "$hook" vm1 prepare begin - </dev/null || fail "prepare failed"
echo garbage >"$tmp/bad.pid"
OFFLINECTL_PIDFILE=$tmp/bad.pid "$hook" vm1 stopped end - </dev/null || fail "garbage pid file failed"
echo $$ >"$tmp/other.pid"
OFFLINECTL_PIDFILE=$tmp/other.pid "$hook" vm1 stopped end - </dev/null || fail "non-offlinectl pid failed"
OFFLINECTL_PIDFILE=$tmp/none.pid "$hook" vm1 stopped end - </dev/null || fail "missing pid file failed"
sleep 0.3
[ "$(grep -c "resync:" "$tmp/agent.log")" -eq "$n1" ] || fail "resync without a lifecycle poke"
kill -0 "$agent" || fail "agent died"
echo "libvirt hook: ok"
