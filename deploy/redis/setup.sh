#!/usr/bin/env bash
# shellcheck disable=SC2119 # start_direct takes optional arguments (lib.sh)
# Sets up a production Redis server for Logship, idempotently: installs redis-server if it is missing,
# edits redis.conf (requirepass, bind, protected-mode, port, appendonly yes + appendfsync; every other
# line is kept), makes that file readable by root and redis only, and starts the server, restarting it
# only when the file changed. Running it again changes nothing. `--check` only verifies (one OK/FAIL
# line per step; exit 0 when all are OK). The password comes from env LOGSHIP_REDIS_PASSWORD or
# --password-file, never from the command line, and is never printed; redis-cli gets it in
# REDISCLI_AUTH, never with -a. Turning the AOF on never loses data: see "AOF" below. See deploy/README.md.
set -euo pipefail

prog=redis-setup daemon=redis-server
secure_modes="640 660" # 660: a CONFIG REWRITE (the sentinels do one in a failover) under Debian's UMask=007
# shellcheck source=deploy/redis/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<'EOF'
Usage: deploy/redis/setup.sh [OPTIONS]          set up (idempotent; must run as root)
       deploy/redis/setup.sh --check [OPTIONS]  verify the set-up, one OK/FAIL line per step

Password: env LOGSHIP_REDIS_PASSWORD, or --password-file FILE (first line). Never on the command line.
(--check falls back to the requirepass of the config file.)

Options:
  --config FILE         redis.conf to edit (default: /etc/redis/redis.conf; it must exist)
  --port PORT           port (default: 6379)
  --bind "ADDR..."      addresses to listen on (default: "127.0.0.1 -::1", this machine only)
  --fsync MODE          appendfsync: everysec (default) or always
  --queue NAME          list that --check reports the backlog of (default: logs_queue)
  --password-file FILE  read the password from FILE instead of LOGSHIP_REDIS_PASSWORD
  --no-start            only install and edit the config; do not start or restart the server
  --role ROLE           a data node of a Redis Sentinel set-up: master or replica (default: none,
                        a standalone server). Adds masterauth (= the password) and
                        min-replicas-to-write/min-replicas-max-lag; the sentinels themselves are set
                        up by deploy/redis/sentinel.sh. The password must then be made of letters,
                        digits and ._~+/=:@%^!,- (Sentinel rewrites its auth-pass unquoted)
  --master HOST[:PORT]  --role replica: the master to replicate (port 6379 by default)
  --min-replicas N      with --role: min-replicas-to-write N (default 1; 0 turns it off), with
                        min-replicas-max-lag 10: the master refuses writes while fewer than N
                        replicas are within 10 s of it
  --check               verify instead of changing anything; exit 0 if every check is OK, 1 if not
  -h, --help            this help

With --check, --port/--bind default to the config file's values; with --role, --check also reports
the node's replication (a master's connected replicas, a replica's link) and min-replicas-to-write.
replicaof is written (or, for a master, removed) only on the first set-up with --role, which also adds
a marker comment: after that the sentinels own it (a failover rewrites it), so a later run leaves it
as it is, whatever --role and --master say, and says so.
The server is managed with systemctl (redis-server.service) when systemd runs and the config is
/etc/redis/redis.conf; otherwise redis-server CONFIG is started directly (daemonized, as the redis
user when it exists). A running server is restarted only when the config file changed.
Exit status: 0 done / all checks OK, 1 failure / a check failed, 2 bad usage.
EOF
}

# ---- options --------------------------------------------------------------------------------------
config=/etc/redis/redis.conf port=6379 port_given=0 bind="127.0.0.1 -::1" bind_given=0 fsync=everysec
fsync_given=0 queue=logs_queue password_file="" no_start=0 check=0 role="" master="" min_replicas=1
min_replicas_given=0

