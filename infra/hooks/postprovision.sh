#!/bin/sh
# azd postprovision hook (azure.yaml): creates the `api-keys` secret in Baton's Key Vault with
# one generated admin key, `azure-admin`, if the vault has no `api-keys` yet. It never
# overwrites: once the secret exists, its keys are yours to rotate (docs/deploy-azure.md).
# The key is never printed unless BATON_PRINT_API_KEY=1; the way to read it is.
#
# Needs the Azure CLI signed in (`az login`; azd's own sign-in does not sign in az) as a user
# with Key Vault Secrets Officer on the vault, which main.bicep grants to AZURE_PRINCIPAL_ID.
# Run it again on its own with `azd hooks run postprovision`.
set -eu

secret=api-keys
vault=${AZURE_KEY_VAULT_NAME:-}
# Role assignments can take minutes to reach Key Vault: retry "forbidden" for a while.
tries=${BATON_HOOK_TRIES:-18}
pause=${BATON_HOOK_PAUSE_SECONDS:-10}

say() { printf 'baton postprovision: %s\n' "$*"; }
fail() { say "$*" >&2; exit 1; }

[ -n "$vault" ] || fail "AZURE_KEY_VAULT_NAME is not set: run this from azd (azd provision, or azd hooks run postprovision)."
command -v az >/dev/null 2>&1 || fail "the Azure CLI (az) is needed to create the '$secret' secret: install it, run 'az login', then 'azd hooks run postprovision'."

errors=$(mktemp)
value=$(mktemp)
trap 'rm -f "$errors" "$value"' EXIT

read_all="az keyvault secret show --vault-name $vault --name $secret --query value -o tsv"
pick_admin="python3 -c 'import json,sys; print(next(k[\"key\"] for k in json.load(sys.stdin) if k[\"name\"] == \"azure-admin\"))'"
how_to_read() {
  say "  all keys (a JSON array):  $read_all"
  say "  the azure-admin key:      export BATON_API_KEY=\$($read_all | $pick_admin)"
}

# Does the secret exist? Only a "not found" answer counts as no; any other error stops here.
attempt=1
while :; do
  if az keyvault secret show --vault-name "$vault" --name "$secret" --query id -o tsv >/dev/null 2>"$errors"; then
    say "'$secret' already exists in $vault: left as it is. Read the keys with:"
    how_to_read
    exit 0
  fi
  if grep -qE 'SecretNotFound|was not found in this key vault' "$errors"; then
    break
  fi
  if grep -qi 'forbidden' "$errors" && [ "$attempt" -lt "$tries" ]; then
    say "no access to $vault yet (role assignments take a while), retrying in ${pause}s ($attempt/$tries)"
    attempt=$((attempt + 1))
    sleep "$pause"
    continue
  fi
  cat "$errors" >&2
  fail "could not check for '$secret' in $vault; nothing was changed. az must be signed in ('az login') as a user with Key Vault Secrets Officer on the vault (main.bicep grants it to AZURE_PRINCIPAL_ID)."
done

# 43 URL-safe characters (256 bits), as infra/local/keys.py makes them.
if command -v python3 >/dev/null 2>&1; then
  key=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
else
  key=$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '=\n')
fi
[ "${#key}" -ge 32 ] || fail "could not generate a key (python3 or openssl is needed)."

# The value goes through a private file (mktemp: mode 0600), not the command line, which other
# local users can see.
printf '[{"name": "azure-admin", "scope": "admin", "key": "%s", "rate_limit": null}]' "$key" >"$value"
az keyvault secret set --vault-name "$vault" --name "$secret" --file "$value" --encoding utf-8 \
  --content-type application/json --output none 2>"$errors" || {
  cat "$errors" >&2
  fail "could not create '$secret' in $vault. A deleted '$secret' waits in soft delete for 7 days: 'az keyvault secret recover --vault-name $vault --name $secret' brings it back."
}

say "created '$secret' in $vault with one admin key, azure-admin. Read it with:"
how_to_read
if [ "${BATON_PRINT_API_KEY:-}" = 1 ]; then
  say "azure-admin key: $key"
fi
