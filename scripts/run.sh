#!/usr/bin/env bash
# Starts a relay on loopback with a demo agency in $DATA, creating the agency,
# two talkgroups and four units on the first run.
set -euo pipefail
DATA=${DATA:-var/agency}
LISTEN=${LISTEN:-127.0.0.1:7700}
BIN=${BIN:-bin}
VARTAD="$BIN/vartad"

if [ ! -f "$DATA/agency.json" ]; then
  "$VARTAD" init --data "$DATA" --name "Demo Police" --advertise "$LISTEN"
  "$VARTAD" talkgroup add --data "$DATA" --id 100 --name "Patrol North" --priority 10
  "$VARTAD" talkgroup add --data "$DATA" --id 200 --name "Patrol South" --priority 10
  mkdir -p "$DATA/units"
  "$VARTAD" unit add --data "$DATA" --id 101 --alias P-101 --role officer    --talkgroups 100,200 --out "$DATA/units/p101.pem"
  "$VARTAD" unit add --data "$DATA" --id 102 --alias P-102 --role officer    --talkgroups 100     --out "$DATA/units/p102.pem"
  "$VARTAD" unit add --data "$DATA" --id 103 --alias P-103 --role officer    --talkgroups 100     --out "$DATA/units/p103.pem"
  "$VARTAD" unit add --data "$DATA" --id 900 --alias DISPATCH-1 --role dispatcher --talkgroups 100,200 --out "$DATA/units/dispatch1.pem"
fi

cat <<MSG

Varta relay for the agency in $DATA, listening on $LISTEN (UDP, QUIC).
Identity files of the demo units are in $DATA/units/.

Connect a unit and watch its talkgroups (in another terminal):
  $BIN/varta check --identity $DATA/units/p102.pem --for 60s
Open the dispatcher's console (talkgroups, units, map, emergencies; ? lists the keys):
  $BIN/varta console --identity $DATA/units/dispatch1.pem
Talk from a handheld (space talks, ? lists the keys):
  $BIN/varta radio --identity $DATA/units/p101.pem
Enrol another unit while the relay runs:
  $VARTAD unit add --data $DATA --id 104 --alias P-104 --role officer --talkgroups 100 --out $DATA/units/p104.pem
List units:  $VARTAD unit list --data $DATA
Stop the relay with Ctrl-C (SIGTERM works too).

MSG
exec "$VARTAD" serve --data "$DATA" --listen "$LISTEN"