set_option() {
  case $1 in
    --config) config=$2 ;;
    --port) port=$2 port_given=1 ;;
    --bind) bind=$2 bind_given=1 ;;
    --fsync) fsync=$2 fsync_given=1 ;;
    --queue) queue=$2 ;;
    --password-file) password_file=$2 ;;
    --role) role=$2 ;;
    --master) master=$2 ;;
    --min-replicas) min_replicas=$2 min_replicas_given=1 ;;
    --no-start) no_start=1 ;;
    --check) check=1 ;;
    -h | --help) usage; exit 0 ;;
  esac
}
parse_options "--config --port --bind --fsync --queue --password-file --role --master --min-replicas" \
  "--no-start --check -h --help" "$@"

if ! [[ $port =~ ^[0-9]{1,5}$ ]] || ((10#$port < 1 || 10#$port > 65535)); then
  die_usage "--port must be a number from 1 to 65535"
fi
port=$((10#$port))
read -r -a bind_words <<<"$bind" # normalise spaces
bind="${bind_words[*]}"
[[ $bind =~ ^-?[0-9A-Fa-f.:*]+(\ -?[0-9A-Fa-f.:*]+)*$ ]] || die_usage "--bind: expected addresses separated by spaces, e.g. \"127.0.0.1 -::1\""
[[ $fsync == everysec || $fsync == always ]] || die_usage "--fsync must be 'everysec' or 'always'"
[[ $queue =~ ^[A-Za-z0-9._:-]{1,200}$ ]] || die_usage "--queue: use letters, digits, '.', '_', ':' or '-'"
[[ -z $password_file || -r $password_file ]] || die_usage "--password-file $password_file: not a readable file"
[[ $config != "" ]] || die_usage "--config needs a file name"
case $role in
  "") [[ -z $master && $min_replicas_given == 0 ]] || die_usage "--master and --min-replicas need --role" ;;
  master) [[ -z $master ]] || die_usage "--master is for --role replica (a master replicates no one)" ;;
  replica)
    [[ -n $master ]] || ((check)) || die_usage "--role replica needs --master HOST[:PORT]"
    if [[ -n $master ]]; then
      parse_hostport "$master" 6379 --master
      master_host=$hp_host master_port=$hp_port
    fi
    ;;
  *) die_usage "--role must be 'master' or 'replica' (the sentinels: deploy/redis/sentinel.sh)" ;;
