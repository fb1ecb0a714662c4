#!/bin/sh
# Scan, verify the new pack, and exit with the scan's exit code: 0 ok, 1 thresholds breached, 2 bad config,
# 3 incomplete data (a pack that fails verification also exits 1). Used by the systemd unit and the cron entry.
#
# Sign-in is DefaultAzureCredential: on an Azure VM or Arc server, a managed identity with Reader on the scope
# (set AZURE_CLIENT_ID for a user-assigned one); elsewhere a service principal's AZURE_* variables.
# Secrets (TEAMS_WEBHOOK_URL, SLACK_WEBHOOK_URL, AZURE_CLIENT_SECRET) go in /etc/auditor/auditor.env (mode 0600).
#
# Packs are signed and verified against a key you trust: in auditor.toml, [evidence] sign_key names the private
# key (e.g. /etc/auditor/keys/auditor-signing.key, mode 0600, owned by the service user) and trusted_keys its
# public key. The verify below passes only for a pack signed by a trusted key; an unsigned pack, or
# one signed by any other key, exits 1.
set -u

CONFIG=${AUDITOR_CONFIG:-/etc/auditor/auditor.toml}
STATE=${AUDITOR_STATE:-/var/lib/auditor}

if [ -r /etc/auditor/auditor.env ]; then
    set -a
    . /etc/auditor/auditor.env
    set +a
fi

result="$STATE/last-scan.json"
auditor scan --source azure --config "$CONFIG" \
    --out "$STATE/audit-packs" --history "$STATE/history.duckdb" \
    --fail-on-breach --json > "$result"
code=$?

pack=$(python3 -c 'import json, sys; print(json.load(sys.stdin).get("pack", ""))' < "$result" 2>/dev/null)
if [ -n "$pack" ]; then
    auditor verify "$pack" --config "$CONFIG" || { [ "$code" -eq 0 ] && code=1; }
fi
exit "$code"
