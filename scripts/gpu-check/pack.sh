#!/usr/bin/env bash
# Builds .gpu-check/ (git-ignored), the folder the GPU check carries to a GPU machine: the bundle,
# a Node binary, the node_modules it needs (Linux x64) and a Vulkan loader, as one xz archive
# (scripts/gpu-check/pack.mjs says what is in it). Prints its size. Run from anywhere:
#   bash scripts/gpu-check/pack.sh [--node PATH] [--limit-mib N]
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -d node_modules ] || npm ci
node scripts/build.mjs
node scripts/gpu-check/pack.mjs "$@"
# What travels besides it: the repository's files that git does not ignore.
tree=$( { git ls-files -z; git ls-files -z --others --exclude-standard; } | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
pack=$(du -cb .gpu-check | tail -1 | cut -f1)
echo "with the working tree ($((tree / 1024 / 1024)) MiB): $(((tree + pack) / 1024 / 1024)) MiB of the 64 MiB that may travel"
