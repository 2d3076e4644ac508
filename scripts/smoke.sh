#!/usr/bin/env bash
# Smoke-test every Atmosphere endpoint against a running server.
#
#   scripts/smoke.sh [BASE_URL]
#
# BASE_URL defaults to $ATMOSPHERE_URL, else http://127.0.0.1:8000. Needs bash, curl and
# python3 (JSON checks only; the project's .venv/bin/python is used when python3 is missing).
# SMOKE_TIMEOUT (seconds, default 120) bounds each request: a first call to a real model can be slow.
#
# Prints one line per check (ok / FAIL / skip, and what) and exits 1 if any check failed.
# It briefly disables and re-enables one integration, restoring its original state, so
# traffic from other clients may see that integration disabled for a moment.

set -u

BASE="${1:-${ATMOSPHERE_URL:-http://127.0.0.1:8000}}"
BASE="${BASE%/}"
MAX_TIME="${SMOKE_TIMEOUT:-120}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

command -v curl >/dev/null 2>&1 || { echo "smoke: curl is required" >&2; exit 2; }
if command -v python3 >/dev/null 2>&1; then
  PY=python3
elif [ -x "$ROOT/.venv/bin/python" ]; then
  PY="$ROOT/.venv/bin/python"
else
  echo "smoke: python3 is required for the JSON checks" >&2
  exit 2
fi

TMP="$(mktemp -d)"
PASSED=0
FAILED=0
SKIPPED=0
RESTORE_ID=""      # an integration whose enabled state must be put back on exit
RESTORE_STATE=""

ok()   { printf 'ok    %s\n' "$*"; PASSED=$((PASSED + 1)); }
fail() { printf 'FAIL  %s\n' "$*"; FAILED=$((FAILED + 1)); }
skip() { printf 'skip  %s\n' "$*"; SKIPPED=$((SKIPPED + 1)); }

