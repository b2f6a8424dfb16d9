#!/usr/bin/env bash
# Sets up a production RabbitMQ broker for Logship, idempotently: installs rabbitmq-server if it is
# missing, enables the management plugin, sets the AMQP listener in rabbitmq.conf, starts the server
# (restarting it only when that file changed), creates the Logship user (password, vhost, permissions,
# `management` tag) and declares the durable queue with logctl. Running it again changes nothing.
# `--check` only verifies all of that (one OK/FAIL line per step; exit 0 when all are OK).
# The password comes from env LOGSHIP_RABBITMQ_PASSWORD or --password-file, never from the command
# line, and is never printed. Honours RABBITMQ_NODENAME, RABBITMQ_CONFIG_FILE, RABBITMQ_MNESIA_BASE,
# RABBITMQ_LOG_BASE, RABBITMQ_ENABLED_PLUGINS_FILE and RABBITMQ_DIST_PORT. See deploy/README.md.
set -euo pipefail

prog=rabbitmq-setup
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() {
  cat <<'EOF'
Usage: deploy/rabbitmq/setup.sh [OPTIONS]          set up (idempotent; must run as root)
       deploy/rabbitmq/setup.sh --check [OPTIONS]  verify the set-up, one OK/FAIL line per step

Password: env LOGSHIP_RABBITMQ_PASSWORD, or --password-file FILE (first line). Never on the command line.

Options:
  --user NAME           broker user for producers and aggregators (default: logship)
  --vhost NAME          virtual host (default: /)
  --port PORT           AMQP port: listeners.tcp.default in rabbitmq.conf (default: 5672)
  --listen ADDR         listen on ADDR only (listeners.tcp.default = ADDR:PORT; also sets
                        management.tcp.ip = ADDR); default: all interfaces
  --mgmt-port PORT      management UI/API port (management.tcp.port; default: left as is, i.e. 15672)
  --queue NAME          queue to declare durable (default: logs_queue)
  --config FILE         rabbitmq.conf to edit (default: $RABBITMQ_CONFIG_FILE[.conf], else
                        /etc/rabbitmq/rabbitmq.conf)
  --node NAME           node name for rabbitmqctl -n (default: $RABBITMQ_NODENAME, else rabbitmqctl's)
  --password-file FILE  read the user's password from FILE instead of LOGSHIP_RABBITMQ_PASSWORD
  --logctl PATH         logctl binary (default: logctl on PATH, else ../../build/bin/logctl)
  --no-start            only install and edit files; do not start the server, create the user or
                        declare the queue
  --check               verify instead of changing anything; exit 0 if every check is OK, 1 if not
  -h, --help            this help

The server is started with systemctl when systemd runs and the default instance is targeted (no
--node/--config and no RABBITMQ_* variables set); otherwise rabbitmq-server is started directly in
the background (output in $RABBITMQ_LOG_BASE/logship-setup-server.out).
Exit status: 0 done / all checks OK, 1 failure / a check failed, 2 bad usage.
EOF
}

say() { echo "$prog: $*"; }
warn() { echo "$prog: warning: $*" >&2; }
die() { echo "$prog: error: $*" >&2; exit 1; }
die_usage() { echo "$prog: error: $* (see --help)" >&2; exit 2; }

# ---- options --------------------------------------------------------------------------------------
user=logship vhost=/ port=5672 port_given=0 listen="" mgmt_port="" queue=logs_queue config=""
node="" password_file="" logctl="" no_start=0 check=0

while (($#)); do
  opt=$1 val="" has_val=0
  if [[ $opt == --*=* ]]; then val=${opt#*=} opt=${opt%%=*} has_val=1; fi
  case $opt in
    --user | --vhost | --port | --listen | --mgmt-port | --queue | --config | --node | --password-file | --logctl)
      if ((!has_val)); then
        (($# >= 2)) || die_usage "$opt needs a value"
        val=$2
        shift
      fi
      case $opt in
        --user) user=$val ;;
        --vhost) vhost=$val ;;
        --port) port=$val port_given=1 ;;
        --listen) listen=$val ;;
        --mgmt-port) mgmt_port=$val ;;
        --queue) queue=$val ;;
        --config) config=$val ;;
        --node) node=$val ;;
        --password-file) password_file=$val ;;
        --logctl) logctl=$val ;;
      esac
      ;;
    --no-start | --check | -h | --help)
      ((!has_val)) || die_usage "$opt takes no value"
      case $opt in
        --no-start) no_start=1 ;;
        --check) check=1 ;;
        -h | --help) usage; exit 0 ;;
      esac
      ;;
    --password)
      die_usage "--password is not accepted: a password on the command line is visible to every user (use env LOGSHIP_RABBITMQ_PASSWORD or --password-file)"
      ;;
    *) die_usage "unknown argument '${opt:0:60}'" ;;
  esac
  shift
