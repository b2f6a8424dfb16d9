# shellcheck shell=bash disable=SC2154,SC2034 # the callers set prog, config, host, port, ...; read hp_*, pw_*
# Shared by deploy/redis/setup.sh and deploy/redis/sentinel.sh (sourced; not run on its own). The
# caller sets `prog` (message prefix) and `config` (the file edited), and for set_key the array
# `lines`; changed() is the caller's.

say() { echo "$prog: $*"; }
warn() { echo "$prog: warning: $*" >&2; }
die() { echo "$prog: error: $*" >&2; exit 1; }
die_usage() { echo "$prog: error: $* (see --help)" >&2; exit 2; }

# ---- redis.conf helpers -------------------------------------------------------------------------------
# A value as redis.conf writes it: bare when that is unambiguous, else double-quoted with escapes.
conf_quote() {
  local s=$1
  if [[ $s =~ ^[A-Za-z0-9._~+/=:@%^!,-]+$ ]]; then
    printf '%s' "$s"
  else
    s=${s//\\/\\\\}
    s=${s//\"/\\\"}
    printf '"%s"' "$s"
  fi
}
# The inverse, for one value (as Redis's own parser reads "..." and '...').
conf_unquote() {
  local s=$1 out="" c i=1 n
  n=${#s}
  if [[ $s == \"*\" && $n -ge 2 ]]; then
    while ((i < n - 1)); do
      c=${s:i:1}
      if [[ $c == \\ ]] && ((i + 1 < n - 1)); then
        i=$((i + 1))
        c=${s:i:1}
        case $c in
          n) c=$'\n' ;;
          r) c=$'\r' ;;
          t) c=$'\t' ;;
          b) c=$'\b' ;;
          a) c=$'\a' ;;
          x) if [[ ${s:i+1:2} =~ ^[0-9A-Fa-f]{2}$ ]]; then printf -v c '%b' "\\x${s:i+1:2}"; i=$((i + 2)); fi ;;
        esac
      fi
      out+=$c
      i=$((i + 1))
    done
    printf '%s' "$out"
  elif [[ $s == \'*\' && $n -ge 2 ]]; then
    s=${s:1:n-2}
    printf '%s' "${s//\\\'/\'}"
  else
    printf '%s' "$s"
  fi
}
# Raw value of KEY (case-insensitive) in the config file, "" if absent; the last active line wins.
conf_get() {
  local key=${1// /[[:space:]]+} line value=""
  [[ -f $config ]] || { echo ""; return 0; }
  shopt -s nocasematch
  while IFS= read -r line || [[ -n $line ]]; do
    if [[ $line =~ ^[[:space:]]*${key}[[:space:]]+(.*[^[:space:]])[[:space:]]*$ ]]; then
      value=${BASH_REMATCH[1]}
    elif [[ $line =~ ^[[:space:]]*${key}[[:space:]]*$ ]]; then
      value=""
    fi
  done <"$config"
  shopt -u nocasematch
  echo "$value"
}
# A host to reach a server bound to BIND from this machine.
bind_host() {
  local first=${1%% *}
  first=${first#-}
  case $first in "" | "*" | 0.0.0.0) echo 127.0.0.1 ;; "::*" | "::") echo ::1 ;; *) echo "$first" ;; esac
}
# redis-cli with the password in REDISCLI_AUTH (never -a): rcli HOST PORT PASSWORD ARGS...
rcli() {
  local h=$1 p=$2 pw=$3
  shift 3
  if [[ -n $pw ]]; then
    REDISCLI_AUTH=$pw timeout 15 redis-cli -h "$h" -p "$p" --no-auth-warning "$@" 2>&1
  else
    timeout 15 redis-cli -h "$h" -p "$p" "$@" 2>&1
  fi
}
info_field() { # INFO-TEXT FIELD
  local line
  while IFS= read -r line; do
    line=${line%$'\r'}
    if [[ $line == "$2:"* ]]; then echo "${line#*:}"; return 0; fi
  done <<<"$1"
  echo ""
}
config_value() { # HOST PORT PASSWORD NAME: the server's CONFIG GET NAME
  local out
  out=$(rcli "$1" "$2" "$3" CONFIG GET "$4") || return 1
  [[ $(head -n1 <<<"$out") == "$4" ]] || return 1
  sed -n 2p <<<"$out"
}