cleanup() {
  if [ -n "$RESTORE_ID" ]; then
    local verb=enable
    [ "$RESTORE_STATE" = "false" ] && verb=disable
    curl -sS -o /dev/null -X POST --max-time 10 "$BASE/v1/integrations/$RESTORE_ID/$verb" 2>/dev/null \
      && echo "smoke: restored $RESTORE_ID to enabled=$RESTORE_STATE" >&2
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# req METHOD PATH [JSON_BODY]: sets CODE; body in $TMP/body, headers in $TMP/headers.
req() {
  local method=$1 path=$2 data=${3-}
  local args=(-sS -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' -X "$method" --max-time "$MAX_TIME")
  if [ -n "$data" ]; then
    args+=(-H 'Content-Type: application/json' --data-binary "$data")
  fi
  : >"$TMP/body"
  : >"$TMP/headers"
  CODE="$(curl "${args[@]}" "$BASE$path" 2>"$TMP/curl_err")" || CODE=000
}

# j EXPR: evaluate a Python expression over the last JSON body (bound to `d`) and print it
# (strings as they are, everything else as JSON). Exit status 1 when the body is not JSON
# or the expression fails.
j() {
  "$PY" -c '
import json, sys
try:
    d = json.load(open(sys.argv[1], encoding="utf-8"))
    v = eval(sys.argv[2])
except Exception:
    sys.exit(1)
print(v if isinstance(v, str) else json.dumps(v))
' "$TMP/body" "$1"
}

# jtrue EXPR: succeeds when EXPR is truthy for the last JSON body.
jtrue() { [ "$(j "bool($1)" 2>/dev/null)" = "true" ]; }

# why: a short description of the last failure: curl's error, the OpenAI error message, or the body.
why() {
  if [ "$CODE" = "000" ]; then
    tr -d '\n' <"$TMP/curl_err"
    return
  fi
  local message
  # the OpenAI error body, or /v1/execute's {"success": false, "error": "..."}
  message="$(j "d['error'] if isinstance(d['error'], str) else d['error']['message']" 2>/dev/null)" ||
    message="$(head -c 200 "$TMP/body" | tr -d '\n')"
  printf 'HTTP %s: %s' "$CODE" "$message"
}

header() { grep -i "^$1:" "$TMP/headers" | tail -n 1 | cut -d: -f2- | tr -d '\r' | sed 's/^ *//'; }

served_by() {
  local backend model
  backend="$(header x-atmosphere-backend)"
  model="$(header x-atmosphere-model)"
  printf '%s/%s' "${backend:-?}" "${model:-?}"
}

echo "Atmosphere smoke test against $BASE"

# --- service ---------------------------------------------------------------------------

req GET /health
if [ "$CODE" = "200" ] && jtrue "d['status'] == 'ok'"; then
  ok "GET /health (version $(j "d['version']"))"
else
  fail "GET /health: $(why)"
  echo "smoke: the server does not answer at $BASE; start it with 'make serve' or 'make demo'" >&2
  exit 1
fi

# --- integrations ----------------------------------------------------------------------

req GET /v1/integrations
if [ "$CODE" = "200" ] && jtrue "isinstance(d['integrations'], list) and all('status' in i for i in d['integrations'])"; then
  ok "GET /v1/integrations ($(j "', '.join(i['id'] + '=' + i['status'] + ('' if i['enabled'] else ' (disabled)') for i in d['integrations'])"))"
else
  fail "GET /v1/integrations: $(why)"
fi

req GET "/v1/integrations?refresh=true"
if [ "$CODE" = "200" ] && jtrue "isinstance(d['integrations'], list)"; then
  ok "GET /v1/integrations?refresh=true ($(j "len(d['integrations'])") integrations)"
  # one line per integration: id, status, enabled, default model, error (separated by '|';
  # a tab would not do: read collapses empty tab-separated fields)
  j "'\n'.join('|'.join([i['id'], i['status'], str(i['enabled']).lower(), i['default_model'] or '', (i['error'] or '').replace('|', '/').replace('\n', ' ')]) for i in d['integrations'])" >"$TMP/integrations"
else
  fail "GET /v1/integrations?refresh=true: $(why)"
  : >"$TMP/integrations"
fi

HEALTHY=0
while IFS='|' read -r id status enabled _ _; do
  [ -z "$id" ] && continue
  [ "$status" = "healthy" ] && [ "$enabled" = "true" ] && HEALTHY=$((HEALTHY + 1))
done <"$TMP/integrations"
NO_BACKEND=""
if [ "$HEALTHY" = "0" ]; then
  NO_BACKEND=" [no integration is enabled and healthy, so this is expected to fail]"
  echo "note  no integration is enabled and healthy: the chat, embeddings and execute checks will fail (503)"
fi

while IFS='|' read -r id status enabled default_model error; do
  [ -z "$id" ] && continue
  req POST /v1/integrations/test "{\"integration_id\": \"$id\", \"prompt\": \"Say hi in one word.\", \"max_tokens\": 16}"
  what="POST /v1/integrations/test $id"
  if [ "$CODE" != "200" ]; then
    fail "$what: $(why)"
  elif [ -n "$default_model" ]; then
    if jtrue "d['success'] is True and isinstance(d['response'], str)"; then
      ok "$what (model $(j "d['model_used']"), $(j "d['latency_ms']") ms)"
    else
      fail "$what: success=false: $(j "d['error']")"
    fi
  elif jtrue "d['success'] is False and d['error']"; then
    # Not healthy, or no chat model: the endpoint must say so as a result, not an HTTP error.
    ok "$what (integration is $status${error:+: $error}; it answered success=false as expected)"
  else
    fail "$what: expected success=false for an integration with no chat model, got $(head -c 200 "$TMP/body")"
  fi
done <"$TMP/integrations"

# --- OpenAI-compatible -----------------------------------------------------------------

req GET /v1/models
if [ "$CODE" = "200" ] && jtrue "d['object'] == 'list' and isinstance(d['data'], list)"; then
  ok "GET /v1/models ($(j "len(d['data'])") models)"
  FIRST_MODEL="$(j "d['data'][0]['id'] if d['data'] else ''")"
else
  fail "GET /v1/models: $(why)"
  FIRST_MODEL=""
fi

if [ -n "$FIRST_MODEL" ]; then
  req GET "/v1/models/$FIRST_MODEL"
  if [ "$CODE" = "200" ] && jtrue "d['id'] == '$FIRST_MODEL' and d['object'] == 'model'"; then
    ok "GET /v1/models/$FIRST_MODEL (owned by $(j "d['owned_by']"))"
  else
    fail "GET /v1/models/$FIRST_MODEL: $(why)"
  fi
else
  skip "GET /v1/models/{id}: no model is listed${NO_BACKEND:+ (no integration is enabled and healthy)}"
fi

CHAT='{"messages": [{"role": "user", "content": "Say hi in one word."}], "max_tokens": 16}'
req POST /v1/chat/completions "$CHAT"
if [ "$CODE" = "200" ] && jtrue "d['object'] == 'chat.completion' and d['choices'][0]['message']['role'] == 'assistant'"; then
  ok "POST /v1/chat/completions (served by $(served_by))"
else
  fail "POST /v1/chat/completions: $(why)$NO_BACKEND"
fi

STREAM='{"messages": [{"role": "user", "content": "Say hi in one word."}], "max_tokens": 16, "stream": true}'
: >"$TMP/body"
: >"$TMP/headers"
CODE="$(curl -sS -N -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' --max-time "$MAX_TIME" \
  -H 'Content-Type: application/json' --data-binary "$STREAM" "$BASE/v1/chat/completions" 2>"$TMP/curl_err")" || CODE=000
if [ "$CODE" = "200" ]; then
  last="$(grep -v '^[[:space:]]*$' "$TMP/body" | tail -n 1 | tr -d '\r')"
  chunks="$(grep -c '^data: {"id"' "$TMP/body")"
  if ! header content-type | grep -q '^text/event-stream'; then
    fail "POST /v1/chat/completions stream: content-type is '$(header content-type)', not text/event-stream"
  elif grep -q '^data: {"error"' "$TMP/body"; then
    fail "POST /v1/chat/completions stream: error event: $(grep -m1 '^data: {"error"' "$TMP/body" | cut -c7- | head -c 200)"
  elif [ "$last" != "data: [DONE]" ]; then
    fail "POST /v1/chat/completions stream: does not end with 'data: [DONE]' (last line: ${last:0:120})"
  elif [ "$chunks" -lt 1 ]; then
    fail "POST /v1/chat/completions stream: no chunk before [DONE]"
  else
    ok "POST /v1/chat/completions stream ($chunks chunks, ends with data: [DONE], served by $(served_by))"
  fi
else
  # A stream that could not start is an ordinary JSON error.
  fail "POST /v1/chat/completions stream: $(why)$NO_BACKEND"
fi

req POST /v1/embeddings '{"input": ["Atmosphere smoke test"]}'
if [ "$CODE" = "200" ] && jtrue "d['object'] == 'list' and len(d['data'][0]['embedding']) > 0"; then
  ok "POST /v1/embeddings ($(j "len(d['data'][0]['embedding'])") dimensions, served by $(served_by))"
else
  fail "POST /v1/embeddings: $(why)$NO_BACKEND"
fi

# --- Atmosphere: intent execution ------------------------------------------------------

req POST /v1/execute '{"intent": "Say hi in one word.", "params": {"max_tokens": 16}}'
if [ "$CODE" = "200" ] && jtrue "d['success'] is True"; then
  ok "POST /v1/execute (capability $(j "d['capability']"), served by $(j "d['backend']")/$(j "d['model']"))"
else
  fail "POST /v1/execute: $(why)$NO_BACKEND"
fi

# --- enable / disable round trip (restores the original state) -------------------------

target="$(cut -d'|' -f1 "$TMP/integrations" | head -n 1)"
original="$(cut -d'|' -f3 "$TMP/integrations" | head -n 1)"
if [ -n "$target" ]; then
  if [ "$original" = "true" ]; then order="disable enable"; else order="enable disable"; fi
  RESTORE_ID="$target"
  RESTORE_STATE="$original"
  for verb in $order; do
    want=true
    [ "$verb" = "disable" ] && want=false
    req POST "/v1/integrations/$target/$verb"
    if [ "$CODE" = "200" ] && [ "$(j "d['integration']['enabled']")" = "$want" ]; then
      ok "POST /v1/integrations/$target/$verb (enabled=$want)"
    else
      fail "POST /v1/integrations/$target/$verb: $(why)"
    fi
  done
  req GET /v1/integrations
  if [ "$(j "[i['enabled'] for i in d['integrations'] if i['id'] == '$target'][0]")" = "$original" ]; then
    RESTORE_ID=""
    ok "$target is back to enabled=$original"
  else
    fail "$target did not return to enabled=$original (the exit handler tries once more)"
  fi
else
  skip "POST /v1/integrations/{id}/disable|enable: no integration listed"
fi

# --- live updates ----------------------------------------------------------------------

WS_URL="ws${BASE#http}/ws"
WS_PY=""
for candidate in "$ROOT/.venv/bin/python" "$PY"; do
  if [ -x "$candidate" ] || command -v "$candidate" >/dev/null 2>&1; then
    if "$candidate" -c 'import websockets' >/dev/null 2>&1; then
      WS_PY="$candidate"
      break
    fi
  fi
done

if [ -n "$WS_PY" ]; then
  if result="$("$WS_PY" -c '
import asyncio, json, sys
import websockets

async def main(url):
    async with websockets.connect(url, open_timeout=10) as ws:
        first = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if first.get("type") != "snapshot" or not isinstance(first.get("integrations"), list):
            print("first message is not a snapshot: " + str(first)[:150])
            return 1
        await ws.send(json.dumps({"type": "refresh"}))
        try:  # the socket must stay open after a refresh; a message or silence are both fine
            await asyncio.wait_for(ws.recv(), 1)
        except asyncio.TimeoutError:
            pass
        print("snapshot of %d integrations, refresh accepted" % len(first["integrations"]))
        return 0

try:
    sys.exit(asyncio.run(main(sys.argv[1])))
except Exception as exc:
    print("%s: %s" % (type(exc).__name__, exc))
    sys.exit(1)
' "$WS_URL" 2>&1)"; then
    ok "WS /ws ($result)"
  else
    fail "WS /ws: $result"
  fi
elif command -v websocat >/dev/null 2>&1; then
  limit=()
  command -v timeout >/dev/null 2>&1 && limit=(timeout 15)
  first="$(${limit[@]+"${limit[@]}"} websocat -n1 -t "$WS_URL" </dev/null 2>&1)"
  case "$first" in
    '{"type":"snapshot"'*) ok "WS /ws (websocat: first message is a snapshot)" ;;
    *) fail "WS /ws (websocat): ${first:0:200}" ;;
  esac
