#!/usr/bin/env bash
# Local medshare network on loopback: three organisations (two hospitals and a
# research institute), one node each, four channels. The verbs follow
# Fabric's test network:
#
#   scripts/network.sh up              crypto, nodes, channels and chaincode
#   scripts/network.sh createChannel [-c CHANNEL]      (default: all four)
#   scripts/network.sh deployCC -c CHANNEL -ccn NAME [-ccv VERSION] [-ccs SEQUENCE]
#                                     [-cci INIT_FUNCTION] [-cca INIT_ARG]
#   scripts/network.sh configureCC -c CHANNEL -ccn NAME -cca CONFIG [-orgs "node0 node1"]
#                                     a new configuration: the next definition, approved
#                                     by the listed nodes' organisations (default all),
#                                     committed once a majority approved
#   scripts/network.sh status          every node's channels, heights, leaders, alerts
#   scripts/network.sh down            stop the nodes and delete the network's state
#
# Environment: MEDSHARE_RUN (state directory, default run), MEDSHARE_BIN
# (medshare binary, default bin/medshare; built if missing).
set -euo pipefail

cd "$(dirname "$0")/.."
RUN=${MEDSHARE_RUN:-run}
BIN=${MEDSHARE_BIN:-bin/medshare}
CRYPTO=$RUN/crypto
PROFILE=network/configtx.yaml
CHANNELS=(main side-high side-medium side-low)
NODES=(node0 node1 node2)
declare -A ORG=([node0]=hospital1 [node1]=hospital2 [node2]=research)
declare -A DOMAIN=([node0]=hospital1.example [node1]=hospital2.example [node2]=research.example)
declare -A API=([node0]=127.0.0.1:7051 [node1]=127.0.0.1:8051 [node2]=127.0.0.1:9051)
declare -A MSP=([node0]=Hospital1MSP [node1]=Hospital2MSP [node2]=ResearchMSP)
declare -A CLUSTER=([node0]=127.0.0.1:7052 [node1]=127.0.0.1:8052 [node2]=127.0.0.1:9052)

log() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'network.sh: %s\n' "$*" >&2; exit 1; }

admin_of() { echo "$CRYPTO/${ORG[$1]}/users/admin@${DOMAIN[$1]}"; }
client_of() { echo "$CRYPTO/hospital1/users/gateway@hospital1.example"; }

ensure_binary() {
  if [[ ! -x $BIN ]]; then
    log "building $BIN"
    go build -o "$BIN" ./cmd/medshare
  fi
}

ensure_crypto() {
  if [[ ! -d $CRYPTO ]]; then
    log "generating crypto material in $CRYPTO"
    "$BIN" crypto generate --config network/crypto-config.yaml --out "$CRYPTO"
  fi
}

node_running() {
  local pidfile=$RUN/$1/node.pid
  [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

start_node() {
  local n=$1 dir=$RUN/$1
  mkdir -p "$dir"
  cat >"$dir/node.yaml" <<EOF
identity: $CRYPTO/${ORG[$n]}/nodes/$n.${DOMAIN[$n]}
apiAddress: ${API[$n]}
clusterAddress: ${CLUSTER[$n]}
dataDir: $dir/data
logLevel: info
EOF
  if node_running "$n"; then
    log "$n already running (pid $(cat "$dir/node.pid"))"
    return
  fi
  log "starting $n (API ${API[$n]}, cluster ${CLUSTER[$n]}, log $dir/node.log)"
  nohup "$BIN" node --config "$dir/node.yaml" >>"$dir/node.log" 2>&1 &
  echo $! >"$dir/node.pid"
}

wait_node() {
  local n=$1
  for _ in $(seq 1 100); do
    if "$BIN" status --node "${API[$n]}" --id "$(admin_of "$n")" --crypto "$CRYPTO" >/dev/null 2>&1; then
      return 0
    fi
    node_running "$n" || die "$n exited; see $RUN/$n/node.log"
    sleep 0.1
  done
  die "$n did not answer on ${API[$n]}; see $RUN/$n/node.log"
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
  for n in "${NODES[@]}"; do
    nodes+=(--node "$n.${DOMAIN[$n]}=${MSP[$n]}=${API[$n]}")
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

cmd_up() {
  ensure_binary
  ensure_crypto
  for n in "${NODES[@]}"; do start_node "$n"; done
  for n in "${NODES[@]}"; do wait_node "$n"; done
  for ch in "${CHANNELS[@]}"; do create_channel "$ch"; done
  deploy_default
  cmd_status
  log "network is up; stop it with: scripts/network.sh down"
}

cmd_down() {
  for n in "${NODES[@]}"; do
    local pidfile=$RUN/$n/node.pid
    if node_running "$n"; then
      log "stopping $n"
      kill -TERM "$(cat "$pidfile")"
      for _ in $(seq 1 100); do node_running "$n" || break; sleep 0.1; done
      node_running "$n" && kill -KILL "$(cat "$pidfile")"
    fi
  done
  log "removing $RUN"
  rm -rf "$RUN"
}

cmd_status() {
  ensure_binary
  for n in "${NODES[@]}"; do
    if node_running "$n"; then
      "$BIN" status --node "${API[$n]}" --id "$(admin_of "$n")" --crypto "$CRYPTO" || true
    else
      echo "node $n: not running"
    fi
    echo
  done
}

verb=${1:-}
shift || true
case $verb in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
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
  *)
    sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
    [[ -z $verb ]] || exit 1
    ;;
esac
