#!/usr/bin/env bash
# The local medshare system on loopback: three organisations (two hospitals
# and a research institute), each with a ledger node, a kubo daemon in one
# private IPFS swarm and a REST gateway; four channels; the contracts; the
# demo users enrolled at the attribute authority. The verbs follow Fabric's
# test network:
#
#   scripts/network.sh up              everything, in the background; returns once ready
#   scripts/network.sh status          every node's channels, every kubo's peers, every gateway's readiness
#   scripts/network.sh down            stop everything and delete the system's state
#   scripts/network.sh createChannel [-c CHANNEL]      (default: all four)
#   scripts/network.sh deployCC -c CHANNEL -ccn NAME [-ccv VERSION] [-ccs SEQUENCE]
#                                     [-cci INIT_FUNCTION] [-cca INIT_ARG]
#   scripts/network.sh configureCC -c CHANNEL -ccn NAME -cca CONFIG [-orgs "node0 node1"]
#   scripts/network.sh deployMedshare  the medshare contracts on nodes started elsewhere (docker-compose)
#
# `scripts/network.sh VERB --help` explains a verb. `make run` runs the same
# system in the foreground (Ctrl-C stops it). Environment: MEDSHARE_RUN
# (state directory, default run), MEDSHARE_BIN (medshare binary, default
# bin/medshare; built if missing), MEDSHARE_KUBO (ipfs binary, default
# bin/ipfs, which `make kubo` builds), MEDSHARE_FREE_PORTS (non-empty: `up`
# listens on free loopback ports instead of the well-known ones; tests),
# NODE0_ADDR..NODE2_ADDR (the node API addresses the channel and chaincode
# verbs dial; default the local system's 127.0.0.1:7051, :8051 and :9051).
set -euo pipefail

cd "$(dirname "$0")/.."
RUN=${MEDSHARE_RUN:-run}
RUN=${RUN%/}
LOG=$RUN.log
BIN=${MEDSHARE_BIN:-bin/medshare}
CRYPTO=$RUN/crypto
PROFILE=network/configtx.yaml
CHANNELS=(main side-high side-medium side-low)
NODES=(node0 node1 node2)
declare -A ORG=([node0]=hospital1 [node1]=hospital2 [node2]=research)
declare -A DOMAIN=([node0]=hospital1.example [node1]=hospital2.example [node2]=research.example)
declare -A API=([node0]=${NODE0_ADDR:-127.0.0.1:7051} [node1]=${NODE1_ADDR:-127.0.0.1:8051} [node2]=${NODE2_ADDR:-127.0.0.1:9051})
declare -A MSP=([node0]=Hospital1MSP [node1]=Hospital2MSP [node2]=ResearchMSP)

log() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'network.sh: %s\n' "$*" >&2; exit 1; }

admin_of() { echo "$CRYPTO/${ORG[$1]}/users/admin@${DOMAIN[$1]}"; }

ensure_binary() {
  if [[ ! -x $BIN ]]; then
    log "building $BIN"
    go build -o "$BIN" ./cmd/medshare
  fi
}