done

valid_port() { [[ $1 =~ ^[0-9]{1,5}$ ]] && ((10#$1 >= 1 && 10#$1 <= 65535)); }
valid_port "$port" || die_usage "--port must be a number from 1 to 65535"
[[ -z $mgmt_port ]] || valid_port "$mgmt_port" || die_usage "--mgmt-port must be a number from 1 to 65535"
# Debian's rabbitmqctl wrapper passes arguments through `su -c` (a shell), so names are restricted
# to characters no shell treats specially.
[[ $user =~ ^[A-Za-z0-9._-]{1,64}$ ]] || die_usage "--user: use 1-64 letters, digits, '.', '_' or '-'"
[[ $vhost =~ ^[A-Za-z0-9._/-]{1,64}$ ]] || die_usage "--vhost: use 1-64 letters, digits, '.', '_', '-' or '/'"
[[ $queue =~ ^[A-Za-z0-9._:-]{1,200}$ && $queue != amq.* ]] ||
  die_usage "--queue: use letters, digits, '.', '_', ':' or '-' (not starting with 'amq.')"
[[ -z $listen || $listen =~ ^[0-9A-Fa-f.:]{2,45}$ ]] || die_usage "--listen must be an IPv4 or IPv6 address"
[[ -z $node || $node =~ ^[A-Za-z0-9._-]+(@[A-Za-z0-9._-]+)?$ ]] || die_usage "--node: expected NAME or NAME@HOST"
[[ -z $password_file || -r $password_file ]] || die_usage "--password-file $password_file: not a readable file"
[[ -z $logctl || -x $logctl ]] || die_usage "--logctl $logctl: not an executable file"

((EUID == 0)) || die "must run as root (it installs packages, edits ${config:-/etc/rabbitmq/rabbitmq.conf} and runs rabbitmqctl)"

# ---- the password: never in argv, never printed, not passed on to the server's environment --------
password="" password_source=""
if [[ -n $password_file ]]; then
  IFS= read -r password <"$password_file" || true # the first line; a missing final newline is fine
  password=${password%$'\r'}
  password_source="--password-file"
  [[ -n $password ]] || die_usage "--password-file $password_file: the first line is empty"
elif [[ -n ${LOGSHIP_RABBITMQ_PASSWORD:-} ]]; then
  password=$LOGSHIP_RABBITMQ_PASSWORD
  password_source="LOGSHIP_RABBITMQ_PASSWORD"
fi
unset LOGSHIP_RABBITMQ_PASSWORD
if [[ -n $password ]]; then
  # rabbitmqctl reads the password from stdin and trims surrounding whitespace.
  [[ $password != *[[:cntrl:]]* ]] || die_usage "the password must not contain control characters"
  [[ $password =~ ^[^[:space:]](.*[^[:space:]])?$ ]] ||
    die_usage "the password must not start or end with whitespace (rabbitmqctl would trim it)"
fi
if ((!check && !no_start)) && [[ -z $password ]]; then
  die_usage "no password: set env LOGSHIP_RABBITMQ_PASSWORD or use --password-file FILE"
fi

# ---- where things are -------------------------------------------------------------------------------
if [[ -z $config ]]; then
  if [[ -n ${RABBITMQ_CONFIG_FILE:-} ]]; then
    config=$RABBITMQ_CONFIG_FILE
    [[ $config != *.config ]] || die "RABBITMQ_CONFIG_FILE=$config is the classic Erlang format; only rabbitmq.conf (sysctl format) is supported"
    [[ $config == *.conf ]] || config+=.conf # given without the suffix, as rabbitmq-server accepts it
  else
    config=/etc/rabbitmq/rabbitmq.conf
  fi
fi
[[ $config == *.conf ]] || die_usage "--config $config: the file name must end in .conf"
config=$(realpath -m -- "$config")
plugins_file=${RABBITMQ_ENABLED_PLUGINS_FILE:-/etc/rabbitmq/enabled_plugins}
log_base=${RABBITMQ_LOG_BASE:-/var/log/rabbitmq}
if [[ -n $node ]]; then export RABBITMQ_NODENAME=$node; fi
node_label=${RABBITMQ_NODENAME:-the default node}

# The default instance under systemd is managed by systemctl; anything else is started directly.
custom=()
for v in RABBITMQ_NODENAME RABBITMQ_CONFIG_FILE RABBITMQ_MNESIA_BASE RABBITMQ_LOG_BASE \
  RABBITMQ_ENABLED_PLUGINS_FILE RABBITMQ_DIST_PORT; do
  [[ -z ${!v:-} ]] || custom+=("$v")
done
[[ $config == /etc/rabbitmq/rabbitmq.conf ]] || custom+=("--config")
if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null && ((${#custom[@]} == 0)); then
  start_mode=systemd
else
  start_mode=direct
fi

# The address clients on this machine use: the listen address, or loopback for a wildcard.
connect_host() {
  local a=$1
  case $a in "" | 0.0.0.0) echo 127.0.0.1 ;; :: | "::0") echo ::1 ;; *) echo "$a" ;; esac
}
url_host() { if [[ $1 == *:* ]]; then echo "[$1]"; else echo "$1"; fi; }
vhost_path() { if [[ $vhost == / ]]; then echo ""; else echo "${vhost//\//%2f}"; fi; }

ctl() { rabbitmqctl -q ${node:+-n "$node"} "$@"; }
plugins() { rabbitmq-plugins ${node:+-n "$node"} "$@"; }
node_running() { ctl ping >/dev/null 2>&1; }

find_logctl() {
  if [[ -n $logctl ]]; then echo "$logctl"; return 0; fi
  if command -v logctl >/dev/null; then command -v logctl; return 0; fi
  if [[ -x $script_dir/../../build/bin/logctl ]]; then realpath "$script_dir/../../build/bin/logctl"; return 0; fi
  return 1
}

# Value of KEY in the config file ("" when absent); the last active line wins.
conf_get() {
  local key=$1 line value=""
  [[ -f $config ]] || { echo ""; return 0; }
  while IFS= read -r line || [[ -n $line ]]; do
    if [[ $line =~ ^[[:space:]]*${key//./\\.}[[:space:]]*=[[:space:]]*(.*[^[:space:]])[[:space:]]*$ ]]; then
      value=${BASH_REMATCH[1]}
    fi
  done <"$config"
  echo "$value"
}

mgmt_enabled() {
  if node_running; then
    plugins list --enabled --minimal 2>/dev/null | grep -x rabbitmq_management >/dev/null
  else
    [[ -f $plugins_file ]] && grep -qw rabbitmq_management "$plugins_file"
  fi
}

# ==== --check =========================================================================================
if ((check)); then
  fails=0
  report() { # STATUS TEXT
    printf '%-4s %s\n' "$1" "$2"
    if [[ $1 == FAIL ]]; then fails=$((fails + 1)); fi
  }
  echo "$prog: checking $node_label (config $config)"
  command -v rabbitmqctl >/dev/null || { report FAIL "rabbitmq-server is not installed"; exit 1; }

  running=0
  if node_running; then
    running=1
    report OK "node is running ($node_label answers rabbitmqctl ping)"
  else
    report FAIL "node is not running ($node_label does not answer rabbitmqctl ping)"
  fi

  # Listener: the config line, and something answering on that address.
  listener=$(conf_get listeners.tcp.default)
  if ((port_given)) || [[ -n $listen ]]; then
    want=$port
    [[ -z $listen ]] || want=$listen:$port
  else
    want=$listener
  fi
  if [[ -z $listener ]]; then
    report FAIL "listener: no 'listeners.tcp.default' in $config"
  elif [[ $listener != "$want" ]]; then
    report FAIL "listener: $config has 'listeners.tcp.default = $listener', expected '$want'"
  else
    lport=${listener##*:}
    laddr=""
    [[ $listener != *:* ]] || laddr=${listener%:*}
    host=$(connect_host "$laddr")
    if (exec 3<>"/dev/tcp/$host/$lport") 2>/dev/null; then
      report OK "listener: listeners.tcp.default = $listener, accepting connections on $(url_host "$host"):$lport"
    else
      report FAIL "listener: listeners.tcp.default = $listener, but nothing accepts connections on $(url_host "$host"):$lport"
    fi
  fi
  [[ -n ${lport:-} ]] || lport=$port
  host=$(connect_host "${laddr-$listen}")

  if mgmt_enabled; then
    report OK "management plugin is enabled"
    mport=${mgmt_port:-$(conf_get management.tcp.port)}
    mport=${mport:-15672}
    mhost=$(connect_host "$(conf_get management.tcp.ip)")
    api="http://$(url_host "$mhost"):$mport/api/overview"
    if ! command -v curl >/dev/null; then
      report SKIP "management API: curl is not installed"
    elif ((!running)); then
      report FAIL "management API: node not running"
    else
      # The credentials go to curl on stdin (a config file), not on its command line.
      esc=${password//\\/\\\\}
      esc=${esc//\"/\\\"}
      code=$( { [[ -z $password ]] || printf 'user = "%s:%s"\n' "$user" "$esc"; } |
        curl -s -o /dev/null -m 10 -w '%{http_code}' -K - "$api" 2>/dev/null) || true
      if [[ -n $password && $code == 200 ]]; then
        report OK "management API answers on $api (user '$user' logged in)"
      elif [[ -z $password && $code =~ ^[1-5][0-9][0-9]$ ]]; then
        report OK "management API answers on $api (HTTP $code; no password given, login not tried)"
      else
        # shellcheck disable=SC2016 # the quotes around the user name are literal
        report FAIL "management API on $api: ${code:-no answer}${password:+ (as user '$user')}"
      fi
    fi
  else
    report FAIL "management plugin is not enabled (rabbitmq-plugins enable rabbitmq_management)"
  fi

  if ((running)); then
    if ctl list_vhosts --no-table-headers 2>/dev/null | grep -xF -- "$vhost" >/dev/null; then
      report OK "vhost '$vhost' exists"
    else
      report FAIL "vhost '$vhost' does not exist"
    fi
    tags=$(ctl list_users --no-table-headers 2>/dev/null | awk -F'\t' -v u="$user" '$1 == u { print $2; f = 1 } END { exit !f }') &&
      have_user=1 || have_user=0
    if ((have_user)); then
      if [[ $tags =~ (^|[^a-z_])management([^a-z_]|$) || $tags == *administrator* ]]; then
        report OK "user '$user' exists, tags $tags"
      else
        report FAIL "user '$user' exists but is not tagged 'management' (tags $tags)"
      fi
      perms=$(ctl list_user_permissions "$user" --no-table-headers 2>/dev/null |
        awk -F'\t' -v v="$vhost" '$1 == v { print $2 " " $3 " " $4 }')
      if [[ $perms == ".* .* .*" ]]; then
        report OK "user '$user' may configure, write and read everything on vhost '$vhost'"
      else
        report FAIL "user '$user' permissions on vhost '$vhost': ${perms:-none} (expected .* .* .*)"
      fi
    else
      report FAIL "user '$user' does not exist"
    fi
    row=$(ctl list_queues -p "$vhost" name durable messages --no-table-headers 2>/dev/null |
      awk -F'\t' -v q="$queue" '$1 == q { print $2 " " $3 }') || true
    if [[ -z $row ]]; then
      report FAIL "queue '$queue' does not exist on vhost '$vhost'"
    elif [[ ${row%% *} == true ]]; then
      report OK "queue '$queue' is durable, ${row#* } message(s) waiting"
    else
      report FAIL "queue '$queue' exists but is not durable"
    fi
  else
    report FAIL "vhost, user, permissions and queue: not checked, the node is not running"
  fi

  # Logging in over AMQP, as producers and aggregators do.
  if [[ -z $password ]]; then
    report FAIL "login: no password given (set LOGSHIP_RABBITMQ_PASSWORD or --password-file), cannot try it"
  elif lc=$(find_logctl); then
    url="amqp://$user@$(url_host "$host"):$lport/$(vhost_path)"
    # --management-url off: this checks the AMQP login itself (the API is checked above with curl).
    if out=$(LOGSHIP_PASSWORD=$password "$lc" status --broker "$url" --queue "$queue" --retry-seconds 0 \
      --management-url off 2>&1); then
      report OK "user '$user' logs in over AMQP ($url, logctl status)"
    else
      report FAIL "user '$user' cannot use $url: $(printf '%s\n' "$out" | grep -m1 -i 'error\|missing' || echo "logctl status failed")"
    fi
  elif ((running)); then
    if printf '%s\n' "$password" | ctl authenticate_user "$user" >/dev/null 2>&1; then
      report OK "password of '$user' accepted (rabbitmqctl authenticate_user; logctl not found, AMQP login not tried)"
    else
      report FAIL "password of '$user' rejected (rabbitmqctl authenticate_user)"
    fi
  else
    report FAIL "login: logctl not found and the node is not running"
  fi

  if ((running)) && ctl list_users --no-table-headers 2>/dev/null | cut -f1 | grep -x guest >/dev/null; then
    echo "note: the 'guest' user exists; it can only log in from localhost (consider deleting it)"
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

echo "$prog: setting up $node_label (config $config, start mode: $start_mode${custom[*]:+, custom instance: ${custom[*]}})"
[[ -z $password ]] || say "password from $password_source"

# 1. The package.
if ! command -v rabbitmq-server >/dev/null || ! command -v rabbitmqctl >/dev/null; then
  command -v apt-get >/dev/null || die "rabbitmq-server is not installed and apt-get is not available"
  say "installing rabbitmq-server with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  policy_made=0
  if [[ $start_mode != systemd && ! -e /usr/sbin/policy-rc.d ]]; then
    # Without an init system the package's own service start fails; keep it from trying.
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    policy_made=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get install -y -qq --no-install-recommends rabbitmq-server
  if ((policy_made)); then rm -f /usr/sbin/policy-rc.d; trap - EXIT; fi
  changed "installed rabbitmq-server"
fi

# 2. rabbitmq.conf: only the listener keys change; every other line is kept as it is.
lines=()
if [[ -f $config ]]; then mapfile -t lines <"$config"; fi
set_key() { # KEY VALUE: replace the first active "KEY = ..." line, drop later ones, or append
  local key=$1 new="$1 = $2" re l found=0 kept=()
  re="^[[:space:]]*${key//./\\.}[[:space:]]*="
  for l in "${lines[@]}"; do
    if [[ $l =~ $re ]]; then
      ((found)) && continue
      found=1 l=$new
    fi
    kept+=("$l")
  done
  ((found)) || kept+=("$new")
  lines=("${kept[@]}")
}
set_key listeners.tcp.default "${listen:+$listen:}$port"
if [[ -n $listen ]]; then set_key management.tcp.ip "$listen"; fi
if [[ -n $mgmt_port ]]; then set_key management.tcp.port "$mgmt_port"; fi

config_changed=0
mkdir -p "$(dirname "$config")"
tmp=$(mktemp "$config.XXXXXX")
trap 'rm -f "$tmp"' EXIT
printf '%s\n' "${lines[@]}" >"$tmp"
if [[ -f $config ]] && cmp -s "$tmp" "$config"; then
  rm -f "$tmp"
  say "$config already has ${listen:+$listen:}$port as listeners.tcp.default: unchanged"
else
  if [[ -f $config ]]; then
    cp -p "$config" "$config.logship-setup.bak"
    chown --reference="$config" "$tmp"
    chmod --reference="$config" "$tmp"
  else
    chmod 644 "$tmp"
    if id rabbitmq >/dev/null 2>&1; then chown rabbitmq:rabbitmq "$tmp"; fi
  fi
  mv -f "$tmp" "$config"
  config_changed=1
  changed "wrote $config: listeners.tcp.default = ${listen:+$listen:}$port${mgmt_port:+, management.tcp.port = $mgmt_port}${listen:+, management.tcp.ip = $listen}"
fi
trap - EXIT
if grep -E '^[[:space:]]*listeners\.tcp\.' "$config" | grep -Ev '^[[:space:]]*listeners\.tcp\.default[[:space:]]*=' >/dev/null; then
  warn "$config has other listeners.tcp.* lines; the node listens on those too"
fi
if grep -Eq '^[[:space:]]*loopback_users([.[:space:]=])' "$config"; then
  warn "$config sets loopback_users: make sure 'guest' is not allowed to log in remotely"
fi

# 3. The management plugin (online when the node runs, else --offline: it takes effect at start).
running=0
if node_running; then running=1; fi
if mgmt_enabled; then
  say "management plugin already enabled"
elif ((running)); then
  plugins enable rabbitmq_management >/dev/null
  changed "enabled the management plugin"
else
  plugins enable --offline rabbitmq_management >/dev/null
  changed "enabled the management plugin (offline: takes effect when the node starts)"
fi

if ((no_start)); then
  if ((running && config_changed)); then
    warn "the node is running with the old $config: restart it for the change to take effect"
  fi
  say "--no-start: not starting the server, not creating the user, not declaring the queue"
  exit 0
fi

# 4. Start, or restart when the config changed.
wait_for_node() { # PID-of-direct-start OUTPUT-FILE  (both "" under systemd)
  local pid=$1 out=$2 deadline=$((SECONDS + 180))
  # await_startup fails at once while the node is not yet registered with epmd: poll ping first.
  until node_running; do
    if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
      echo "$prog: error: rabbitmq-server exited during start-up; last lines of $out:" >&2
      tail -n 20 "$out" >&2 || true
      exit 1
    fi
    ((SECONDS < deadline)) || die "$node_label did not answer within 180 s${out:+; see $out}"
    sleep 1
  done
  ctl await_startup --timeout 180 >/dev/null
}

start_direct() {
  local out=$log_base/logship-setup-server.out pid
  mkdir -p "$log_base"
  if [[ -n ${RABBITMQ_MNESIA_BASE:-} && ! -d $RABBITMQ_MNESIA_BASE ]]; then
    mkdir -p "$RABBITMQ_MNESIA_BASE"
    chown rabbitmq:rabbitmq "$RABBITMQ_MNESIA_BASE" "$log_base" 2>/dev/null || true
  fi
  export RABBITMQ_CONFIG_FILE=$config
  setsid rabbitmq-server >"$out" 2>&1 </dev/null &
  pid=$!
  say "started rabbitmq-server in the background (pid $pid, output in $out)"
  wait_for_node "$pid" "$out"
}

stop_direct() {
  ctl stop >/dev/null || true
  local deadline=$((SECONDS + 120))
  while node_running; do
    ((SECONDS < deadline)) || die "$node_label did not stop within 120 s"
    sleep 1
  done
}

if [[ $start_mode == systemd ]]; then
  if ! systemctl is-enabled --quiet rabbitmq-server 2>/dev/null; then
    systemctl enable --quiet rabbitmq-server
    changed "enabled rabbitmq-server.service at boot"
  fi
  if ((running && config_changed)); then
    systemctl restart rabbitmq-server
    wait_for_node "" ""
    changed "restarted rabbitmq-server.service (its config changed)"
  elif ((!running)); then
    systemctl start rabbitmq-server
    wait_for_node "" ""
    changed "started rabbitmq-server.service"
  else
    say "$node_label is running; config unchanged, no restart"
  fi
else
  if ((running && config_changed)); then
    say "restarting $node_label (its config changed)"
    stop_direct
    start_direct
    changed "restarted $node_label"
  elif ((!running)); then
    start_direct
    changed "started $node_label"
  else
    say "$node_label is running; config unchanged, no restart"
  fi
fi

# 5. Vhost, user, password, permissions, tag. The password reaches rabbitmqctl on stdin (3.10 reads
#    it from there when the argument is omitted), never as an argument.
if ctl list_vhosts --no-table-headers | grep -xF -- "$vhost" >/dev/null; then
  say "vhost '$vhost' already exists"
else
  ctl add_vhost "$vhost" >/dev/null
  changed "created vhost '$vhost'"
fi

if ctl list_users --no-table-headers | cut -f1 | grep -xF -- "$user" >/dev/null; then
  if printf '%s\n' "$password" | ctl authenticate_user "$user" >/dev/null 2>&1; then
    say "user '$user' already exists with this password"
  else
    printf '%s\n' "$password" | ctl change_password "$user" >/dev/null
    changed "updated the password of user '$user'"
  fi
else
  printf '%s\n' "$password" | ctl add_user "$user" >/dev/null
  changed "created user '$user'"
fi

perms=$(ctl list_user_permissions "$user" --no-table-headers | awk -F'\t' -v v="$vhost" '$1 == v { print $2 " " $3 " " $4 }')
if [[ $perms == ".* .* .*" ]]; then
  say "user '$user' already has full permissions on vhost '$vhost'"
else
  ctl set_permissions -p "$vhost" "$user" ".*" ".*" ".*" >/dev/null
  changed "granted user '$user' configure/write/read '.*' on vhost '$vhost'"
fi

tags=$(ctl list_users --no-table-headers | awk -F'\t' -v u="$user" '$1 == u { print $2 }')
tags=${tags#[}
tags=${tags%]}
if [[ ", $tags, " == *", management, "* ]]; then
  say "user '$user' already tagged 'management'"
else
  read -r -a tag_list <<<"${tags//,/ }"
  ctl set_user_tags "$user" "${tag_list[@]}" management >/dev/null
  changed "tagged user '$user' 'management'${tags:+ (kept: $tags)}"
fi

# 6. The durable queue (and its dead-letter queue, its topic exchange and the queue's binding to
# it), declared by logctl as the user itself.
queues=$(ctl list_queues -p "$vhost" name durable --no-table-headers)
exchange=$queue.logs
[[ "$queue" == logs_queue ]] && exchange=logs
bindings=$(ctl list_bindings -p "$vhost" source_name destination_name routing_key --no-table-headers)
if grep -qxF "$queue"$'\t'true <<<"$queues" && grep -qxF "$queue.dead"$'\t'true <<<"$queues" &&
   grep -qxF "$exchange"$'\t'"$queue"$'\t#' <<<"$bindings"; then
  say "queue '$queue' (and '$queue.dead', bound to exchange '$exchange') already declared durable"
else
  lc=$(find_logctl) || die "logctl not found: pass --logctl PATH, put it on PATH or build the project (build/bin/logctl)"
  url="amqp://$user@$(url_host "$(connect_host "$listen")"):$port/$(vhost_path)"
  LOGSHIP_PASSWORD=$password "$lc" setup --broker "$url" --queue "$queue" --retry-seconds 30 ||
    die "logctl setup failed (see above)"
  changed "declared durable queue '$queue' (bound to topic exchange '$exchange') on vhost '$vhost'"
fi

# 7. The guest user.
echo
echo "NOTE: the default 'guest' user (password 'guest') can only log in from localhost: RabbitMQ's"
echo "      loopback_users setting refuses it from any other address. Producers and aggregators on"
echo "      other machines must use '$user'. Either delete guest (rabbitmqctl delete_user guest) or keep"
echo "      it for local administration only; never set 'loopback_users = none'."
if ctl list_users --no-table-headers | cut -f1 | grep -x guest >/dev/null; then
  echo "      'guest' exists on $node_label."
fi
echo

if ((${#changes[@]} == 0)); then
  say "nothing changed: everything was already set up"
else
  say "done: ${#changes[@]} change(s)"
fi
say "verify with: $0 --check${node:+ --node $node} --user $user --vhost $vhost${listen:+ --listen $listen} --port $port${password_file:+ --password-file $password_file}"
