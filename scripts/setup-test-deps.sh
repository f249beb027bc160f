#!/usr/bin/env bash
# setup-test-deps.sh installs what the test suites of every module need
# beyond Go itself: the npm packages of the JavaScript interop peer (and
# the Autobahn|JS bundle of examples/browser built from them), Debian's
# chromium for the browser tests and the Debian packages of the Python
# interop peer. It is idempotent and returns
# quickly when everything is already there. A tool that is missing and
# cannot be installed is an error, never a silent skip.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf 'setup-test-deps: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# --- Go -------------------------------------------------------------------
command -v go >/dev/null 2>&1 || die "go not found in PATH"

# --- JavaScript interop peer (integration/interop/js) ----------------------
js_dir="$root/integration/interop/js"
if [[ -d "$js_dir" ]]; then
	command -v node >/dev/null 2>&1 || die "node not found in PATH (needed by $js_dir)"
	command -v npm >/dev/null 2>&1 || die "npm not found in PATH (needed by $js_dir)"
	if [[ -f "$js_dir/package-lock.json" ]]; then
		# npm keeps a copy of the lock file it installed from in
		# node_modules/.package-lock.json; when that is newer than both
		# package.json and package-lock.json the tree is up to date.
		stamp="$js_dir/node_modules/.package-lock.json"
		if [[ -f "$stamp" && "$stamp" -nt "$js_dir/package-lock.json" && \
			( ! -f "$js_dir/package.json" || "$stamp" -nt "$js_dir/package.json" ) ]]; then
			log "npm packages in ${js_dir#"$root"/} are up to date"
		else
			log "npm ci in ${js_dir#"$root"/}"
			(cd "$js_dir" && npm ci --no-audit --no-fund)
		fi
	elif [[ -f "$js_dir/package.json" ]]; then
		# A lockless install is not reproducible (and would rewrite the
		# directory's package files): insist on the lock file.
		die "${js_dir#"$root"/} has package.json but no package-lock.json; npm ci needs it"
	else
		log "${js_dir#"$root"/} has no package.json yet; nothing to install"
	fi
fi

# --- Autobahn|JS for the browser example (examples/browser) -----------------
# The example's page loads Autobahn|JS, bundled for browsers from the
# autobahn package installed above with the esbuild installed beside it
# (JSON serializer only: its CBOR, MessagePack and Node.js modules are
# stubbed out). The bundle is built, not committed: it is 170 KB that
# the npm lock already pins.
ab_out="$root/examples/browser/static/autobahn.min.js"
ab_pkg="$js_dir/node_modules/autobahn/package.json"
esbuild="$js_dir/node_modules/.bin/esbuild"
if [[ -d "$root/examples/browser" ]]; then
	[[ -f "$ab_pkg" && -x "$esbuild" ]] || die "autobahn or esbuild missing in ${js_dir#"$root"/}/node_modules"
	if [[ -f "$ab_out" && "$ab_out" -nt "$ab_pkg" && "$ab_out" -nt "$0" ]]; then
		log "Autobahn|JS bundle for examples/browser is up to date"
	else
		log "bundling Autobahn|JS for examples/browser"
		stub="$root/examples/browser/autobahn-stub.cjs"
		aliases=()
		for m in cbor msgpack5 fs ws crypto path os net tls http https url zlib util stream; do
			aliases+=("--alias:$m=$stub")
		done
		"$esbuild" "$js_dir/node_modules/autobahn/index.js" --bundle --format=iife --global-name=autobahn \
			--platform=browser --minify --define:global=globalThis --log-level=warning \
			"${aliases[@]}" --outfile="$ab_out.tmp"
		mv "$ab_out.tmp" "$ab_out"
	fi
fi

# --- apt-get, for the Debian packages below ---------------------------------
apt_install() {
	command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install $* by hand"
	local sudo=()
	if [[ "$(id -u)" -ne 0 ]]; then
		command -v sudo >/dev/null 2>&1 || die "not root and no sudo: cannot install $*"
		sudo=(sudo)
	fi
	log "installing $* with apt-get"
	export DEBIAN_FRONTEND=noninteractive
	"${sudo[@]}" apt-get update -q
	"${sudo[@]}" apt-get install -y -q --no-install-recommends "$@"
}

# --- Chromium for the browser tests (integration/browser) -------------------
if command -v chromium >/dev/null 2>&1; then
	log "chromium present ($(chromium --version 2>/dev/null | head -n1))"
else
	apt_install chromium
	command -v chromium >/dev/null 2>&1 || die "chromium still not found after apt-get install"
fi

# --- Python interop peer: autobahn, cbor2 and nacl from Debian -------------
py=/usr/bin/python3
py_check() { "$py" -c 'import autobahn, cbor2, nacl' >/dev/null 2>&1; }
if [[ -x "$py" ]] && py_check; then
	log "python3-autobahn, python3-cbor2 and python3-nacl present"
else
	apt_install python3 python3-autobahn python3-cbor2 python3-nacl
	py_check || die "$py still cannot import autobahn, cbor2 and nacl after apt-get install"
fi
