#!/bin/sh
# Entry point of the `serve` image: `warta serve` on all interfaces of the container.
#
# Environment (all optional): WARTA_HOST (0.0.0.0), WARTA_PORT (5000), WARTA_API_KEYS (a key file; when
# set, every translation needs a key), WARTA_CHAR_LIMIT, WARTA_PUBLIC_URL (the URL clients use, behind
# an ingress), WARTA_MODEL / WARTA_LLM (as for the CLI), HF_HOME (the model cache; mount it read-only
# and add --offline through the arguments to never touch the network). Extra arguments go to `warta serve`.
set -eu
set -- --host "${WARTA_HOST:-0.0.0.0}" --port "${WARTA_PORT:-5000}" "$@"
if [ -n "${WARTA_API_KEYS:-}" ]; then set -- "$@" --api-keys "$WARTA_API_KEYS"; fi
if [ -n "${WARTA_CHAR_LIMIT:-}" ]; then set -- "$@" --char-limit "$WARTA_CHAR_LIMIT"; fi
if [ -n "${WARTA_PUBLIC_URL:-}" ]; then set -- "$@" --public-url "$WARTA_PUBLIC_URL"; fi
# exec: warta replaces the shell as PID 1 and gets the container's SIGTERM itself.
exec warta serve "$@"
