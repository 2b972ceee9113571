#!/usr/bin/env bash
# Installs Luna as a systemd service on Debian 12+ or Ubuntu 22.04+, upgrades it in place, or
# (--uninstall) removes the service and the binary. Run it from a checkout or an unpacked
# release: the sources are this script's parent directory. `install.sh --help` lists the options;
# install/README.md explains each step.
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
self=$src/install/install.sh
original_args=("$@")

bin_path=/usr/local/bin/luna
unit_path=/etc/systemd/system/luna.service
modes="local, lan, nip_io or custom_domain"
# What the root re-exec keeps: sudo clears the environment, and these are answers.
answer_variables=LUNA_DEPLOYMENT_MODE,LUNA_PUBLIC_DOMAIN,LUNA_PUBLIC_IP,GITHUB_CLIENT_ID,GITHUB_CLIENT_SECRET,LUNA_ALLOWED_USERS,LUNA_ALLOWED_ORGS,LUNA_ADMINS,LUNA_ACME_EMAIL,LUNA_ACME_DIRECTORY_URL

say() { echo "==> $*"; }
warn() { echo "install.sh: warning: $*" >&2; }
die() {
  echo "install.sh: error: $*" >&2
  exit 1
}

usage() {
  cat <<EOF
Usage: sudo install/install.sh [OPTIONS]

Installs Luna as a systemd service (or upgrades the installed one in place), on Debian 12+ or
Ubuntu 22.04+. On a first install it asks for whatever the options below do not answer; an
upgrade (Luna's settings already exist in the home) asks nothing and keeps the settings, .env and
data, changing only what options name. Options also come from the environment variable in
parentheses; an option on the command line wins.

Settings (written by \`luna setup\` into <home>/config/luna.toml and <home>/.env):
  --mode MODE                 (LUNA_DEPLOYMENT_MODE) how people reach Luna:
                                local          only this machine, http://127.0.0.1:8800
                                lan            the local network, HTTPS with a self-signed certificate
                                nip_io         the internet at <ip-with-dashes>.nip.io, Let's Encrypt
                                custom_domain  the internet at your own domain, Let's Encrypt
  --domain NAME               (LUNA_PUBLIC_DOMAIN) the domain of custom_domain; its DNS must
                              point at this machine
  --public-ip IP              (LUNA_PUBLIC_IP) the public IPv4 address of nip_io; detected when
                              not given
  --github-client-id ID       (GITHUB_CLIENT_ID) the GitHub OAuth app's client id
  --github-client-secret S    (GITHUB_CLIENT_SECRET) its client secret. Prefer the environment
                              variable or the prompt: they keep the secret out of your shell
                              history and out of the process list
  --allowed-users LIST        (LUNA_ALLOWED_USERS) GitHub logins or ids who may log in,
                              comma-separated
  --allowed-orgs LIST         (LUNA_ALLOWED_ORGS) GitHub organizations whose members may log in
  --admins LIST               (LUNA_ADMINS) who of them may change Luna (default: the allowed users)
  --acme-email ADDRESS        (LUNA_ACME_EMAIL) where Let's Encrypt writes about expiring
                              certificates (optional)
  --acme-directory-url URL    (LUNA_ACME_DIRECTORY_URL) another ACME directory: "staging", or a
                              private CA's URL

Installation:
  --binary PATH               a prebuilt luna binary (default: build this checkout with
                              \`cargo build --release --locked\`, after scripts/deps.sh)
  --home DIR                  Luna's home: settings, .env, data (default: /var/lib/luna)
  --user NAME                 the system user Luna runs as (default: luna)
  --docker yes|no             install Debian's docker.io and add the user to the docker group,
                              for external services. Docker access is root-equivalent. Default:
                              ask; yes when unattended; an upgrade leaves Docker as it is
  -y, --unattended            never ask: a missing required answer is an error naming its option
  --no-start                  install and enable the service, but do not (re)start it
  --uninstall                 stop and remove the service and $bin_path; keeps the home
                              and the user, and prints how to remove them
  -h, --help                  this text

Example, unattended:
  sudo GITHUB_CLIENT_SECRET=... install/install.sh --unattended --mode nip_io \\
    --github-client-id Iv1.0123456789abcdef --allowed-users octocat
EOF
}

# --- options ----------------------------------------------------------------------------------
# Environment first, then the command line over it.
mode=${LUNA_DEPLOYMENT_MODE:-}
domain=${LUNA_PUBLIC_DOMAIN:-}
public_ip=${LUNA_PUBLIC_IP:-}
client_id=${GITHUB_CLIENT_ID:-}
client_secret=${GITHUB_CLIENT_SECRET:-}
allowed_users=${LUNA_ALLOWED_USERS:-}
allowed_orgs=${LUNA_ALLOWED_ORGS:-}
admins=${LUNA_ADMINS:-}
acme_email=${LUNA_ACME_EMAIL:-}
acme_directory_url=${LUNA_ACME_DIRECTORY_URL:-}
binary=
home=
user=
docker=
unattended=0
no_start=0
uninstall=0

while (($#)); do
  option=$1
  shift
  inline=0
  if [[ $option == --*=* ]]; then
    value=${option#*=}
    option=${option%%=*}
    inline=1
  fi
  case $option in
  --mode | --domain | --public-ip | --github-client-id | --github-client-secret | --allowed-users | \
    --allowed-orgs | --admins | --acme-email | --acme-directory-url | --binary | --home | --user | --docker)
    if ((!inline)); then
      (($#)) || die "$option needs a value (see --help)"
      value=$1
      shift
    fi
    case $option in
    --mode) mode=$value ;;
    --domain) domain=$value ;;
    --public-ip) public_ip=$value ;;
    --github-client-id) client_id=$value ;;
    --github-client-secret) client_secret=$value ;;
    --allowed-users) allowed_users=$value ;;
    --allowed-orgs) allowed_orgs=$value ;;
    --admins) admins=$value ;;
    --acme-email) acme_email=$value ;;
    --acme-directory-url) acme_directory_url=$value ;;
    --binary) binary=$value ;;
    --home) home=$value ;;
    --user) user=$value ;;
    --docker) docker=$value ;;
    esac
    ;;
  -y | --unattended | --no-start | --uninstall | -h | --help)
    ((!inline)) || die "$option takes no value"
    case $option in
    -y | --unattended) unattended=1 ;;
    --no-start) no_start=1 ;;
    --uninstall) uninstall=1 ;;
    -h | --help)
      usage
      exit 0
      ;;
    esac
    ;;
  *) die "unknown option: $option (see --help)" ;;
  esac
done

# Interactive only with someone at a terminal to answer; otherwise a missing answer is an error.
interactive=0
if ((!unattended)) && [[ -t 0 ]]; then interactive=1; fi

case $docker in
'' | yes | no) ;;
*) die "--docker must be yes or no (got '$docker')" ;;
esac
if [[ -n $mode ]]; then
  case $mode in
  local | lan | nip_io | custom_domain) ;;
  *) die "--mode must be $modes (got '$mode')" ;;
  esac
fi

# --- the system -------------------------------------------------------------------------------
check_os() {
  [[ -r /etc/os-release ]] ||
    die "cannot tell which system this is (no /etc/os-release); the installer supports Debian 12+ and Ubuntu 22.04+"
  local id version name major minor
  # shellcheck disable=SC1091 # the system's own file, read in a subshell
  id=$(. /etc/os-release && echo "${ID:-}")
  # shellcheck disable=SC1091
  version=$(. /etc/os-release && echo "${VERSION_ID:-}")
  # shellcheck disable=SC1091
  name=$(. /etc/os-release && echo "${PRETTY_NAME:-$id $version}")
  IFS=. read -r major minor _ <<<"$version."
  local supported=0
  if [[ $major =~ ^[0-9]+$ ]]; then
    [[ $minor =~ ^[0-9]+$ ]] || minor=0
    case $id in
    debian) if ((10#$major >= 12)); then supported=1; fi ;;
    ubuntu) if ((10#$major > 22 || (10#$major == 22 && 10#$minor >= 4))); then supported=1; fi ;;
    esac
  fi
  ((supported)) ||
    die "this is ${name:-an unknown system} (ID=${id:-none}, VERSION_ID=${version:-none}); the installer supports Debian 12+ and Ubuntu 22.04+"
  # The service is a systemd unit, so systemd must be what runs this machine.
  if [[ ! -d /run/systemd/system ]] || ! command -v systemctl >/dev/null; then
    die "this machine does not run systemd (no /run/systemd/system); the installer sets Luna up as a systemd service"
  fi
}

check_os

# --- root -------------------------------------------------------------------------------------
# Builds this checkout's release binary into $binary (scripts/deps.sh installs what the build
# needs). Run as the invoking user where possible, so the checkout's target/ stays theirs.
build_binary() {
  [[ -f $src/Cargo.toml ]] ||
    die "no --binary given, and $src is not a Luna checkout to build (no Cargo.toml): pass --binary PATH to a prebuilt luna"
  command -v cargo >/dev/null ||
    die "no --binary given, and cargo is not installed to build one: pass --binary PATH to a prebuilt luna, or install Rust (https://rustup.rs) and run this again"
  say "building Luna from $src (cargo build --release --locked; the first build takes several minutes)"
  "$src/scripts/deps.sh"
  (cd "$src" && cargo build --release --locked)
  local target_dir=${CARGO_TARGET_DIR:-target}
  [[ $target_dir == /* ]] || target_dir=$src/$target_dir
  binary=$target_dir/release/luna
}

if [[ $EUID -ne 0 ]]; then
  command -v sudo >/dev/null || die "run this as root: it installs packages, a system user and a service (and sudo is not installed)"
  extra=()
  if ((!uninstall)) && [[ -z $binary ]] && command -v cargo >/dev/null; then
    build_binary
    extra=(--binary "$binary")
  fi
  say "continuing as root (sudo)"
  exec sudo --preserve-env="$answer_variables" -- bash "$self" "${original_args[@]}" "${extra[@]}"
fi

# --- where -----------------------------------------------------------------------------------
# An uninstall without --home/--user takes them from the installed unit.
if ((uninstall)) && [[ -f $unit_path ]]; then
  [[ -n $home ]] || home=$(sed -n 's/^WorkingDirectory=//p' "$unit_path" | head -n 1)
  [[ -n $user ]] || user=$(sed -n 's/^User=//p' "$unit_path" | head -n 1)
fi
user=${user:-luna}
home=${home:-/var/lib/luna}
# The CLI finds /var/lib/luna by itself; another home must be named.
if [[ $home == /var/lib/luna ]]; then luna_cli="luna"; else luna_cli="luna --home $home"; fi
# The unit takes these verbatim (Environment=, ReadWritePaths=), and the home is chmod 0700 and
# chowned: plain names only, and never a system directory.
[[ $user =~ ^[a-z_][a-z0-9_-]{0,31}$ && $user != root ]] ||
  die "--user must be a plain user name other than root (got '$user')"
while [[ $home == */ && $home != / ]]; do home=${home%/}; done
[[ $home =~ ^/[A-Za-z0-9._/-]+$ && $home != *..* ]] ||
  die "--home must be an absolute path of letters, digits, '.', '_', '-' and '/' (got '$home')"
case $home in
/bin | /boot | /dev | /etc | /home | /lib | /lib64 | /opt | /proc | /root | /run | /sbin | /srv | /sys | /tmp | /usr | /usr/* | /var | /var/lib)
  die "--home $home is a system directory; give Luna a directory of its own, like /var/lib/luna"
  ;;
# The unit hides these from Luna (ProtectHome=yes, PrivateTmp=yes): a home there is unreachable.
/home/* | /root/* | /run/user/* | /tmp/* | /var/tmp/*)
  die "--home $home is where the service cannot see it (the unit hides /home, /root, /run/user and the temp directories); use a directory like /var/lib/luna or /srv/luna"
  ;;
esac

# --- uninstall --------------------------------------------------------------------------------
if ((uninstall)); then
  removed=()
  if [[ -f $unit_path ]] || systemctl is-active --quiet luna.service; then
    say "stopping and removing the luna service"
    systemctl disable --now luna.service >/dev/null 2>&1 || true
    removed+=("$unit_path")
  fi
  [[ ! -e $bin_path ]] || removed+=("$bin_path")
  rm -f "$unit_path" "$bin_path"
  systemctl daemon-reload
  systemctl reset-failed luna.service >/dev/null 2>&1 || true
  if ((${#removed[@]})); then
    echo "Removed ${removed[*]}."
  else
    echo "No luna service or $bin_path to remove."
  fi
  kept=()
  if [[ -d $home ]]; then
    echo "Kept $home (settings, .env with the GitHub secret and tokens, database, certificates, extensions)."
    kept+=("rm -rf $home")
  fi
  if id -u "$user" >/dev/null 2>&1; then
    echo "Kept the system user $user."
    kept+=("userdel $user")
  fi
  if ((${#kept[@]})); then
    echo "A reinstall picks them up as they are. To remove them too:"
    for command in "${kept[@]}"; do echo "  sudo $command"; done
  fi
  if command -v docker >/dev/null; then
    echo "External services' containers and data volumes, if any, are left to Docker:"
    echo "  sudo docker ps -a --filter label=dev.luna.managed=true"
  fi
  exit 0
fi

# --- the binary -------------------------------------------------------------------------------
if [[ -z $binary ]]; then build_binary; fi
[[ -f $binary && -x $binary ]] || die "--binary $binary is not an executable file"
# It must run here (right architecture, libraries) and know `setup`, which this script drives.
version=$("$binary" --version 2>&1) || die "--binary $binary does not run on this machine: $version"
"$binary" setup --help >/dev/null 2>&1 || die "--binary $binary ($version) has no \`luna setup\`: it is older than this installer"

# --- answers ----------------------------------------------------------------------------------
first_install=1
if [[ -f $home/config/luna.toml ]]; then first_install=0; fi

ask() { # ask VARIABLE PROMPT: reads one line into VARIABLE
  local ask_line
  read -r -p "$2" ask_line || die "no answer to \"$2\" (end of input): give it as an option (see --help)"
  printf -v "$1" '%s' "$ask_line"
}

is_ipv4() {
  local part
  [[ $1 =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || return 1
  # shellcheck disable=SC2086 # split on the dots, checked to be digits above
  for part in ${1//./ }; do ((10#$part <= 255)) || return 1; done
}

# Public as Luna counts it (src/settings/https.rs): not private, loopback, link-local, shared
# (carrier-grade NAT), documentation, multicast or reserved.
is_public_ipv4() {
  local a b c
  IFS=. read -r a b c _ <<<"$1"
  a=$((10#$a)) b=$((10#$b)) c=$((10#$c))
  ! ((a == 0 || a == 10 || a == 127 || a >= 224 ||
    (a == 100 && b >= 64 && b < 128) || (a == 169 && b == 254) || (a == 172 && b >= 16 && b < 32) ||
    (a == 192 && b == 168) || (a == 192 && b == 0 && c == 2) || (a == 198 && b == 51 && c == 100) ||
    (a == 203 && b == 0 && c == 113)))
}

# The address this machine's traffic to the internet leaves from: the one Luna detects too.
route_source() {
  command -v ip >/dev/null || return 0
  ip -4 route get 192.0.2.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p' | head -n 1
}

# The origin Luna will have, as far as it can be told before `luna setup` runs.
site_origin() {
  case $mode in
  local) echo "http://127.0.0.1:8800" ;;
  custom_domain) echo "https://$domain" ;;
  nip_io)
    if [[ -n $domain ]]; then
      echo "https://$domain"
    elif [[ -n ${public_ip:-$detected_ip} ]]; then
      local ip=${public_ip:-$detected_ip}
      echo "https://${ip//./-}.nip.io"
    fi
    ;;
  lan)
    local host=${domain:-$(route_source)}
    if [[ -n $host ]]; then echo "https://$host"; fi
    ;;
  esac
}

detected_ip=
shown_callback=
gather_answers() {
  if [[ -z $mode ]]; then
    ((interactive)) || die "--mode is required ($modes)"
    cat <<'EOF'
How will people reach this Luna?
  1) local          only this machine, at http://127.0.0.1:8800 (GitHub login optional)
  2) lan            your home or office network, over HTTPS with a self-signed certificate
  3) nip_io         the internet at <your-ip>.nip.io, with a Let's Encrypt certificate; no domain needed
  4) custom_domain  the internet at your own domain (its DNS must point here), with Let's Encrypt
EOF
    while [[ -z $mode ]]; do
      ask mode "Mode, a number or a name [nip_io]: "
      case ${mode:-3} in
      1 | local) mode=local ;;
      2 | lan) mode=lan ;;
      3 | nip_io) mode=nip_io ;;
      4 | custom_domain) mode=custom_domain ;;
      *)
        echo "Please answer 1 to 4, or $modes."
        mode=
        ;;
      esac
    done
  fi

  if [[ $mode == custom_domain && -z $domain ]]; then
    ((interactive)) || die "--domain is required in custom_domain mode"
    while [[ -z $domain ]]; do ask domain "Domain (its DNS must point at this machine): "; done
  fi

  if [[ $mode == nip_io && -z $domain ]]; then
    if [[ -n $public_ip ]]; then
      is_ipv4 "$public_ip" || die "--public-ip '$public_ip' is not an IPv4 address"
    else
      local found
      found=$(route_source)
      if [[ -n $found ]] && is_public_ipv4 "$found"; then
        detected_ip=$found
      fi
      if ((interactive)); then
        if [[ -z $detected_ip ]]; then
          echo "This machine's route to the internet leaves from ${found:-no address}, which is not a public IPv4 address (behind NAT?)."
        fi
        while [[ -z $public_ip ]]; do
          if [[ -n $detected_ip ]]; then
            ask public_ip "Public IPv4 address [Enter: $detected_ip, detected]: "
            [[ -n $public_ip ]] || break
          else
            ask public_ip "Public IPv4 address people reach this machine at: "
          fi
          if [[ -n $public_ip ]] && ! is_ipv4 "$public_ip"; then
            echo "'$public_ip' is not an IPv4 address."
            public_ip=
          fi
        done
      elif [[ -z $detected_ip ]]; then
        die "nip_io mode needs this machine's public IPv4 address: this machine's route to the internet leaves from ${found:-no address}, which is not public; pass --public-ip"
      fi
    fi
  fi

  local origin
  origin=$(site_origin)
  local github_needed=1
  if [[ $mode == local ]]; then github_needed=0; fi

  if [[ -z $client_id || -z $client_secret ]]; then
    if ((!interactive)); then
      if ((github_needed)) || [[ -n $client_id$client_secret ]]; then
        [[ -n $client_id ]] || die "--github-client-id (GITHUB_CLIENT_ID) is required in $mode mode: Luna asks everyone to log in with GitHub"
        die "the GitHub client secret is required with --github-client-id: set GITHUB_CLIENT_SECRET (or pass --github-client-secret)"
      fi
    else
      echo
      if ((github_needed)); then
        echo "Luna asks everyone to log in with GitHub. Create an OAuth app for it at"
      else
        echo "GitHub login is optional in local mode (press Enter to skip it). For it, create an OAuth app at"
      fi
      echo "  https://github.com/settings/applications/new"
      echo "with"
      local homepage="(shown at the end)" callback_shown="(shown at the end)"
      if [[ -n $origin ]]; then
        homepage=$origin callback_shown=$origin/auth/callback
        shown_callback=$callback_shown
      fi
      echo "  Homepage URL:               $homepage"
      echo "  Authorization callback URL: $callback_shown"
      echo "then generate a client secret there, and paste both here."
      while [[ -z $client_id ]]; do
        ask client_id "GitHub client ID: "
        if [[ -z $client_id ]] && ((!github_needed)); then break; fi
      done
      if [[ -n $client_id ]]; then
        while [[ -z $client_secret ]]; do
          read -rs -p "GitHub client secret (not shown): " client_secret
          echo
        done
      fi
    fi
  fi

  # Who may log in: required whenever there is a GitHub login.
  if [[ -n $client_id && -z $allowed_users && -z $allowed_orgs ]]; then
    ((interactive)) || die "--allowed-users (or --allowed-orgs) is required: it names who may log in"
    while [[ -z $allowed_users ]]; do
      ask allowed_users "GitHub users who may log in (logins, comma-separated): "
    done
  fi

  if [[ ($mode == nip_io || $mode == custom_domain) && -z $acme_email ]] && ((interactive)); then
    ask acme_email "Email for Let's Encrypt's expiry notices (optional, Enter to skip): "
  fi

  if [[ -z $docker ]]; then
    if ((interactive)); then
      echo
      echo "External services (databases and the like) run in Docker. Docker access is root-equivalent:"
      echo "the $user user, and so whoever administers Luna, can control this machine through it."
      local reply
      ask reply "Install Docker (docker.io) and let Luna use it? [Y/n] "
      case ${reply,,} in n | no) docker=no ;; *) docker=yes ;; esac
    else
      docker=yes
    fi
  fi
}

if ((first_install)); then
  gather_answers
else
  say "upgrading the Luna in $home (its settings, .env and data are kept)"
fi

# The flags for `luna setup`: every answer there is; on an upgrade only what was given.
setup_flags=()
[[ -z $mode ]] || setup_flags+=(--mode "$mode")
[[ -z $domain ]] || setup_flags+=(--domain "$domain")
[[ -z $public_ip ]] || setup_flags+=(--public-ip "$public_ip")
[[ -z $client_id ]] || setup_flags+=(--github-client-id "$client_id")
[[ -z $allowed_users ]] || setup_flags+=(--allowed-users "$allowed_users")
[[ -z $allowed_orgs ]] || setup_flags+=(--allowed-orgs "$allowed_orgs")
[[ -z $admins ]] || setup_flags+=(--admins "$admins")
[[ -z $acme_email ]] || setup_flags+=(--acme-email "$acme_email")
[[ -z $acme_directory_url ]] || setup_flags+=(--acme-directory-url "$acme_directory_url")

# --- packages ---------------------------------------------------------------------------------
ensure_packages() {
  local missing=() package
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
  done
  ((${#missing[@]})) || return 0
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Python runs the extensions' tools (each in a venv); curl is for health checks and people.
packages=(ca-certificates python3 python3-venv curl)
if [[ $docker == yes ]]; then
  # Docker's own docker-ce conflicts with docker.io: an engine already here is used as it is.
  if command -v docker >/dev/null || dpkg-query -W -f='${Status}' docker-ce 2>/dev/null | grep -q 'install ok installed'; then
    say "Docker is already installed; using it"
  else
    packages+=(docker.io)
  fi
fi
ensure_packages "${packages[@]}"

# --- binary -----------------------------------------------------------------------------------
# A temp name in the same directory, then a rename: a running Luna keeps its old file, and
# nothing ever sees half a binary.
cleanup_files=()
trap 'rm -f "${cleanup_files[@]}"' EXIT
mkdir -p "$(dirname "$bin_path")"
tmp_bin=$(mktemp "$(dirname "$bin_path")/.luna.XXXXXX")
cleanup_files+=("$tmp_bin")
install -m 0755 -o root -g root "$binary" "$tmp_bin"
mv -f "$tmp_bin" "$bin_path"
say "installed $bin_path ($version)"

# --- user and home ----------------------------------------------------------------------------
if ! id -u "$user" >/dev/null 2>&1; then
  useradd --system --user-group --home-dir "$home" --shell /usr/sbin/nologin "$user"
  say "created the system user $user"
fi
getent group "$user" >/dev/null || die "the user $user exists but there is no group $user, which the unit runs Luna as"
mkdir -p "$home"
chown "$user:$user" "$home"
chmod 0700 "$home"
# The bundled extensions, service definitions and README: added or overwritten, never deleting
# what the owner added beside them.
for dir in extensions external_services; do
  [[ -d $src/$dir ]] || die "$src/$dir is missing: run install.sh from a Luna checkout or release"
  mkdir -p "$home/$dir"
  cp -a "$src/$dir/." "$home/$dir/"
done
cp -a "$src/README.md" "$home/README.md"
chown -R "$user:$user" "$home/extensions" "$home/external_services" "$home/README.md"

# --- settings ---------------------------------------------------------------------------------
# `luna setup` runs as the service user, so what it writes is that user's; in an environment
# cleared of everything Luna reads (it validates as the service will, whose unit sets only
# LUNA_HOME and HOME), and the secret only in that environment, never on a command line.
run_setup() {
  (
    while read -r name; do
      case $name in PATH | LANG | LC_* | TERM) ;; *) unset "$name" 2>/dev/null || true ;; esac
    done < <(compgen -e)
    export LUNA_HOME=$home HOME=$home
    if [[ -n $client_secret ]]; then export GITHUB_CLIENT_SECRET=$client_secret; fi
    cd "$home"
    exec runuser -u "$user" -- "$bin_path" --home "$home" setup --json "$@"
  )
}
json_field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1" <<<"$setup_json"; }

say "writing and checking the settings (luna setup)"
if ! setup_json=$(run_setup "${setup_flags[@]}"); then
  if ((first_install)); then
    die "the settings were not accepted (see above; nothing was written): run install.sh again with that answer corrected"
  fi
  die "the settings in $home do not pass (see above; nothing was changed): correct them (or pass the option that sets them) and run install.sh again"
fi
config_file=$(json_field config_file)
address=$(json_field public_url)
callback=$(json_field github_callback_url)
github_configured=$(json_field github_configured)
if [[ -n $shown_callback && $shown_callback != "$callback" ]]; then
  warn "Luna's GitHub callback URL is $callback, not $shown_callback as shown above: set that one in the GitHub OAuth app"
fi

# --- docker -----------------------------------------------------------------------------------
if [[ $docker == yes ]]; then
  if getent group docker >/dev/null; then
    usermod -aG docker "$user"
    echo "The $user user is in the docker group: Docker access is root-equivalent."
  else
    warn "there is no docker group to add $user to; external services will say Docker is unavailable"
  fi
fi

# --- the unit ---------------------------------------------------------------------------------
sed_replacement() { printf '%s' "$1" | sed -e 's/[\\|&]/\\&/g'; }
tmp_unit=$(mktemp "$(dirname "$unit_path")/.luna.service.XXXXXX")
cleanup_files+=("$tmp_unit")
sed -e "s|@LUNA_BIN@|$(sed_replacement "$bin_path")|g" \
  -e "s|@LUNA_HOME@|$(sed_replacement "$home")|g" \
  -e "s|@LUNA_USER@|$(sed_replacement "$user")|g" \
  "$src/install/luna.service" >"$tmp_unit"
chmod 0644 "$tmp_unit"
mv -f "$tmp_unit" "$unit_path"
systemctl daemon-reload
systemctl enable luna.service >/dev/null 2>&1 || die "systemctl enable luna failed"

if ((!no_start)); then
  say "starting Luna"
  # A start is over when this is a new invocation of the unit (not the one being replaced)
  # and it is active, which for Type=notify means Luna said it is ready. It has failed when
  # that invocation ended: `failed` (a settings error, which no restart fixes) or waiting to be
  # restarted (`auto-restart`: systemd goes on retrying, but this start did not work).
  before=$(systemctl show -p InvocationID --value luna.service)
  systemctl restart --no-block luna.service
  deadline=$((SECONDS + 90))
  started=0
  reason="it was not ready within 90 s"
  while ((SECONDS < deadline)); do
    # One snapshot of the three, so they always describe the same moment.
    state='' sub_state='' invocation=''
    while IFS='=' read -r key value; do
      case $key in
      ActiveState) state=$value ;;
      SubState) sub_state=$value ;;
      InvocationID) invocation=$value ;;
      esac
    done < <(systemctl show -p ActiveState -p SubState -p InvocationID luna.service)
    if [[ -n $invocation && $invocation != "$before" ]]; then
      if [[ $state == active ]]; then
        started=1
        break
      fi
      if [[ $state == failed ]]; then
        reason="it exited and systemd will not retry (a settings error?)"
        break
      fi
      if [[ $sub_state == auto-restart ]]; then
        reason="it exited while starting (systemd keeps retrying)"
        break
      fi
    fi
    sleep 0.5
  done
  if ((!started)); then
    echo "install.sh: error: Luna did not start: $reason. Its last log lines:" >&2
    journalctl -u luna.service -n 50 --no-pager >&2 || true
    echo "Run 'sudo $luna_cli doctor' for what is wrong; 'journalctl -u luna -f' follows the log." >&2
    exit 1
  fi
fi

echo
if ((no_start)); then
  echo "Luna is installed as the systemd service luna (user $user, home $home), not (re)started"
  echo "(--no-start): sudo systemctl restart luna"
else
  echo "Luna is running as the systemd service luna (user $user, home $home)."
fi
echo "  Open:     $address"
if [[ $github_configured == True ]]; then
  echo "  GitHub:   the OAuth app's Authorization callback URL must be $callback"
else
  echo "  GitHub:   not set up; for a login, create an OAuth app with the callback URL $callback"
  echo "            and run install.sh again with --github-client-id, --allowed-users and GITHUB_CLIENT_SECRET"
fi
echo "  Settings: $config_file (after editing: sudo systemctl restart luna)"
echo "  Logs:     journalctl -u luna -f"
echo "  Checks:   sudo $luna_cli doctor"
