#!/usr/bin/env bash
# Sets up one Redis Sentinel for Logship, idempotently: installs redis-sentinel if it is missing, edits
# sentinel.conf (port, bind, the sentinels' own requirepass, `sentinel monitor NAME MASTER PORT QUORUM`,
# auth-pass, down-after-milliseconds, failover-timeout; every other line is kept), and starts the
# sentinel, restarting it only when the file changed. Running it again changes nothing. `--check`
# only verifies the whole set-up as this sentinel sees it (the master, its replicas, the other
# sentinels, the quorum), one OK/FAIL line per step, exit 0 when all are OK. The data nodes are set
# up with deploy/redis/setup.sh --role master|replica. Passwords come from env or files, never from
# the command line, and are never printed. See deploy/README.md, "Redis Sentinel".
set -euo pipefail

prog=redis-sentinel-setup daemon=redis-sentinel
secure_modes="640 660" # a sentinel rewrites its config itself, under Debian's UMask=007 as 660
# shellcheck source=deploy/redis/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<'EOF'
Usage: deploy/redis/sentinel.sh --master HOST[:PORT] [OPTIONS]  set up this host's sentinel (as root)
       deploy/redis/sentinel.sh --check [OPTIONS]               verify the whole Sentinel set-up

Passwords (never on the command line):
  the data nodes' (requirepass of setup.sh --role ...; becomes `sentinel auth-pass`):
      env LOGSHIP_REDIS_PASSWORD, or --password-file FILE
  the sentinels' own (their requirepass; Logship's LOGSHIP_SENTINEL_PASSWORD; optional, recommended):
      env LOGSHIP_SENTINEL_PASSWORD, or --sentinel-password-file FILE
  (--check falls back to the auth-pass and requirepass of the config file.)

Options:
  --config FILE                  sentinel.conf to edit (default: /etc/redis/sentinel.conf; must exist)
  --port PORT                    the sentinel's port (default: 26379)
  --bind "ADDR..."               addresses to listen on (default: "127.0.0.1 -::1"; give the address
                                 the other sentinels and Logship reach, e.g. "10.0.0.3 127.0.0.1")
  --master HOST[:PORT]           the master to monitor on a first set-up (port 6379 by default); a
                                 monitored master is not moved (after a failover the sentinels know better)
  --name NAME                    the master name (default: logship; the URLs' /NAME)
  --quorum N                     sentinels that must agree the master is down (default: 2, of 3)
  --down-after MS                down-after-milliseconds (default: 5000)
  --failover-timeout MS          failover-timeout (default: 60000)
  --password-file FILE           the data nodes' password
  --sentinel-password-file FILE  the sentinels' password
  --replicas N                   --check: replicas that must be linked (default: every one the sentinel
                                 knows, at least 1)
  --sentinels N                  --check: sentinels that must know the master, this one included
                                 (default: 3)
  --no-start                     only install and edit the config; do not start or restart the sentinel
  --check                        verify instead of changing anything; exit 0 if every check is OK, 1 if not
  -h, --help                     this help

With --check, --port/--bind default to the config file's values.
The sentinel is managed with systemctl (redis-sentinel.service) when systemd runs and the config is
/etc/redis/sentinel.conf; otherwise it is started directly (redis-sentinel CONFIG, or redis-server
CONFIG --sentinel, daemonized, as the redis user when it exists). Passwords must be made of letters,
digits and ._~+/=:@%^!,- (Sentinel rewrites auth-pass unquoted).
Exit status: 0 done / all checks OK, 1 failure / a check failed, 2 bad usage.
EOF
}

# ---- options --------------------------------------------------------------------------------------
config=/etc/redis/sentinel.conf port=26379 bind="127.0.0.1 -::1" master="" name=logship quorum=2
down_after=5000 failover_timeout=60000 password_file="" sentinel_password_file="" want_replicas=""
want_sentinels=3 no_start=0 check=0 port_given=0 bind_given=0

set_option() {
  case $1 in
    --config) config=$2 ;;
    --port) port=$2 port_given=1 ;;
    --bind) bind=$2 bind_given=1 ;;
    --master) master=$2 ;;
    --name) name=$2 ;;
    --quorum) quorum=$2 ;;
    --down-after) down_after=$2 ;;
    --failover-timeout) failover_timeout=$2 ;;
    --password-file) password_file=$2 ;;
    --sentinel-password-file) sentinel_password_file=$2 ;;
    --replicas) want_replicas=$2 ;;
    --sentinels) want_sentinels=$2 ;;
    --no-start) no_start=1 ;;
    --check) check=1 ;;
    -h | --help) usage; exit 0 ;;
  esac
}
parse_options "--config --port --bind --master --name --quorum --down-after --failover-timeout --password-file
  --sentinel-password-file --replicas --sentinels" "--no-start --check -h --help" "$@"