# supervisor_pid prints the process id of the running system's supervisor
# (`medshare network run`), if it runs.
supervisor_pid() {
  local pid
  [[ -f $RUN/network.pid ]] || return 1
  pid=$(cat "$RUN/network.pid")
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

cmd_up() {
  local pid
  ensure_binary
  if pid=$(supervisor_pid); then
    log "the system already runs (process $pid): scripts/network.sh status"
    return
  fi
  [[ -x ${MEDSHARE_KUBO:-bin/ipfs} ]] || die "no kubo at ${MEDSHARE_KUBO:-bin/ipfs}: run make kubo first"
  log "starting the system in the background (log: $LOG)"
  # In its own session, so that a Ctrl-C in this terminal does not reach
  # it: `down` stops it. Every process it starts dies with it.
  local flags=()
  [[ -n ${MEDSHARE_FREE_PORTS:-} ]] && flags+=(--free-ports)
  setsid "$BIN" network run --dir "$RUN" "${flags[@]}" >"$LOG" 2>&1 </dev/null &
  pid=$!
  for _ in $(seq 1 1200); do
    if [[ -f $RUN/ready ]]; then
      cat "$LOG"
      log "the system is up (process $pid); stop it with: scripts/network.sh down"
      return
    fi
    kill -0 "$pid" 2>/dev/null || { cat "$LOG" >&2; die "the system did not start"; }
    sleep 0.5
  done
  kill -TERM "$pid" 2>/dev/null || true
  cat "$LOG" >&2
  die "the system was not ready after 10 minutes"
}

cmd_down() {
  local pid
  if pid=$(supervisor_pid); then
    log "stopping the system (process $pid): gateways, kubo daemons, nodes"
    kill -TERM "$pid"
    for _ in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      log "still running after 60 s: killing it (its processes die with it)"
      kill -KILL "$pid"
    fi
  fi
  log "removing $RUN"
  rm -rf "$RUN" "$LOG"
}

cmd_status() {
  ensure_binary
  supervisor_pid >/dev/null || die "no system runs from $RUN (make run, or scripts/network.sh up)"
  "$BIN" network status --dir "$RUN"
}

joined() { # node channel
  "$BIN" channel list --node "${API[$1]}" --id "$(admin_of "$1")" --crypto "$CRYPTO" 2>/dev/null | grep -qx "$2"
}

create_channel() {
  local ch=$1 block=$RUN/channels/$1.block
  if [[ ! -f $block ]]; then
    log "creating channel $ch"
    "$BIN" channel create --profile "$PROFILE" --crypto "$CRYPTO" --channel "$ch" --admin "$(admin_of node0)" --out "$block"
  fi
  for n in "${NODES[@]}"; do
    if joined "$n" "$ch"; then continue; fi
    "$BIN" channel join --node "${API[$n]}" --admin "$(admin_of "$n")" --crypto "$CRYPTO" --block "$block"
  done
}

# retry runs a command until it succeeds: right after a channel is created
# its Raft group needs a moment to elect a leader.
retry() {
  local i out
  for i in $(seq 1 50); do
    if out=$("$@" 2>&1); then
      [[ -n $out ]] && echo "$out"
      return 0
    fi
    sleep 0.2
  done
  echo "$out" >&2
  die "giving up: $*"
}

deploy_cc() {
  local ch=$1 name=$2 version=$3 seq=$4 initfn=$5 initarg=$6
  if "$BIN" chaincode query --node "${API[node0]}" --admin "$(admin_of node0)" --crypto "$CRYPTO" --channel "$ch" --name "$name" >/dev/null 2>&1; then
    log "chaincode $name already deployed on $ch"
    return
  fi
  log "deploying chaincode $name on $ch"
  local initflags=()
  [[ -n $initfn ]] && initflags+=(--init-fn "$initfn")
  [[ -n $initarg ]] && initflags+=(--init-arg "$initarg")
  for n in "${NODES[@]}"; do
    retry "$BIN" chaincode approve --node "${API[$n]}" --admin "$(admin_of "$n")" --crypto "$CRYPTO" \
      --channel "$ch" --name "$name" --version "$version" --sequence "$seq" "${initflags[@]}"
  done
  retry "$BIN" chaincode commit --node "${API[node0]}" --admin "$(admin_of node0)" --crypto "$CRYPTO" --channel "$ch" --name "$name"
}

# configure_cc changes a deployed chaincode's configuration the only way the
# medshare chaincodes accept: the next definition, whose init call carries
# the new configuration, approved by the given nodes' organisations and
# committed (which succeeds only once a majority of the channel's
# organisations approved it).
configure_cc() {
  local ch=$1 name=$2 initarg=$3 seq n
  shift 3
  seq=$("$BIN" chaincode query --node "${API[node0]}" --admin "$(admin_of node0)" --crypto "$CRYPTO" --channel "$ch" --name "$name" |
    sed -n 's/.*sequence \([0-9]*\).*/\1/p')
  [[ -n $seq ]] || die "chaincode $name is not deployed on $ch"
  log "configuring chaincode $name on $ch (sequence $((seq + 1)), approved by: $*)"
  for n in "$@"; do
    retry "$BIN" chaincode approve --node "${API[$n]}" --admin "$(admin_of "$n")" --crypto "$CRYPTO" \
      --channel "$ch" --name "$name" --version 1 --sequence "$((seq + 1))" --init-fn Init --init-arg "$initarg"
  done
  # node0 commits once it has seen the approvals (it may lag a moment); with
  # no majority this gives up after the retries.
  retry "$BIN" chaincode commit --node "${API[node0]}" --admin "$(admin_of node0)" --crypto "$CRYPTO" --channel "$ch" --name "$name"
}

# The medshare chaincodes: index on main (with the side chains registered),
# and storage, ptl and provenance on each side channel, configured in the
# deploy transaction itself with the channel's sensitivity level, the
# attribute authority's key and the auditors (the crypto material's auditor
# users), as "medshare chaincode init" prints them (txbuild.DefaultInits).
# Every organisation approves each definition. kv, the ledger's test
# chaincode, goes on every channel.
deploy_default() {
  local nodes=() level cc
  # The index lists each node at the address the channel knows it by
  # (NODE0_API… as in network/configtx.yaml; the dialled address otherwise).
  local advertised=([0]=${NODE0_API:-${API[node0]}} [1]=${NODE1_API:-${API[node1]}} [2]=${NODE2_API:-${API[node2]}})
  for n in "${NODES[@]}"; do
    nodes+=(--node "$n.${DOMAIN[$n]}=${MSP[$n]}=${advertised[${n#node}]}")
  done
  deploy_cc main index 1 1 Init "$("$BIN" chaincode init --crypto "$CRYPTO" --channel main --name index "${nodes[@]}")"
  for level in high medium low; do
    for cc in storage ptl provenance; do
      deploy_cc "side-$level" "$cc" 1 1 Init "$("$BIN" chaincode init --crypto "$CRYPTO" --channel "side-$level" --name "$cc")"
    done
  done
  for ch in "${CHANNELS[@]}"; do
    deploy_cc "$ch" kv 1 1 "" ""
  done
}

usage() {
  case $1 in
    up) cat <<'EOF'
usage: scripts/network.sh up
Start the whole local system in the background and return once it is ready:
crypto material and the IPFS swarm key in $MEDSHARE_RUN/crypto, three nodes
(127.0.0.1:7051, :8051, :9051), four channels, the contracts deployed and
configured by every organisation, three kubo daemons in one private swarm
(API 127.0.0.1:5001-5003, swarm :4001-4003), three gateways
(https://127.0.0.1:8443-8445; hospital 1's serves the attribute authority),
and the demo users of network/crypto-config.yaml enrolled. It prints what is
where; $MEDSHARE_RUN/env.sh holds the walkthrough's variables. Needs bin/ipfs
(make kubo). The foreground equivalent is `make run`.
EOF
      ;;
    down) cat <<'EOF'
usage: scripts/network.sh down
Stop the system that `up` started (its supervisor stops the gateways, the
kubo daemons and the nodes) and delete $MEDSHARE_RUN and its log.
EOF
      ;;
    status) cat <<'EOF'
