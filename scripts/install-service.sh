#!/usr/bin/env bash
# Installs or upgrades lifecare-intake as a systemd service from this checkout (run as root):
#   /opt/lifecare-intake          the compiled build (dist/), rules/, drizzle/, production node_modules
#   /etc/lifecare-intake/env      configuration (made from .env.example on first install; never overwritten)
#   /var/lib/lifecare-intake      DATA_DIR (embedded database, maildrop, outbox), owned by the service user
# Upgrade: the same command from a newer checkout; migrations run at the worker's start
# (or first by hand: sudo -u lifecare-intake ... node dist/cli.js migrate).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PREFIX=${PREFIX:-/opt/lifecare-intake}
ETC=${ETC:-/etc/lifecare-intake}
UNIT_DIR=${UNIT_DIR:-/etc/systemd/system}
SERVICE_USER=lifecare-intake

[[ $(id -u) -eq 0 ]] || { echo "run as root" >&2; exit 1; }
command -v node >/dev/null || { echo "Node.js 20 or later is needed" >&2; exit 1; }

echo "== build"
npm ci --no-audit --no-fund
npm run --silent build

echo "== install to $PREFIX"
id -u "$SERVICE_USER" >/dev/null 2>&1 || useradd --system --home-dir /var/lib/lifecare-intake --shell /usr/sbin/nologin "$SERVICE_USER"
staging=$(mktemp -d)
cp -a dist rules drizzle package.json package-lock.json README.md .env.example "$staging/"
(cd "$staging" && npm ci --omit=dev --no-audit --no-fund --ignore-scripts >/dev/null)
mkdir -p "$PREFIX"
# rules/ may have been edited on the server: keep those edits, show the difference.
if [[ -d $PREFIX/rules ]]; then
  diff -ru "$staging/rules" "$PREFIX/rules" || echo "note: $PREFIX/rules differs from this checkout's rules/ (kept)"
  rm -rf "$staging/rules"
fi
rm -rf "$PREFIX/dist" "$PREFIX/node_modules" "$PREFIX/drizzle"
cp -a "$staging/." "$PREFIX/"
rm -rf "$staging"
chown -R root:root "$PREFIX"
chmod -R go-w "$PREFIX"

mkdir -p "$ETC"
if [[ ! -e $ETC/env ]]; then
  grep -v '^\s*DATA_DIR=\|^\s*RULES_DIR=' .env.example >"$ETC/env"
  echo "made $ETC/env from .env.example: fill it in, then: systemctl start lifecare-intake"
fi
chown root:"$SERVICE_USER" "$ETC/env"
chmod 0640 "$ETC/env"

install -m 0644 scripts/lifecare-intake.service "$UNIT_DIR/lifecare-intake.service"
systemctl daemon-reload
systemctl enable lifecare-intake >/dev/null
if systemctl is-active --quiet lifecare-intake; then
  echo "== restarting (migrations run at start)"
  systemctl restart lifecare-intake
fi
echo "installed; status: systemctl status lifecare-intake; logs: journalctl -u lifecare-intake"