number() { # VALUE MIN MAX FLAG
  if ! [[ $1 =~ ^[0-9]{1,9}$ ]] || ((10#$1 < $2 || 10#$1 > $3)); then die_usage "$4 must be a number from $2 to $3"; fi
}
number "$port" 1 65535 --port
port=$((10#$port))
read -r -a bind_words <<<"$bind"
bind="${bind_words[*]}"
[[ $bind =~ ^-?[0-9A-Fa-f.:*]+(\ -?[0-9A-Fa-f.:*]+)*$ ]] || die_usage "--bind: expected addresses separated by spaces, e.g. \"127.0.0.1 -::1\""
[[ $name =~ ^[A-Za-z0-9._-]{1,100}$ ]] || die_usage "--name: use letters, digits, '.', '_' or '-'"
number "$quorum" 1 99 --quorum
number "$down_after" 100 3600000 --down-after
number "$failover_timeout" 1000 86400000 --failover-timeout
[[ -z $want_replicas ]] || number "$want_replicas" 0 99 --replicas
number "$want_sentinels" 1 99 --sentinels
if [[ -n $master ]]; then
  parse_hostport "$master" 6379 --master
  master_host=$hp_host master_port=$hp_port
elif ((!check)); then
  die_usage "--master HOST[:PORT] is needed to set up a sentinel (the master it monitors first)"
fi
for f in "$password_file" "$sentinel_password_file"; do
  [[ -z $f || -r $f ]] || die_usage "$f: not a readable file"
done
[[ $config != "" ]] || die_usage "--config needs a file name"
config=$(realpath -m -- "$config")

read_password "$password_file" --password-file LOGSHIP_REDIS_PASSWORD
password=$pw_value password_source=$pw_source
read_password "$sentinel_password_file" --sentinel-password-file LOGSHIP_SENTINEL_PASSWORD
spassword=$pw_value spassword_source=$pw_source
[[ -z $password ]] || sentinel_safe_password "$password" "the data nodes' password"
[[ -z $spassword ]] || sentinel_safe_password "$spassword" "the sentinels' password"
if ((!check)) && [[ -z $password ]]; then
  die_usage "no data node password: set env LOGSHIP_REDIS_PASSWORD or use --password-file FILE"
fi

((EUID == 0)) || die "must run as root (it installs packages, edits $config and starts the sentinel)"
unset REDISCLI_AUTH
host=$(bind_host "$bind")

if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null && [[ $config == /etc/redis/sentinel.conf ]]; then
  start_mode=systemd
else
  start_mode=direct
fi

# redis-cli output of a reply made of NAME VALUE pairs (SENTINEL MASTER, SENTINEL REPLICAS, ...), one
# entry per line: the values of FIELDS, separated by spaces. A new entry starts at each "name".
entries() { # TEXT FIELD...
  awk -v fields="${*:2}" 'BEGIN { n = split(fields, f, " ") }
    { sub(/\r$/, "") }
    NR % 2 == 1 { key = $0; next }
    { if (key == "name" && started) emit(); started = 1; v[key] = $0 }
    function emit(  i, s) { s = ""; for (i = 1; i <= n; i++) s = s (i > 1 ? " " : "") (f[i] in v ? v[f[i]] : "-"); print s; delete v }
    END { if (started) emit() }' <<<"$1"
}
scli() { rcli "$1" "$2" "$spassword" "${@:3}"; } # to a sentinel, with the sentinels' password

# ==== --check =========================================================================================
report() {
  printf '%-4s %s\n' "$1" "$2"
  if [[ $1 == FAIL ]]; then fails=$((fails + 1)); fi
}
check_data_node() { # IP PORT MASTER-IP MASTER-PORT: a replica, checked directly
  local info out now link mh mp
  out=$(rcli "$1" "$2" "$password" PING) || true
  if [[ $out != PONG ]]; then
    report FAIL "replica $1:$2 does not answer PING with the password: $(head -n1 <<<"$out")"
    return 1
  fi
  info=$(rcli "$1" "$2" "$password" INFO replication)
  now=$(info_field "$info" role) link=$(info_field "$info" master_link_status)
  mh=$(info_field "$info" master_host) mp=$(info_field "$info" master_port)
  if [[ $now == slave && $link == up && $mh:$mp == "$3:$4" ]]; then
    report OK "replica $1:$2 is linked to the master (master_link_status up)"
    return 0
  fi
  report FAIL "replica $1:$2: role '${now:-?}', master $mh:$mp, link '${link:-?}' (expected a replica of $3:$4, link up)"
  return 1
}
check_replicas() { # MASTER-IP MASTER-PORT
  local ip p flags linked=0 known=0 want
  while read -r ip p flags; do
    [[ -n $ip ]] || continue
    known=$((known + 1))
    if [[ $flags == *s_down* || $flags == *disconnected* ]]; then
      report FAIL "replica $ip:$p is down for the sentinel (flags $flags)"
      check_data_node "$ip" "$p" "$1" "$2" >/dev/null || true
    elif check_data_node "$ip" "$p" "$1" "$2"; then
      linked=$((linked + 1))
    fi
  done < <(entries "$(scli "$host" "$port" SENTINEL REPLICAS "$name")" ip port flags)
  want=${want_replicas:-$((known > 0 ? known : 1))}
  if ((linked >= want)); then
    report OK "$linked replica(s) linked, $want wanted"
  else
    report FAIL "$linked of $known known replica(s) linked, $want wanted"
  fi
}
check_sentinels() { # MASTER-IP MASTER-PORT
  local ip p agree=1 total=1 out
  while read -r ip p; do
    [[ -n $ip ]] || continue
    total=$((total + 1))
    out=$(scli "$ip" "$p" SENTINEL get-master-addr-by-name "$name" | paste -sd: -) || true
    if [[ $out == "$1:$2" ]]; then
      agree=$((agree + 1))
    else
      report FAIL "sentinel $ip:$p names '${out:0:80}' as the master of '$name', not $1:$2"
    fi
  done < <(entries "$(scli "$host" "$port" SENTINEL SENTINELS "$name")" ip port)
  if ((total >= want_sentinels && agree == total)); then
    report OK "$total sentinel(s) agree the master of '$name' is $1:$2 ($want_sentinels wanted)"
  else
    report FAIL "$agree of $total sentinel(s) agree on the master of '$name'; $want_sentinels wanted"
  fi
}
run_check() {
  local out info mflags mip mport v
  fails=0
  echo "$prog: checking the Redis Sentinel set-up '$name' as the sentinel of $config sees it"
  ((port_given)) || port=$(conf_get port)
  port=${port:-26379}
  ((bind_given)) || host=$(bind_host "$(conf_get bind)")
  command -v redis-cli >/dev/null || { report FAIL "redis-cli is not installed (apt-get install redis-tools)"; exit 1; }
  [[ -f $config ]] || report FAIL "$config does not exist"
  if [[ -z $spassword ]]; then
    spassword=$(conf_unquote "$(conf_get requirepass)")
    [[ -z $spassword ]] || spassword_source="requirepass of $config"
  fi
  if [[ -z $password ]]; then
    password=$(conf_unquote "$(conf_get "sentinel auth-pass $name")")
    [[ -z $password ]] || password_source="sentinel auth-pass of $config"
  fi
  echo "$prog: data nodes' password from ${password_source:-nowhere}, sentinels' from ${spassword_source:-nowhere}"
  out=$(scli "$host" "$port" PING) || true
  if [[ $out != PONG ]]; then
    report FAIL "the sentinel on $host:$port does not answer PING: $(head -n1 <<<"$out")"
    finish_check
  fi
  report OK "the sentinel on $host:$port answers PING"
  if [[ -n $spassword ]]; then
    out=$(rcli "$host" "$port" "" PING) || true
    if [[ $out == *NOAUTH* ]]; then report OK "PING without the sentinels' password is refused (NOAUTH)"; else report FAIL "PING without the sentinels' password: expected NOAUTH, got: $(head -n1 <<<"$out")"; fi
  else
    report WARN "the sentinels have no password of their own: whoever reaches $host:$port can reconfigure them"
  fi
  info=$(scli "$host" "$port" INFO server)
  if [[ $(info_field "$info" redis_mode) == sentinel && $(info_field "$info" config_file) == "$config" ]]; then
    report OK "it is a sentinel running from $config"
  else
    report FAIL "mode '$(info_field "$info" redis_mode)', config '$(info_field "$info" config_file)': not a sentinel running from $config"
  fi
  read -r mip mport mflags < <(entries "$(scli "$host" "$port" SENTINEL MASTER "$name")" ip port flags) || true
  if [[ -z ${mip:-} || $mip == - ]]; then
    report FAIL "the sentinel monitors no master named '$name' (SENTINEL MASTERS lists what it does)"
    finish_check
  fi
  if [[ $mflags == master ]]; then report OK "master '$name' is $mip:$mport (flags $mflags)"; else report FAIL "master '$name' $mip:$mport has flags $mflags"; fi
  out=$(rcli "$mip" "$mport" "$password" ROLE | head -n1) || true
  if [[ $out == master ]]; then
    report OK "the master $mip:$mport answers with the data nodes' password and says ROLE master"
  else
    report FAIL "the master $mip:$mport: ROLE with the data nodes' password answers '${out:0:80}'"
  fi
  v=$(config_value "$mip" "$mport" "$password" min-replicas-to-write) || v="?"
  if [[ $v =~ ^[1-9] ]]; then
    report OK "the master has min-replicas-to-write $v"
  else
    report WARN "the master has min-replicas-to-write '$v': set it to 1 (setup.sh --role) so a cut-off master stops taking records"
  fi
  check_replicas "$mip" "$mport"
  check_sentinels "$mip" "$mport"
  out=$(scli "$host" "$port" SENTINEL CKQUORUM "$name" | head -n1) || true
  if [[ $out == OK* ]]; then report OK "quorum: ${out#OK }"; else report FAIL "quorum: ${out:0:200}"; fi
  if [[ -f $config ]]; then
    v=$(stat -c %a "$config")
    if ((8#$v & 8#007)); then report FAIL "$config is mode $v: it holds the passwords, make it 640"; else report OK "$config is mode $v"; fi
  fi
  finish_check
}
finish_check() {
  if ((fails)); then
    echo "$prog: $fails check(s) FAILED"
    exit 1
  fi
  echo "$prog: all checks OK"
  exit 0
}
((!check)) || run_check

# ==== set-up ==========================================================================================
changes=()
changed() { changes+=("$1"); say "$1"; }
echo "$prog: setting up the sentinel of $config (start mode: $start_mode)"
say "data nodes' password from $password_source; sentinels' password from ${spassword_source:-nowhere}"
[[ -n $spassword ]] || warn "no sentinels' password (LOGSHIP_SENTINEL_PASSWORD or --sentinel-password-file): whoever reaches port $port can reconfigure the sentinel"

# 1. The package: the systemd service needs redis-sentinel; a direct start, redis-server --sentinel.
need_package=0
if [[ $start_mode == systemd ]]; then
  systemctl cat redis-sentinel.service >/dev/null 2>&1 || need_package=1
elif ! command -v redis-sentinel >/dev/null && ! command -v redis-server >/dev/null; then
  need_package=1
fi
if ((need_package)); then
  command -v apt-get >/dev/null || die "redis-sentinel is not installed and apt-get is not available"
  say "installing redis-sentinel with apt-get"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-sentinel redis-tools
  changed "installed redis-sentinel"
fi
[[ -f $config ]] || die "$config does not exist (install redis-sentinel, or copy its sentinel.conf there first)"
if command -v redis-sentinel >/dev/null; then server_cmd=(redis-sentinel) sentinel_flag=(); else server_cmd=(redis-server) sentinel_flag=(--sentinel); fi

# 2. What runs now, found through the current config.
old_port=$(conf_get port)
old_port=${old_port:-26379}
old_host=$(bind_host "$(conf_get bind)")
old_spassword=$(conf_unquote "$(conf_get requirepass)")
running=0 server_password="" server_pid=""
for pw in "$spassword" "$old_spassword" ""; do
  out=$(rcli "$old_host" "$old_port" "$pw" PING) || true
  if [[ $out == PONG ]]; then
    running=1 server_password=$pw
    break
  fi
  [[ $out == *NOAUTH* || $out == *WRONGPASS* || $out == *"AUTH failed"* ]] || break
done
if ((running)); then
  info=$(rcli "$old_host" "$old_port" "$server_password" INFO server)
  [[ $(info_field "$info" config_file) == "$config" && $(info_field "$info" redis_mode) == sentinel ]] ||
    die "the server on $old_host:$old_port is not a sentinel running from $config; refusing to touch it"
  server_pid=$(info_field "$info" process_id)
fi
if [[ $start_mode == systemd ]] && systemctl is-active --quiet redis-sentinel; then running=1; fi

# 3. The new config: only these keys change, every other line is kept.
lines=()
mapfile -t lines <"$config"
if [[ $name != mymaster ]] && [[ " $(conf_norm "$(conf_get "sentinel monitor mymaster")") " == " 127.0.0.1 6379 2 " ]]; then
  del_key "sentinel [A-Za-z-]+ mymaster" # the package's example master
  say "dropped the package's example master 'mymaster' (127.0.0.1 6379) from $config"
fi
set_key port "$port"
set_key bind "$bind"
if [[ -n $spassword ]]; then
  before=("${lines[@]}")
  set_key requirepass "$spassword"
  # Sentinel saves its password as a `user default ... #SHA256` line too, which would win over a new one.
  [[ ${before[*]} == "${lines[*]}" ]] || del_key "user default"
fi
monitored=$(conf_norm "$(conf_get "sentinel monitor $name")")
if [[ -n $monitored ]]; then
  read -r mon_host mon_port _ <<<"$monitored"
  [[ "$mon_host $mon_port" == "$master_host $master_port" ]] ||
    say "'$name' is monitored at $mon_host $mon_port, not $master_host $master_port: left as it is (a failover moved it; the sentinels own it now)"
  set_key "sentinel monitor $name" "$mon_host $mon_port $quorum"
else
  set_key "sentinel monitor $name" "$master_host $master_port $quorum"
fi
ip_re='^[0-9.]+$|:'
[[ $master_host =~ $ip_re ]] || set_key "sentinel resolve-hostnames" yes
set_key "sentinel auth-pass $name" "$password"
set_key "sentinel down-after-milliseconds $name" "$down_after"
set_key "sentinel failover-timeout $name" "$failover_timeout"

stop_sentinel() {
  if [[ $start_mode == systemd ]]; then systemctl stop redis-sentinel; else stop_direct; fi
}
start_sentinel() {
  if [[ $start_mode == systemd ]]; then
    systemctl start redis-sentinel
    password=$spassword wait_ready
  else
    password=$spassword start_direct "${sentinel_flag[@]}"
  fi
}
tmp=$(mktemp "$config.XXXXXX")
printf '%s\n' "${lines[@]}" >"$tmp"
config_changed=0
cmp -s "$tmp" "$config" || config_changed=1
rm -f "$tmp"
# A running sentinel rewrites its file itself: stop it before writing, start it after.
if ((config_changed && running && !no_start)); then
  stop_sentinel
  say "stopped the sentinel to rewrite $config"
fi
if write_config; then
  changed "wrote $config: port $port, bind $bind, sentinel monitor/auth-pass/down-after-milliseconds/failover-timeout for '$name'${spassword:+, requirepass}"
else
  say "$config already has the wanted settings: unchanged"
fi
secure_config

# 4. Start, or restart when the config changed.
if ((no_start)); then
  ((!running || !config_changed)) || warn "the running sentinel still uses the old settings: restart it"
  say "--no-start: not starting or restarting the sentinel"
elif ((!running || config_changed)); then
  start_sentinel
  changed "$( ((running)) && echo restarted || echo started) the sentinel"
else
  say "the sentinel is running with this config; no restart"
fi
if ((!no_start)) && [[ $start_mode == systemd ]] && ! systemctl is-enabled --quiet redis-sentinel 2>/dev/null; then
  systemctl enable --quiet redis-sentinel
  changed "enabled redis-sentinel.service at boot"
fi

# 5. How Logship reaches it.
cat <<EOF

Logship: one URL per sentinel in --broker (or LOGSHIP_BROKER), this one being
  redis-sentinel://$host:$port/$name
(use an address the programs reach), the data nodes' password in LOGSHIP_PASSWORD or --password-file,
the sentinels' in LOGSHIP_SENTINEL_PASSWORD. Check the whole set-up: deploy/redis/sentinel.sh --check

EOF
if ((${#changes[@]} == 0)); then
  say "nothing changed: everything was already set up"
else
  say "done: ${#changes[@]} change(s)"
fi
