#!/bin/sh
# Install and start a Picket probe: the line `POST /api/v1/probes` (or
# `picket probes create`) prints runs this with the collector's address, the region and
# the probe's token.
#
#   curl -fsSL https://…/install-probe.sh | sh -s -- \
#       --collector collector.example.com:50051 --region eu-west --token pt_…
#
# Options:
#   --collector HOST:PORT   the collector's gRPC address (required)
#   --region NAME           the probe's region, as created (required)
#   --token TOKEN           the probe's token, shown once (required; or PICKET_PROBE_TOKEN)
#   --nats-url URL          NATS with the region's user (default: what the collector says)
#   --prefix DIR            where to install (default /opt/picket as root, else ~/.picket)
#   --package SPEC          what pip installs (default: picket)
#   --python PATH           a Python that already has picket: no virtualenv, no pip
#   --health-port PORT      serve /healthz, /readyz and /metrics here (default 9100)
#   --no-start              install and configure only
#
# As root with systemd, and --prefix left at /opt/picket, the probe runs as the
# picket-probe systemd service; otherwise it runs in the background under the prefix
# (pid in run/probe.pid, log in log/probe.log) and `$PREFIX/bin/picket-probe stop` stops it.
set -eu

COLLECTOR=""
REGION=""
TOKEN="${PICKET_PROBE_TOKEN:-}"
NATS_URL=""
PREFIX=""
PACKAGE="picket"
PYTHON=""
HEALTH_PORT="9100"
START=1

die() {
    echo "install-probe: $*" >&2
    exit 1
}

need_value() {
    if [ "$#" -lt 2 ] || [ -z "$2" ]; then
        die "$1 needs a value"
    fi
}

while [ "$#" -gt 0 ]; do
    case "$1" in
        --collector) need_value "$@"; COLLECTOR="$2"; shift 2 ;;
        --region) need_value "$@"; REGION="$2"; shift 2 ;;
        --token) need_value "$@"; TOKEN="$2"; shift 2 ;;
        --nats-url) need_value "$@"; NATS_URL="$2"; shift 2 ;;
        --prefix) need_value "$@"; PREFIX="$2"; shift 2 ;;
        --package) need_value "$@"; PACKAGE="$2"; shift 2 ;;
        --python) need_value "$@"; PYTHON="$2"; shift 2 ;;
        --health-port) need_value "$@"; HEALTH_PORT="$2"; shift 2 ;;
        --no-start) START=0; shift ;;
        -h | --help) sed -n '2,/^set -eu$/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done

[ -n "$COLLECTOR" ] || die "--collector HOST:PORT is required"
[ -n "$REGION" ] || die "--region is required"
[ -n "$TOKEN" ] || die "--token is required (or set PICKET_PROBE_TOKEN)"
case "$COLLECTOR" in
    *:[0-9]*) ;;
    *) die "--collector must be HOST:PORT, got '$COLLECTOR'" ;;
esac
case "$REGION" in
    *[!a-z0-9-]* | -*) die "--region must be lower-case letters, digits and dashes, got '$REGION'" ;;
esac
case "$HEALTH_PORT" in
    '' | *[!0-9]*) die "--health-port must be a number, got '$HEALTH_PORT'" ;;
esac

USE_SYSTEMD=0
if [ -z "$PREFIX" ]; then
    if [ "$(id -u)" -eq 0 ]; then
        PREFIX=/opt/picket
        if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
            USE_SYSTEMD=1
        fi
    else
        PREFIX="$HOME/.picket"
    fi
fi

mkdir -p "$PREFIX/bin" "$PREFIX/etc" "$PREFIX/run" "$PREFIX/log" "$PREFIX/data"

if [ -n "$PYTHON" ]; then
    "$PYTHON" -c 'import picket.cli' 2>/dev/null || die "$PYTHON cannot import picket"
else
    command -v python3 >/dev/null 2>&1 || die "python3 (3.11 or newer) is required"
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
        die "python3 is older than 3.11"
    echo "install-probe: installing $PACKAGE into $PREFIX/venv"
    python3 -m venv "$PREFIX/venv"
    "$PREFIX/venv/bin/pip" install --quiet --upgrade pip
    "$PREFIX/venv/bin/pip" install --quiet "$PACKAGE"
    PYTHON="$PREFIX/venv/bin/python"
fi

# Single-quoted values read the same in `sh` and in a systemd EnvironmentFile.
setting() {
    case "$2" in
        *"'"*) die "$1 must not contain a single quote" ;;
    esac
    echo "$1='$2'"
}

ENV_FILE="$PREFIX/etc/probe.env"
# The token is a secret: the file is readable by its owner only.
umask 077
{
    setting PICKET_COLLECTOR_ADDR "$COLLECTOR"
    setting PICKET_REGION "$REGION"
    setting PICKET_PROBE_TOKEN "$TOKEN"
    setting PICKET_DATA_DIR "$PREFIX/data"
    setting PICKET_HEALTH_PORT "$HEALTH_PORT"
    if [ -n "$NATS_URL" ]; then
        setting PICKET_NATS_URL "$NATS_URL"
    fi
} >"$ENV_FILE"
umask 022

LAUNCHER="$PREFIX/bin/picket-probe"
cat >"$LAUNCHER" <<LAUNCHER_EOF
#!/bin/sh
# Start (default), stop or check the Picket probe installed in $PREFIX.
set -eu
PID_FILE="$PREFIX/run/probe.pid"
running() { [ -f "\$PID_FILE" ] && kill -0 "\$(cat "\$PID_FILE")" 2>/dev/null; }
case "\${1:-start}" in
    run)
        set -a
        # shellcheck source=/dev/null
        . "$ENV_FILE"
        set +a
        exec "$PYTHON" -m picket.cli probe
        ;;
    start)
        if running; then echo "probe already running (pid \$(cat "\$PID_FILE"))"; exit 0; fi
        nohup "\$0" run >>"$PREFIX/log/probe.log" 2>&1 &
        echo \$! >"\$PID_FILE"
        echo "probe started (pid \$!), log: $PREFIX/log/probe.log"
        ;;
    stop)
        if running; then kill "\$(cat "\$PID_FILE")"; fi
        rm -f "\$PID_FILE"
        ;;
    status)
        if running; then echo "running (pid \$(cat "\$PID_FILE"))"; else echo "stopped"; exit 3; fi
        ;;
    *) echo "usage: \$0 [run|start|stop|status]" >&2; exit 2 ;;
esac
LAUNCHER_EOF
chmod 755 "$LAUNCHER"

if [ "$START" -eq 0 ]; then
    echo "install-probe: installed in $PREFIX; start it with $LAUNCHER start"
    exit 0
fi

if [ "$USE_SYSTEMD" -eq 1 ]; then
    id picket >/dev/null 2>&1 || useradd --system --home-dir /var/lib/picket --shell /usr/sbin/nologin picket
    chown -R picket "$PREFIX/data" "$PREFIX/log" "$PREFIX/run"
    chown picket "$ENV_FILE"
    cat >/etc/systemd/system/picket-probe.service <<UNIT_EOF
[Unit]
Description=Picket probe ($REGION)
After=network-online.target
Wants=network-online.target

[Service]
Type=exec
User=picket
ExecStart=$LAUNCHER run
Restart=always
RestartSec=5
AmbientCapabilities=CAP_NET_RAW
NoNewPrivileges=true

[Install]
WantedBy=multi-user.target
UNIT_EOF
    systemctl daemon-reload
    systemctl enable --now picket-probe.service
    echo "install-probe: probe for $REGION running as the picket-probe service"
else
    "$LAUNCHER" start
fi
