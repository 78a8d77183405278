#!/usr/bin/env bash
# The server through curl, as README shows it: BASE KEY MODEL. Fails (non-zero) on the first unexpected answer.
set -euo pipefail
base=$1 key=$2 model=$3
auth=(-H "Authorization: Bearer $key" -H "Content-Type: application/json")
curl -sf "$base/health" | grep -q '"status":"ok"'
curl -sf "${auth[@]}" "$base/v1/models" | grep -q "\"$model\""
curl -sf "${auth[@]}" "$base/v1/chat/completions" -d "{\"model\":\"$model\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}],\"max_tokens\":5,\"temperature\":0}" | grep -q '"chat.completion"'
curl -sfN "${auth[@]}" "$base/v1/chat/completions" -d "{\"model\":\"$model\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}],\"max_tokens\":5,\"stream\":true}" | tail -n 2 | grep -q 'data: \[DONE\]'
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer wrong" "$base/v1/models")
[ "$code" = 401 ]
echo ok