esac
[[ $min_replicas =~ ^[0-9]{1,3}$ ]] || die_usage "--min-replicas must be a number from 0 to 999"
min_replicas=$((10#$min_replicas))
config=$(realpath -m -- "$config")

((EUID == 0)) || die "must run as root (it installs packages, edits $config and starts redis-server)"
unset REDISCLI_AUTH

# ---- the password: never in argv, never printed, not passed on to the server's environment --------
read_password "$password_file" --password-file LOGSHIP_REDIS_PASSWORD
password=$pw_value password_source=$pw_source
[[ -z $role || -z $password ]] || sentinel_safe_password "$password" "the password"
if ((!check)) && [[ -z $password ]]; then
  die_usage "no password: set env LOGSHIP_REDIS_PASSWORD or use --password-file FILE"
fi


if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null && [[ $config == /etc/redis/redis.conf ]]; then
  start_mode=systemd
else
  start_mode=direct
fi

# --check, --role: masterauth, min-replicas-to-write, and what the node is now (a failover may have
# swapped master and replica: that is fine as long as the node is linked).
check_replication() {
  local v info now link slaves set_up="set up as --role $role"
  v=$(config_value "$host" "$port" "$password" masterauth) || v=""
  if [[ -n $v ]]; then report OK "masterauth is set"; else report FAIL "masterauth is not set: this node cannot follow a new master after a failover"; fi
  v=$(config_value "$host" "$port" "$password" min-replicas-to-write) || v="?"
  if [[ $v == "$min_replicas" ]]; then
    report OK "min-replicas-to-write $v (min-replicas-max-lag $(config_value "$host" "$port" "$password" min-replicas-max-lag || echo ?))"
  else
    report FAIL "min-replicas-to-write is '$v', expected $min_replicas"
  fi
  info=$(rcli "$host" "$port" "$password" INFO replication)
  now=$(info_field "$info" role) link=$(info_field "$info" master_link_status) slaves=$(info_field "$info" connected_slaves)
  if [[ $now == slave && $link == up ]]; then
    report OK "replica of $(info_field "$info" master_host):$(info_field "$info" master_port), link up ($set_up)"
  elif [[ $now == slave ]]; then
    report FAIL "replica of $(info_field "$info" master_host):$(info_field "$info" master_port), but the link is '${link:-?}' (master down, or masterauth wrong; see its log)"
  elif [[ $now == master && ${slaves:-0} -ge $min_replicas ]]; then
    report OK "master with $slaves connected replica(s) ($set_up)"
  elif [[ $now == master ]]; then
    report FAIL "master with ${slaves:-0} connected replica(s), fewer than min-replicas-to-write $min_replicas: it refuses writes (NOREPLICAS)"
  else
    report FAIL "INFO replication: role '${now:-?}'"
  fi
}

# ==== --check =========================================================================================
if ((check)); then
  fails=0
  report() {
    printf '%-4s %s\n' "$1" "$2"
    if [[ $1 == FAIL ]]; then fails=$((fails + 1)); fi
  }
  echo "$prog: checking the Redis server of $config"
  command -v redis-cli >/dev/null || { report FAIL "redis-cli is not installed (apt-get install redis-tools)"; exit 1; }
  [[ -f $config ]] || report FAIL "$config does not exist"
  ((port_given)) || port=$(conf_get port)
  port=${port:-6379}
  ((bind_given)) || bind=$(conf_get bind)
  host=$(bind_host "$bind")
  if [[ -z $password ]]; then
    password=$(conf_unquote "$(conf_get requirepass)")
    [[ -z $password ]] || password_source="requirepass of $config"
  fi
  [[ -z $password_source ]] || echo "$prog: password from $password_source"

  out=$(rcli "$host" "$port" "$password" PING) || true
  up=0
  if [[ -z $password ]]; then
    report FAIL "no password: set LOGSHIP_REDIS_PASSWORD or --password-file (and requirepass is not in $config)"
  elif [[ $out == PONG ]]; then
    up=1
    report OK "PING with the password on $host:$port answers PONG"
  else
    report FAIL "PING with the password on $host:$port: $(head -n1 <<<"$out")"
  fi
  out=$(rcli "$host" "$port" "" PING) || true
  if [[ $out == *NOAUTH* ]]; then
    report OK "PING without a password is refused (NOAUTH)"
  elif [[ $out == PONG ]]; then
    report FAIL "PING without a password answers PONG: the server has no password"
  else
    report FAIL "PING without a password: expected NOAUTH, got: $(head -n1 <<<"$out")"
  fi
  if ((up)); then
    info=$(rcli "$host" "$port" "$password" INFO server)
    cf=$(info_field "$info" config_file)
    if [[ $cf == "$config" ]]; then
      report OK "the server runs from $config"
    else
      report FAIL "the server runs from '${cf:-no config file}', not $config"
    fi
    out=$(rcli "$host" "$port" "$password" LLEN "$queue") || true
    if [[ $out =~ ^[0-9]+$ ]]; then
      report OK "LLEN $queue = $out (records waiting for the aggregator)"
    else
      report FAIL "LLEN $queue: $out"
    fi
    v=$(config_value "$host" "$port" "$password" appendonly) || v="?"
    if [[ $v == yes ]]; then report OK "appendonly yes (AOF on)"; else report FAIL "appendonly is '$v', expected yes"; fi
    v=$(config_value "$host" "$port" "$password" appendfsync) || v="?"
    if ((fsync_given)) && [[ $v != "$fsync" ]]; then
      report FAIL "appendfsync is '$v', expected $fsync"
    elif [[ $v == everysec || $v == always ]]; then
      report OK "appendfsync $v"
    else
      report FAIL "appendfsync is '$v' (use everysec or always)"
    fi
    persistence=$(rcli "$host" "$port" "$password" INFO persistence)
    v=$(info_field "$persistence" aof_last_write_status)
    if [[ $v == ok ]]; then report OK "last AOF write ok"; else report FAIL "aof_last_write_status is '$v'"; fi
    v=$(config_value "$host" "$port" "$password" requirepass) || v=""
    if [[ -n $v ]]; then report OK "requirepass is set"; else report FAIL "requirepass is not set"; fi
    v=$(config_value "$host" "$port" "$password" bind) || v="?"
    if [[ $v == "$bind" ]]; then
      report OK "bind $v"
    else
      report FAIL "the server binds '$v', expected '$bind'"
    fi
    v=$(config_value "$host" "$port" "$password" protected-mode) || v="?"
    if [[ $v == yes ]]; then report OK "protected-mode yes"; else report FAIL "protected-mode is '$v'"; fi
    [[ -z $role ]] || check_replication
  else
    report FAIL "LLEN, persistence, bind and protected-mode: not checked, no authenticated connection"
  fi
  if [[ -f $config ]]; then
    mode=$(stat -c %a "$config")
    owner=$(stat -c %U:%G "$config")
    if ((8#$mode & 8#007)); then
      report FAIL "$config is mode $mode ($owner): it holds the password, make it 640"
    else
      report OK "$config is mode $mode ($owner)"
    fi
  fi
  if ((fails)); then
    echo "$prog: $fails check(s) FAILED"
    exit 1
  fi
  echo "$prog: all checks OK"
  exit 0
fi

# ==== set-up ==========================================================================================
changes=()
changed() { changes+=("$1"); say "$1"; }
echo "$prog: setting up the Redis server of $config (start mode: $start_mode)"
say "password from $password_source"

# 1. The package.
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
  command -v apt-get >/dev/null || die "redis-server is not installed and apt-get is not available"
  say "installing redis-server with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  policy_made=0
  if [[ $start_mode != systemd && ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    policy_made=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get install -y -qq --no-install-recommends redis-server redis-tools
  if ((policy_made)); then rm -f /usr/sbin/policy-rc.d; trap - EXIT; fi
  changed "installed redis-server"
fi
[[ -f $config ]] || die "$config does not exist (install redis-server, or copy its redis.conf there first)"

# 2. What runs now, found through the current config (port, bind, password, pidfile).
old_port=$(conf_get port)
old_port=${old_port:-6379}
old_host=$(bind_host "$(conf_get bind)")
old_password=$(conf_unquote "$(conf_get requirepass)")
old_pidfile=$(conf_unquote "$(conf_get pidfile)")
old_appendonly=$(conf_get appendonly)
running=0 server_password="" server_pid=""
for pw in "$password" "$old_password" ""; do
  out=$(rcli "$old_host" "$old_port" "$pw" PING) || true
  if [[ $out == PONG ]]; then
    server_password=$pw
    running=1
    break
  fi
  [[ $out == *NOAUTH* || $out == *WRONGPASS* || $out == *"AUTH failed"* ]] || break # nothing there
  running=2 # something answers, password unknown so far
done
if ((running == 1)); then
  info=$(rcli "$old_host" "$old_port" "$server_password" INFO server)
  server_cf=$(info_field "$info" config_file)
  server_pid=$(info_field "$info" process_id)
  [[ $server_cf == "$config" ]] ||
    die "the Redis server on $old_host:$old_port runs from '${server_cf:-no config file}', not $config; refusing to touch it"
elif ((running == 2)); then
  pid=""
  [[ -z $old_pidfile || ! -f $old_pidfile ]] || pid=$(<"$old_pidfile")
  if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q redis-server; then
    server_pid=$pid
    warn "the running server (pid $pid, from $old_pidfile) accepts neither the old nor the new password"
  else
    die "a Redis server answers on $old_host:$old_port but accepts neither the old nor the new password, and $old_pidfile does not name it"
  fi
  running=1
fi
if [[ $start_mode == systemd ]] && systemctl is-active --quiet redis-server; then running=1; fi

# 3. The new config: only these keys change, every other line is kept.
# With --role: masterauth, min-replicas-*, and replication on the first set-up only (see --help): that
# run adds the marker comment below (Redis' CONFIG REWRITE keeps comments); once it is there,
# replicaof belongs to the sentinels, which rewrite it in a failover.
marker="# Logship: a Redis Sentinel data node; replicaof is the sentinels' to change (deploy/redis/setup.sh)"
replication_keys() {
  local current l first=1
  set_key masterauth "$(conf_quote "$password")"
  set_key min-replicas-to-write "$min_replicas"
  set_key min-replicas-max-lag 10
  for l in "${lines[@]}"; do [[ $l != "$marker" ]] || first=0; done
  current=$(conf_get replicaof)
  [[ -n $current ]] || current=$(conf_get slaveof)
  current=$(conf_norm "$current")
  if ((first)); then
    lines+=("$marker")
    del_key slaveof
    if [[ $role == replica ]]; then
      set_key replicaof "$master_host $master_port"
      say "first set-up as a replica: replicaof $master_host $master_port"
    else
      del_key replicaof
      say "first set-up as the master${current:+ (replicaof $current removed)}"
    fi
  elif [[ $role == master && -n $current ]]; then
    say "$config says replicaof $current: a failover made this node a replica; left as it is (the sentinels own replicaof)"
  elif [[ $role == replica && -z $current ]]; then
    say "$config has no replicaof: a failover made this node the master; left as it is (the sentinels own replicaof)"
  elif [[ $role == replica && $current != "$master_host $master_port" ]]; then
    say "$config says replicaof $current, not $master_host $master_port: left as it is (the sentinels own replicaof)"
  fi
}
lines=()
mapfile -t lines <"$config"
set_key requirepass "$(conf_quote "$password")"
set_key bind "$bind"
set_key protected-mode yes
set_key port "$port"
set_key appendonly yes
set_key appendfsync "$fsync"
[[ -z $role ]] || replication_keys
final_lines=("${lines[@]}")


# AOF: a server that starts with appendonly yes and no AOF yet starts EMPTY, ignoring dump.rdb. So the
# AOF is always switched on in a running server first (CONFIG SET appendonly yes writes the whole
# dataset to a new AOF), and only then is the server (re)started with the new config.
aof_rewrites() { info_field "$(rcli "$1" "$2" "$3" INFO persistence)" aof_rewrites; }
enable_aof_live() { # HOST PORT PASSWORD
  local before deadline=$((SECONDS + 600)) p out
  before=$(aof_rewrites "$@")
  out=$(rcli "$1" "$2" "$3" CONFIG SET appendonly yes) || true
  [[ $out == OK ]] || die "CONFIG SET appendonly yes failed: $out"
  while :; do
    p=$(rcli "$1" "$2" "$3" INFO persistence)
    if [[ $(info_field "$p" aof_rewrite_in_progress) == 0 && $(info_field "$p" aof_rewrite_scheduled) == 0 &&
      $(info_field "$p" aof_rewrites) -gt ${before:-0} ]]; then
      [[ $(info_field "$p" aof_last_bgrewrite_status) == ok ]] || die "the AOF rewrite failed; see the Redis log"
      return 0
    fi
    ((SECONDS < deadline)) || die "the AOF rewrite did not finish within 600 s"
    sleep 0.2
  done
}

data_dir=$(conf_unquote "$(conf_get dir)")
data_dir=${data_dir:-.}
rdb=$data_dir/$(conf_unquote "$(conf_get dbfilename)")
[[ $rdb != */ ]] || rdb+=dump.rdb
aof_dir=$(conf_unquote "$(conf_get appenddirname)")
aof_dir=$data_dir/${aof_dir:-appendonlydir}
staged=0
if ((running == 0)) && [[ -f $rdb && ! -d $aof_dir ]]; then
  staged=1 # start with appendonly no, switch it on live, then write appendonly yes
fi

config_changed=0
if ((staged)); then
  set_key appendonly no
  if write_config; then config_changed=1; fi
  lines=("${final_lines[@]}")
elif write_config; then
  config_changed=1
fi
((!config_changed)) || changed "wrote $config: requirepass, bind $bind, protected-mode yes, port $port, appendonly $( ((staged)) && echo "no (for now)" || echo yes), appendfsync $fsync${role:+, masterauth, min-replicas-to-write $min_replicas}"
((config_changed)) || say "$config already has the wanted settings: unchanged"
secure_config

if ((no_start)); then
  ((!running || !config_changed)) || warn "the running server still uses the old settings: restart it"
  if ((staged)); then warn "$config says appendonly no for now: run this script without --no-start to switch the AOF on safely"; fi
  say "--no-start: not starting or restarting the server"
  exit 0
fi

# 4. Start, or restart when the config changed.
host=$(bind_host "$bind")
if ((running && config_changed)); then
  if [[ -n $server_password || -z $old_password ]]; then
    if [[ $(config_value "$old_host" "$old_port" "$server_password" appendonly) == no ]]; then
      say "switching the AOF on in the running server before restarting it (a restart straight into appendonly yes would start empty)"
      enable_aof_live "$old_host" "$old_port" "$server_password"
      changed "AOF switched on in the running server (its whole dataset is in the new AOF)"
    fi
  elif [[ ${old_appendonly,,} != yes ]]; then
    die "cannot switch the AOF on safely: the running server's password is unknown"
  fi
  if [[ $start_mode == systemd ]]; then
    systemctl restart redis-server
    wait_ready
  else
    stop_direct
    start_direct
  fi
  changed "restarted the server (its config changed)"
elif ((!running)); then
  if [[ $start_mode == systemd ]]; then
    systemctl start redis-server
    wait_ready
  else
    start_direct
  fi
  changed "started the server"
else
  say "the server is running with this config; no restart"
  if [[ -n $server_password && $(config_value "$host" "$port" "$server_password" appendonly) == no ]]; then
    enable_aof_live "$host" "$port" "$server_password"
    changed "the running server had the AOF off (CONFIG SET at run time?): switched it on"
  fi
fi
if [[ $start_mode == systemd ]] && ! systemctl is-enabled --quiet redis-server 2>/dev/null; then
  systemctl enable --quiet redis-server
  changed "enabled redis-server.service at boot"
fi

if ((staged)); then
  say "switching the AOF on live ($rdb exists and there is no AOF yet: starting with appendonly yes would ignore it)"
  enable_aof_live "$host" "$port" "$password"
  write_config || true
  secure_config
  changed "AOF switched on and $config now says appendonly yes"
fi

# 5. Advice.
cat <<EOF

Durability: appendonly yes with appendfsync $fsync.
  everysec  the AOF is fsynced once a second: a power loss or kernel crash can lose about the last
            second of records the producer already saw acknowledged (a crash of Redis alone loses none).
  always    fsync before every reply: nothing acknowledged is lost, but every write waits for the
            disk (much slower on spinning disks; use it when each record matters).
  RDB snapshots alone (save ...) lose everything since the last snapshot, typically minutes.
  Use --fsync always to switch; --check shows the settings and the backlog (LLEN $queue).

EOF
if ((${#changes[@]} == 0)); then
  say "nothing changed: everything was already set up"
else
  say "done: ${#changes[@]} change(s)"
fi
