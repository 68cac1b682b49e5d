#!/usr/bin/env bash
# Installs (or upgrades) sigpath on a BOC edge server (Debian 12, Node 20), from a checkout of this repository.
#
#   sudo systemd/install.sh            # install or upgrade, enable the unit; start it with --start
#   sudo systemd/install.sh --start
#
# What it does, in order:
#   1. a system user `sigpath` (group sigpath, member of dialout for serial routers and UPS);
#   2. the release in /opt/sigpath/releases/<version>-<commit>: `npm ci` (which installs the Debian packages the
#      native SRT binding needs), `npm run build`, then the dev dependencies pruned; /opt/sigpath/current points at
#      it and /usr/bin/sigpath at its bin/sigpath.mjs. An upgrade is a new release and a restart; the previous
#      release stays for a rollback (point the link back and restart). A restart never moves a crosspoint.
#   3. /etc/sigpath/sigpath.yaml (from config/example.yaml, only when absent) and /etc/sigpath/secrets.env (the
#      environment variables that { env: NAME } secrets name), both root:sigpath 0640;
#   4. the unit in /etc/systemd/system, `systemctl daemon-reload`, `sigpath check` of the installed config, enable.
set -euo pipefail

start=0
for arg in "$@"; do
	case "$arg" in
	--start) start=1 ;;
	*) echo "usage: $0 [--start]" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" -eq 0 ] || { echo "install.sh: run as root (sudo $0)" >&2; exit 1; }
src="$(cd "$(dirname "$0")/.." && pwd)"
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a===20&&b>=19||a>=22?0:1)' ||
	{ echo "install.sh: Node.js 20.19+ is required (found $(node --version))" >&2; exit 1; }

# 1. the user
getent group sigpath >/dev/null || groupadd --system sigpath
id sigpath >/dev/null 2>&1 || useradd --system --gid sigpath --groups dialout --home-dir /var/lib/sigpath \
	--no-create-home --shell /usr/sbin/nologin sigpath

# 2. the release
version=$(node -p "require('$src/package.json').version")
commit=$(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo local)
release=/opt/sigpath/releases/$version-$commit
mkdir -p /opt/sigpath/releases
rm -rf "$release.tmp"
if git -C "$src" rev-parse HEAD >/dev/null 2>&1; then
	mkdir -p "$release.tmp" && git -C "$src" archive HEAD | tar -x -C "$release.tmp"
else
	cp -a "$src" "$release.tmp" && rm -rf "$release.tmp/node_modules" "$release.tmp/dist"
fi
(
	cd "$release.tmp"
	export npm_config_nodedir=/usr
	npm ci --no-audit --no-fund
	npm run build
	npm prune --omit=dev --no-audit --no-fund
)
rm -rf "$release" && mv "$release.tmp" "$release"
ln -sfn "$release" /opt/sigpath/current
ln -sfn /opt/sigpath/current/bin/sigpath.mjs /usr/bin/sigpath

# 3. configuration
install -d -o root -g sigpath -m 0750 /etc/sigpath
if [ ! -e /etc/sigpath/sigpath.yaml ]; then
	cp "$src/config/example.yaml" /etc/sigpath/sigpath.yaml
	echo "install.sh: wrote /etc/sigpath/sigpath.yaml from config/example.yaml: edit it for this BOC"
fi
if [ ! -e /etc/sigpath/secrets.env ]; then
	printf '# secrets named in sigpath.yaml as { env: NAME }\n# SIGPATH_SNMP_COMMUNITY=\n# SIGPATH_SRT_WBC=\n' >/etc/sigpath/secrets.env
fi
chown root:sigpath /etc/sigpath/sigpath.yaml /etc/sigpath/secrets.env
chmod 0640 /etc/sigpath/sigpath.yaml /etc/sigpath/secrets.env

# 4. the unit
install -m 0644 "$src/systemd/sigpath.service" /etc/systemd/system/sigpath.service
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
	systemctl daemon-reload
	set -a; . /etc/sigpath/secrets.env; set +a
	/usr/bin/sigpath check /etc/sigpath/sigpath.yaml || echo "install.sh: the config does not pass the contribution rule yet (see above)"
	systemctl enable sigpath.service
	if [ "$start" -eq 1 ]; then systemctl restart sigpath.service && systemctl --no-pager status sigpath.service; fi
else
	echo "install.sh: systemd is not running here: the unit is installed but not enabled"
fi
echo "install.sh: sigpath $version ($commit) installed in $release"
