#!/usr/bin/env bash
# Installs (or upgrades) sigpath on a BOC edge server (Debian 12, Node 20), from a checkout of this repository.
#
#   sudo systemd/install.sh              # install or upgrade, enable the unit; start it with --start
#   sudo systemd/install.sh --start
#   systemd/install.sh --root DIR        # the same files under DIR (an image, a chroot, a test): no user, no systemctl
#
# What it does, in order:
#   1. a system user `sigpath` (group sigpath, member of dialout for serial routers and UPS);
#   2. the release in /opt/sigpath/releases/<version>-<commit>, built from this checkout as it is: `npm ci` here when
#      node_modules is missing or older than package-lock.json (it builds the native SRT binding and installs the
#      Debian packages it needs), then scripts/build.mjs into the release's dist/ (the compiled JavaScript, the
#      dashboard and the SRT binding), bin/, config/, docs/, systemd/, package.json, and this checkout's
#      node_modules without the dev dependencies. A checkout with uncommitted changes gives a release named
#      <version>-<commit>-dirty. /opt/sigpath/current points at the release and /usr/bin/sigpath at its
#      bin/sigpath.mjs (both links relative, so they hold under --root too). An upgrade is a new release and a
#      restart; the previous release stays for a rollback (point the link back and restart). A restart never moves
#      a crosspoint;
#   3. /etc/sigpath/sigpath.yaml (from config/example.yaml, only when absent) and /etc/sigpath/secrets.env (the
#      environment variables that { env: NAME } secrets name), both root:sigpath 0640;
#   4. the unit in /etc/systemd/system, `systemctl daemon-reload`, `sigpath check` of the installed config, enable.
#
# With --root DIR every path above is under DIR (DIR/opt/sigpath, DIR/etc/sigpath, DIR/etc/systemd/system,
# DIR/usr/bin/sigpath), the user is not created, files are not given to group sigpath and systemctl is not run: each
# skipped step is printed. It needs no root then. --no-typecheck builds without tsc's type check (the same
# JavaScript; for the tests of the installed release, which run after `npm test` has type-checked).
set -euo pipefail

usage="usage: $0 [--start] [--root DIR] [--no-typecheck]"
start=0
root=''
build_args=()
while [ "$#" -gt 0 ]; do
	case "$1" in
	--start) start=1 ;;
	--root)
		[ "$#" -ge 2 ] && [ -n "$2" ] || { echo "install.sh: --root needs a directory" >&2; echo "$usage" >&2; exit 2; }
		root=$2
		shift
		;;
	--root=*) root=${1#--root=} ;;
	--no-typecheck) build_args+=(--no-typecheck) ;;
	*) echo "$usage" >&2; exit 2 ;;
	esac
	shift
done
if [ -n "$root" ]; then
	mkdir -p "$root" || { echo "install.sh: cannot create --root $root" >&2; exit 1; }
	root=$(cd "$root" && pwd)
	[ "$root" != / ] || root=''
	[ "$start" -eq 0 ] || { echo "install.sh: --start cannot be used with --root (systemctl is not run)" >&2; exit 2; }
else
	[ "$(id -u)" -eq 0 ] || { echo "install.sh: run as root (sudo $0)" >&2; exit 1; }
fi
src="$(cd "$(dirname "$0")/.." && pwd)"
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a===20&&b>=19||a>=22?0:1)' ||
	{ echo "install.sh: Node.js 20.19+ is required (found $(node --version))" >&2; exit 1; }

skipped() { echo "install.sh: --root $root: skipped $*"; }

# 1. the user
if [ -n "$root" ]; then
	skipped "creating the system user and group sigpath (the target needs them: groupadd --system sigpath;" \
		"useradd --system --gid sigpath --groups dialout --home-dir /var/lib/sigpath --no-create-home" \
		"--shell /usr/sbin/nologin sigpath)"
else
	getent group sigpath >/dev/null || groupadd --system sigpath
	id sigpath >/dev/null 2>&1 || useradd --system --gid sigpath --groups dialout --home-dir /var/lib/sigpath \
		--no-create-home --shell /usr/sbin/nologin sigpath
