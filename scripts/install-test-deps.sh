#!/usr/bin/env bash
# Makes this machine ready for the test suite; idempotent and quick when all is in place.
#  - Debian packages: dovecot-imapd (private IMAP servers in tests) and chromium (browser tests),
#    installed only when /usr/sbin/dovecot or /usr/bin/chromium is missing (apt-get update
#    runs once, and only then). Package services are not started while installing: the
#    tests run their own Dovecot instances on high ports.
#  - PostgreSQL answering on 127.0.0.1:5432 (started with pg_ctlcluster when it is down).
set -euo pipefail

log() { echo "[install-test-deps] $*" >&2; }

PG_HOST=127.0.0.1
PG_PORT=5432

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=(sudo -n); else log "not root and no sudo: cannot install packages"; fi
fi

pg_up() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2
  else
    (exec 3<>"/dev/tcp/$PG_HOST/$PG_PORT") 2>/dev/null
  fi
}

pg_version() { ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1; }

# --- Debian packages ------------------------------------------------------------------------
pkgs=()
[[ -x /usr/sbin/dovecot ]] || pkgs+=(dovecot-imapd)
[[ -x /usr/bin/chromium ]] || pkgs+=(chromium fonts-liberation)
installed_pg=no
if ! pg_up && [[ -z "$(pg_version)" ]]; then
  pkgs+=(postgresql)
  installed_pg=yes
fi

if ((${#pkgs[@]})); then
  log "installing ${pkgs[*]} (apt-get update first)"
  export DEBIAN_FRONTEND=noninteractive
  # Keep the packages' own services (system dovecot on port 143, the default postgres cluster)
  # from being started by the install; we start what we need ourselves below.
  policy=/usr/sbin/policy-rc.d
  made_policy=no
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
    "${SUDO[@]}" chmod 755 "$policy"
    made_policy=yes
    trap '[[ $made_policy == yes ]] && "${SUDO[@]}" rm -f "$policy"' EXIT
  fi
  apt_opts=(-o DPkg::Lock::Timeout=300 -o Acquire::Retries=3)
  "${SUDO[@]}" apt-get "${apt_opts[@]}" update -qq
  "${SUDO[@]}" apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "${pkgs[@]}" >/tmp/lci-apt-install.log 2>&1 || {
    tail -n 40 /tmp/lci-apt-install.log >&2
    log "apt-get install failed"
    exit 1
  }
  if [[ $made_policy == yes ]]; then
    "${SUDO[@]}" rm -f "$policy"
    made_policy=no
  fi
  log "installed ${pkgs[*]}"
fi

for bin in /usr/sbin/dovecot /usr/bin/chromium; do
  [[ -x $bin ]] || { log "$bin still missing after install"; exit 1; }
done

# The Debian dovecot service, if something started it, listens on 143/993 with /etc/dovecot;
# the tests' private instances use their own config, base_dir and high ports, so it is left
# alone. Only say so, to explain a busy port 143.
if [[ -e /run/dovecot/master.pid ]] && kill -0 "$(cat /run/dovecot/master.pid 2>/dev/null)" 2>/dev/null; then
  log "note: the system dovecot service is running (port 143); tests do not use it"
fi

# --- PostgreSQL on 127.0.0.1:5432 --------------------------------------------------------------
if ! pg_up; then
  ver=$(pg_version)
  if [[ -z $ver ]]; then
    log "PostgreSQL is not answering on $PG_HOST:$PG_PORT and no cluster exists in /etc/postgresql"
    exit 1
  fi
  if [[ $installed_pg == yes ]]; then
    # A fresh Debian cluster wants passwords on TCP; the tests connect as postgres without one.
    hba=/etc/postgresql/$ver/main/pg_hba.conf
    if ! grep -qE '^host\s+all\s+all\s+127\.0\.0\.1/32\s+trust' "$hba"; then
      "${SUDO[@]}" sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
    fi
  fi
  log "starting PostgreSQL $ver (cluster main)"
  "${SUDO[@]}" pg_ctlcluster --skip-systemctl-redirect "$ver" main start || log "pg_ctlcluster start returned $? (checking whether it answers anyway)"
  for _ in $(seq 1 60); do
    pg_up && break
    sleep 0.5
  done
  if ! pg_up; then
    log "PostgreSQL did not come up on $PG_HOST:$PG_PORT; last log lines:"
    tail -n 20 "/var/log/postgresql/postgresql-$ver-main.log" >&2 2>/dev/null || true
    exit 1
  fi
  if [[ $installed_pg == yes ]]; then
    psql -h "$PG_HOST" -U postgres -d postgres -qAtc "select 1 from pg_database where datname='test'" | grep -q 1 \
      || psql -h "$PG_HOST" -U postgres -d postgres -qc 'create database test' >/dev/null
  fi
fi
log "ok: dovecot $(/usr/sbin/dovecot --version | cut -d' ' -f1), $(/usr/bin/chromium --version 2>/dev/null | head -n 1), PostgreSQL up on $PG_HOST:$PG_PORT"