# A value as Redis reads it, to compare: one quoted word unquoted, else the words joined by one space.
conf_norm() {
  local w
  if [[ $1 =~ ^\".*\"$ || $1 =~ ^\'.*\'$ ]]; then
    conf_unquote "$1"
  else
    read -r -a w <<<"$1"
    printf '%s' "${w[*]}"
  fi
}
key_regex() { local k=$1; printf '^[[:space:]]*%s([[:space:]]+(.*[^[:space:]]))?[[:space:]]*$' "${k// /[[:space:]]+}"; }
# KEY VALUE: make the first active "KEY ..." line (any case; KEY may be several words, e.g.
# "sentinel auth-pass logship") say VALUE, drop later ones, or append one. A line whose value already
# reads the same (quoted or not, as Redis' CONFIG REWRITE may have written it) is left as it is.
set_key() {
  local key=$1 new="$1 $2" re l found=0 kept=()
  re=$(key_regex "$key")
  shopt -s nocasematch
  for l in "${lines[@]}"; do
    if [[ $l =~ $re ]]; then
      ((found)) && continue
      found=1
      [[ $(conf_norm "${BASH_REMATCH[2]}") == "$(conf_norm "$2")" ]] || l=$new
    fi
    kept+=("$l")
  done
  shopt -u nocasematch
  ((found)) || kept+=("$new")
  lines=("${kept[@]}")
}
del_key() { # KEY: drop every active "KEY ..." line (any case)
  local re l kept=()
  re=$(key_regex "$1")
  shopt -s nocasematch
  for l in "${lines[@]}"; do [[ $l =~ $re ]] || kept+=("$l"); done
  shopt -u nocasematch
  lines=("${kept[@]}")
}

# Writes the array `lines` to the config if it differs; returns 0 when it wrote. The first write of
# a run keeps the previous file as CONFIG.logship-setup.bak (mode 600: it holds the old password).
backed_up=0
write_config() {
  local tmp
  tmp=$(mktemp "$config.XXXXXX")
  printf '%s\n' "${lines[@]}" >"$tmp"
  if cmp -s "$tmp" "$config"; then
    rm -f "$tmp"
    return 1
  fi
  if ((!backed_up)); then
    (umask 077 && cp -p "$config" "$config.logship-setup.bak")
    chmod 600 "$config.logship-setup.bak"
    backed_up=1
  fi
  chown --reference="$config" "$tmp"
  chmod 640 "$tmp"
  mv -f "$tmp" "$config"
  return 0
}
# The config holds passwords: owned by redis, mode 640 (or one of $secure_modes).
secure_config() {
  local want_owner=""
  if id redis >/dev/null 2>&1; then want_owner=redis:redis; fi
  if [[ -n $want_owner && $(stat -c %U:%G "$config") != "$want_owner" ]]; then
    chown "$want_owner" "$config"
    changed "$config is now owned by $want_owner"
  fi
  if [[ " ${secure_modes:-640} " != *" $(stat -c %a "$config") "* ]]; then
    chmod 640 "$config"
    changed "$config is now mode 640 (it holds the password)"
  fi
}

# Starting and stopping without systemd. They use the caller's globals: config, host, port, password
# (the new settings), daemon (redis-server or redis-sentinel, for messages and the default pid file),
# server_pid, old_host, old_port, server_password (what runs now). start_direct ARGS... runs
# "${server_cmd[@]}" CONFIG ARGS... (default redis-server) with umask 007, as Debian's units do
# (UMask=007): files the server writes, a sentinel's rewritten config among them, are not world-readable.
server_cmd=(redis-server)
wait_ready() {
  local deadline=$((SECONDS + 60)) out log
  while :; do
    out=$(rcli "$host" "$port" "$password" PING) || true
    [[ $out != PONG ]] || return 0
    if ((SECONDS >= deadline)); then
      log=$(conf_unquote "$(conf_get logfile)")
      echo "$prog: error: the server does not answer PING on $host:$port: $out" >&2
      if [[ -n $log && -f $log ]]; then tail -n 15 "$log" >&2; fi
      exit 1
    fi
    sleep 0.2
  done
}
start_direct() {
  local args=("$config" "$@") pidfile daemonize
  daemonize=$(conf_get daemonize)
  pidfile=$(conf_unquote "$(conf_get pidfile)")
  [[ ${daemonize,,} == yes ]] || args+=(--daemonize yes)
  if [[ -z $pidfile ]]; then
    pidfile=/run/redis/$daemon-$port.pid
    args+=(--pidfile "$pidfile")
  fi
  if [[ ! -d $(dirname "$pidfile") ]]; then
    mkdir -p "$(dirname "$pidfile")"
    ! id redis >/dev/null 2>&1 || chown redis:redis "$(dirname "$pidfile")"
  fi
  if id redis >/dev/null 2>&1; then
    (umask 007 && runuser -u redis -- "${server_cmd[@]}" "${args[@]}" </dev/null >/dev/null)
    say "started $daemon $config as user redis (pid file $pidfile)"
  else
    (umask 007 && "${server_cmd[@]}" "${args[@]}" </dev/null >/dev/null)
    say "started $daemon $config (pid file $pidfile)"
  fi
  wait_ready
}
stop_direct() {
  local pid=$server_pid deadline=$((SECONDS + 120))
  if [[ -z $pid ]]; then
    rcli "$old_host" "$old_port" "$server_password" SHUTDOWN >/dev/null || true
  else
    kill -TERM "$pid" 2>/dev/null || true
  fi
  while [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || [[ $(rcli "$old_host" "$old_port" "" PING) =~ PONG|NOAUTH ]]; do
    ((SECONDS < deadline)) || die "the running $daemon did not stop within 120 s"
    sleep 0.2
  done
}

# HOST[:PORT] DEFAULT-PORT WHAT: sets hp_host and hp_port, or exits 2 naming WHAT. HOST is a name or
# an IPv4 address; an IPv6 address goes in brackets ([::1]:6379).
parse_hostport() {
  local v=$1 p=$2
  if [[ $v =~ ^\[([0-9A-Fa-f:.]+)\](:([0-9]{1,5}))?$ ]]; then
    hp_host=${BASH_REMATCH[1]} p=${BASH_REMATCH[3]:-$p}
  elif [[ $v =~ ^([A-Za-z0-9][A-Za-z0-9.-]*)(:([0-9]{1,5}))?$ ]]; then
    hp_host=${BASH_REMATCH[1]} p=${BASH_REMATCH[3]:-$p}
  else
    die_usage "$3: expected HOST or HOST:PORT, got '${v:0:60}'"
  fi
  ((10#$p >= 1 && 10#$p <= 65535)) || die_usage "$3: the port must be a number from 1 to 65535"
  hp_port=$((10#$p))
}
# PASSWORD WHAT: exits 2 unless PASSWORD survives Sentinel's config rewrite, which writes
# `sentinel auth-pass` unquoted (Redis 7.0): a space, quote or '#' there would break the file.
sentinel_safe_password() {
  [[ $1 =~ ^[A-Za-z0-9._~+/=:@%^!,-]+$ ]] ||
    die_usage "$2 must be made of letters, digits and ._~+/=:@%^!,- for Redis Sentinel (it rewrites auth-pass unquoted)"
}

# FILE FLAG VARIABLE: the password from FILE's first line (given with FLAG), else from env VARIABLE,
# else "". Sets pw_value and pw_source (what to name, never the password); unsets VARIABLE so that a
# server started later does not inherit it. Exits 2 on an empty file or control characters.
read_password() {
  pw_value="" pw_source=""
  if [[ -n $1 ]]; then
    IFS= read -r pw_value <"$1" || true
    pw_value=${pw_value%$'\r'}
    pw_source="$2"
    [[ -n $pw_value ]] || die_usage "$2 $1: the first line is empty"
  elif [[ -n ${!3:-} ]]; then
    pw_value=${!3}
    pw_source=$3
  fi
  unset "$3"
  [[ $pw_value != *[[:cntrl:]]* ]] || die_usage "the password of $pw_source must not contain control characters"
}

# parse_options "VALUED..." "FLAGS..." ARGS...: the command line, --opt VALUE or --opt=VALUE for the
# valued options, --flag for the flags; calls the caller's set_option OPTION VALUE for each. Anything
# else, a missing value, or a password option exits 2 with one line.
parse_options() {
  local valued=" ${1//$'\n'/ } " flags=" $2 " opt val has_val
  shift 2
  while (($#)); do
    opt=$1 val="" has_val=0
    if [[ $opt == --*=* ]]; then val=${opt#*=} opt=${opt%%=*} has_val=1; fi
    if [[ $valued == *" $opt "* ]]; then
      if ((!has_val)); then
        (($# >= 2)) || die_usage "$opt needs a value"
        val=$2
        shift
      fi
    elif [[ $flags == *" $opt "* ]]; then
      ((!has_val)) || die_usage "$opt takes no value"
    elif [[ $opt == --password || $opt == --sentinel-password || $opt == -a ]]; then
      die_usage "$opt is not accepted: a password on the command line is visible to every user (use the environment or a file)"
    else
      die_usage "unknown argument '${opt:0:60}'"
    fi
    set_option "$opt" "$val"
    shift
  done
}