fi

# 2. the release
version=$(node -p "require('$src/package.json').version")
commit=$(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo local)
# what is installed is the checkout as it is: a release with uncommitted changes says so in its name
if [ "$commit" != local ] && [ -n "$(git -C "$src" status --porcelain --untracked-files=no)" ]; then
	commit=$commit-dirty
	echo "install.sh: the checkout has uncommitted changes: they are installed, as release $version-$commit"
fi
releases=$root/opt/sigpath/releases
release=$releases/$version-$commit
mkdir -p "$releases"
rm -rf "$release.tmp"
mkdir "$release.tmp"
(
	cd "$src"
	export npm_config_nodedir=/usr
	# npm ci writes node_modules/.package-lock.json last: missing or older than package-lock.json (a new checkout,
	# an upgrade that changed the dependencies), node_modules is installed again, as the README says
	if [ ! -e node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
		npm ci --no-audit --no-fund
	fi
	[ -e drivers/srt/native/build/Release/sigpath_srt.node ] || npm run install
	node scripts/build.mjs --out "$release.tmp/dist" "${build_args[@]}"
	cp -a bin config docs systemd package.json package-lock.json README.md "$release.tmp/"
	cp -a node_modules "$release.tmp/"
)
# the tools' caches in node_modules (.vite, .cache) are not part of a release: only .bin and npm's own lockfile stay
find "$release.tmp/node_modules" -mindepth 1 -maxdepth 1 -name '.*' ! -name .bin ! -name .package-lock.json \
	-exec rm -rf {} +
# the production dependencies only; no script runs (the native modules are the ones npm ci built above)
(cd "$release.tmp" && npm prune --omit=dev --ignore-scripts --no-audit --no-fund >/dev/null)
rm -rf "$release" && mv "$release.tmp" "$release"
ln -sfn "releases/$version-$commit" "$root/opt/sigpath/current"
mkdir -p "$root/usr/bin"
ln -sfn ../../opt/sigpath/current/bin/sigpath.mjs "$root/usr/bin/sigpath"

# 3. configuration
etc=$root/etc/sigpath
if [ -n "$root" ]; then
	install -d -m 0750 "$etc"
else
	install -d -o root -g sigpath -m 0750 "$etc"
fi
if [ ! -e "$etc/sigpath.yaml" ]; then
	cp "$src/config/example.yaml" "$etc/sigpath.yaml"
	echo "install.sh: wrote $etc/sigpath.yaml from config/example.yaml: edit it for this BOC"
fi
if [ ! -e "$etc/secrets.env" ]; then
	printf '# secrets named in sigpath.yaml as { env: NAME }\n# SIGPATH_SNMP_COMMUNITY=\n# SIGPATH_SRT_WBC=\n# SIGPATH_JOURNAL_KEY=\n' >"$etc/secrets.env"
fi
if [ -n "$root" ]; then
	skipped "chown root:sigpath $etc/sigpath.yaml $etc/secrets.env (no user sigpath here)"
else
	chown root:sigpath "$etc/sigpath.yaml" "$etc/secrets.env"
fi
chmod 0640 "$etc/sigpath.yaml" "$etc/secrets.env"

# 4. the unit
install -d "$root/etc/systemd/system"
install -m 0644 "$src/systemd/sigpath.service" "$root/etc/systemd/system/sigpath.service"
if [ -n "$root" ]; then
	skipped "systemctl daemon-reload, sigpath check of the installed config, systemctl enable sigpath.service"
elif command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
	systemctl daemon-reload
	set -a
	# shellcheck disable=SC1091 # written above; its variables are the config's secrets
	. /etc/sigpath/secrets.env
	set +a
	/usr/bin/sigpath check /etc/sigpath/sigpath.yaml || echo "install.sh: the config does not pass the contribution rule yet (see above)"
	systemctl enable sigpath.service
	if [ "$start" -eq 1 ]; then systemctl restart sigpath.service && systemctl --no-pager status sigpath.service; fi
else
	echo "install.sh: systemd is not running here: the unit is installed but not enabled"
fi
echo "install.sh: sigpath $version ($commit) installed in $release"