usage: scripts/network.sh status
For each organisation: its node's channels, heights, block and state hashes,
leaders and alerts; its kubo daemon's swarm peers; its gateway's readiness
(/readyz: node, kubo, attribute authority). Exits 1 if anything is down.
EOF
      ;;
    createChannel) cat <<'EOF'
usage: scripts/network.sh createChannel [-c CHANNEL]
Create a channel from network/configtx.yaml (genesis block signed by
hospital 1's administrator, kept in $MEDSHARE_RUN/channels) and have every
node join it. Default: main, side-high, side-medium and side-low.
EOF
      ;;
    deployCC) cat <<'EOF'
usage: scripts/network.sh deployCC -c CHANNEL -ccn NAME [-ccv VERSION] [-ccs SEQUENCE] [-cci INIT_FUNCTION] [-cca INIT_ARG]
Enable a chaincode on a channel: every organisation's administrator approves
the definition on its own node, then hospital 1's commits it. Example:
  scripts/network.sh deployCC -c side-low -ccn kv
EOF
      ;;
    deployMedshare) cat <<'EOF'
usage: scripts/network.sh deployMedshare
Deploy the medshare contracts as `up` does: index on main, storage, ptl and
provenance on each side channel, configured in their deploy transaction
(`medshare chaincode init`), and kv on every channel. For nodes started
elsewhere (docker-compose: see scripts/compose-test.sh).
EOF
      ;;
    configureCC) cat <<'EOF'
usage: scripts/network.sh configureCC -c CHANNEL -ccn NAME -cca CONFIG [-orgs "node0 node1"]
Change a deployed medshare chaincode's configuration the only way it accepts
one: the next definition, whose init call carries CONFIG (as `medshare
chaincode init` prints it), approved by the listed nodes' organisations
(default all) and committed, which succeeds only once a majority of the
channel's organisations approved it.
EOF
      ;;
    *) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//' ;;
  esac
}

wants_help() {
  local a
  for a in "$@"; do [[ $a == -h || $a == --help ]] && return 0; done
  return 1
}

verb=${1:-}
shift || true
if [[ -n $verb ]] && wants_help "$@"; then
  usage "$verb"
  exit 0
fi
case $verb in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  deployMedshare)
    ensure_binary
    deploy_default
    ;;
  createChannel)
    ensure_binary
    chans=("${CHANNELS[@]}")
    while [[ $# -gt 0 ]]; do
      case $1 in -c) chans=("$2"); shift 2 ;; *) die "createChannel: unknown flag $1" ;; esac
    done
    for ch in "${chans[@]}"; do create_channel "$ch"; done
    ;;
  configureCC)
    ensure_binary
    ch="" name="" initarg="" orgs="${NODES[*]}"
    while [[ $# -gt 0 ]]; do
      case $1 in
        -c) ch=$2 ;; -ccn) name=$2 ;; -cca) initarg=$2 ;; -orgs) orgs=$2 ;;
        *) die "configureCC: unknown flag $1" ;;
      esac
      shift 2
    done
    [[ -n $ch && -n $name && -n $initarg ]] || die "configureCC needs -c CHANNEL, -ccn NAME and -cca CONFIG"
    # shellcheck disable=SC2086
    configure_cc "$ch" "$name" "$initarg" $orgs
    ;;
  deployCC)
    ensure_binary
    ch="" name="" version=1 seq=1 initfn="" initarg=""
    while [[ $# -gt 0 ]]; do
      case $1 in
        -c) ch=$2 ;; -ccn) name=$2 ;; -ccv) version=$2 ;; -ccs) seq=$2 ;;
        -cci) initfn=$2 ;; -cca) initarg=$2 ;;
        *) die "deployCC: unknown flag $1" ;;
      esac
      shift 2
    done
    [[ -n $ch && -n $name ]] || die "deployCC needs -c CHANNEL and -ccn NAME"
    deploy_cc "$ch" "$name" "$version" "$seq" "$initfn" "$initarg"
    ;;
  -h | --help | help | "") usage "" ;;
  *)
    usage "" >&2
    exit 1
    ;;
esac
