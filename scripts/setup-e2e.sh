#!/usr/bin/env bash
# Installs what the end-to-end tests need to run real VS Code here: code-server (VS Code 1.100
# with a real Node extension host) into a cached tools folder. Debian packages come first,
# installed by .ci/run or by hand:
#   apt-get install -y chromium ripgrep libkrb5-dev pkg-config
# Only the npm registry is reachable, so code-server's ripgrep download is replaced by Debian's
# rg (seeded into the cache that @vscode/ripgrep reads before it tries to download).
# The folder is keyed by version and marked complete only at the end, so reruns take a second
# and an interrupted install is redone. Prints the tools folder on its last line.
set -euo pipefail

CODE_SERVER_VERSION=4.100.3
KEY="code-server-${CODE_SERVER_VERSION}-node$(node -p 'process.versions.modules')"
CACHE_ROOT="${AFT_E2E_CACHE:-${HOME}/.cache/aft-e2e-tools}"
TOOLS="${CACHE_ROOT}/${KEY}"

if [[ -f "${TOOLS}/.complete" ]]; then
  echo "e2e tools already installed"
  echo "${TOOLS}"
  exit 0
fi

missing=()
for bin in /usr/bin/chromium /usr/bin/rg; do [[ -x "$bin" ]] || missing+=("$bin"); done
command -v pkg-config >/dev/null || missing+=(pkg-config)
if (( ${#missing[@]} )); then
  echo "setup-e2e: missing ${missing[*]}; install the Debian packages first:" >&2
  echo "  apt-get install -y chromium ripgrep libkrb5-dev pkg-config" >&2
  exit 1
fi

started=$(date +%s)
WORK="${TOOLS}.partial-$$"
rm -rf "${WORK}"
mkdir -p "${WORK}"
trap 'rm -rf "${WORK}"' EXIT

# 1. code-server without its install scripts (they would download things).
cd "${WORK}"
printf '{ "name": "aft-e2e-tools", "private": true }\n' > package.json
npm install --no-audit --no-fund --ignore-scripts "code-server@${CODE_SERVER_VERSION}"

# 2. @vscode/ripgrep looks for this archive before downloading; give it Debian's rg.
RG_CACHE="$(node -p "require('os').tmpdir()")/vscode-ripgrep-cache-1.15.11"
RG_TGZ="${RG_CACHE}/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz"
mkdir -p "${RG_CACHE}"
RG_STAGE="$(mktemp -d)"
cp /usr/bin/rg "${RG_STAGE}/rg"
tar -czf "${RG_TGZ}" -C "${RG_STAGE}" rg
rm -rf "${RG_STAGE}"

# 3. code-server's own postinstall installs VS Code's node modules (about a minute).
(
  cd node_modules/code-server
  npm_config_yes=true npm_config_unsafe_perm=true npm_config_user_agent="npm/11 node/v20 linux x64" sh ./postinstall.sh
)

# 4. argon2 was skipped by --ignore-scripts; code-server loads it at start.
npm rebuild argon2

touch .complete
cd /
rm -rf "${TOOLS}"
mv "${WORK}" "${TOOLS}"
trap - EXIT
echo "e2e tools installed in $(( $(date +%s) - started )) s"
echo "${TOOLS}"
