#!/usr/bin/env bash
# slurm-down.sh — cancel all jobs and stop slurmd, slurmctld, munged started by
# slurm-up.sh. Safe to run when nothing is running. Leaves packages, config and
# state (/var/spool/slurm*) in place; pass --purge-state to also wipe job state.
set -uo pipefail
log() { echo "[slurm-down] $*" >&2; }

gone() { [ ! -d "/proc/$1" ] || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }  # dead or zombie
stop_pid() { # pidfile exe-name
  local p=""
  if [ -s "$1" ]; then p=$(cat "$1" 2>/dev/null); fi
  if [ -z "$p" ] || [ ! -r "/proc/$p/comm" ] || [ "$(cat "/proc/$p/comm" 2>/dev/null)" != "$2" ]; then
    p=$(pgrep -x "$2" | head -n1 || true)   # fallback: pidfile missing/stale
  fi
  if [ -n "$p" ]; then
    log "stopping $2 (pid $p)"
    kill "$p" 2>/dev/null || true
    for _ in $(seq 100); do gone "$p" && break; sleep 0.1; done
    if ! gone "$p"; then log "$2 still alive, SIGKILL"; kill -9 "$p" 2>/dev/null || true; fi
  fi
  rm -f "$1"
}

if command -v scancel >/dev/null 2>&1 && scontrol ping 2>/dev/null | grep -q 'is UP'; then
  log "cancelling all jobs"
  ids=$(squeue -h -o '%i' 2>/dev/null | sort -u | tr '\n' ' ')
  [ -n "${ids// }" ] && scancel $ids 2>/dev/null || true
  for _ in $(seq 20); do [ -z "$(squeue -h -t R,CG,PD 2>/dev/null)" ] && break; sleep 0.5; done
fi
stop_pid /run/slurmd.pid slurmd
stop_pid /run/slurmctld.pid slurmctld
stop_pid /run/munge/munged.pid munged
if [ "${1:-}" = --purge-state ]; then
  rm -rf /var/spool/slurmctld/* /var/spool/slurmd/*
  log "state purged"
fi
log "down"