else
  skip "WS /ws: neither websocat nor a python with the 'websockets' package (run 'make venv' for .venv)"
fi

# --- errors ----------------------------------------------------------------------------

req POST /v1/chat/completions '{"messages": "not a list"}'
if [ "$CODE" = "400" ] && jtrue "d['error']['type'] == 'invalid_request_error' and d['error']['param'] == 'messages'"; then
  ok "bad request -> 400 ($(j "d['error']['message']"))"
else
  fail "bad request: expected 400 with an error body, got $(why)"
fi

req POST /v1/embeddings '{not json'
if [ "$CODE" = "400" ] && jtrue "d['error']['message'].startswith('Request body is not valid JSON')"; then
  ok "invalid JSON -> 400"
else
  fail "invalid JSON: expected 400, got $(why)"
fi

req GET /v1/models/no-such-model-smoke
if [ "$CODE" = "404" ] && jtrue "d['error']['code'] == 'model_not_found'"; then
  ok "unknown model -> 404 model_not_found"
else
  fail "unknown model: expected 404 model_not_found, got $(why)"
fi

req POST /v1/integrations/no-such-integration/disable
if [ "$CODE" = "404" ] && jtrue "d['error']['code'] == 'not_found'"; then
  ok "unknown integration -> 404 not_found"
else
  fail "unknown integration: expected 404, got $(why)"
fi

# --- dashboard -------------------------------------------------------------------------

req GET /
if [ "$CODE" != "200" ] || ! header content-type | grep -q '^text/html'; then
  fail "GET /: $(why)"
elif grep -q 'id="root"' "$TMP/body"; then
  asset="$(grep -o 'src="/assets/[^"]*"' "$TMP/body" | head -n 1 | cut -d'"' -f2)"
  if [ -z "$asset" ]; then
    ok "GET / (dashboard)"
  else
    asset_code="$(curl -sS -o /dev/null -w '%{http_code}' --max-time "$MAX_TIME" "$BASE$asset" 2>/dev/null)" || asset_code=000
    if [ "$asset_code" = "200" ]; then
      ok "GET / (dashboard; $asset -> 200)"
    else
      fail "GET / serves the dashboard but $asset answers $asset_code"
    fi
  fi
elif grep -q 'dashboard has not been built' "$TMP/body"; then
  ok "GET / (build-hint page: the dashboard is not built; run 'make ui')"
else
  fail "GET /: HTML that is neither the dashboard nor the build hint"
fi

echo "smoke: $PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" -eq 0 ]
