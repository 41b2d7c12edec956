#!/usr/bin/env bash
# Validates schemas/openapi.yaml with a real OpenAPI 3 validator: Redocly CLI's
# lint (recommended rules), installed by scripts/setup into build-tools/redocly.
# Usage: openapi_lint.sh SOURCE_DIR
set -euo pipefail
src=$1
redocly="$src/build-tools/redocly/node_modules/.bin/redocly"
[ -x "$redocly" ] || { echo "redocly not installed: run scripts/setup"; exit 1; }
cd "$src"
REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true "$redocly" lint --format=stylish schemas/openapi.yaml
