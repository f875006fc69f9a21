#!/bin/sh
# meshlink UPnP lab: a real Internet Gateway Device (Debian's miniupnpd, nftables backend) between
# two network namespaces, so UPnP tests run against a real gateway without touching the host network.
#
#   lab.sh up <v1|v2|none> [open|deny|private-wan]     (re)create the lab; idempotent
#   lab.sh down                                         remove everything; idempotent
#
#   v1 | v2      miniupnpd presents IGDv1 (force_igd_desc_v1=yes) or IGDv2
#   none         the namespaces exist but no gateway runs (the "no gateway" case)
#   open         (default) LAN hosts may map external ports 1024-65535; ports below 1024 are refused (606)
#   deny         every mapping request is refused (606 Action not authorized)
#   private-wan  the gateway's WAN address is private (10.99.0.1): a double NAT
#
# Topology (no link to the host namespace, ever; no default route leaves the lab):
#   upnp-lan  eth0 192.168.77.2 ──── lan0 192.168.77.1  upnp-igd  wan0 11.0.0.1 ──── eth0 11.0.0.2  upnp-wan
#   (the node, runs all SSDP)          (miniupnpd :5000, NAT)                    (an outside peer)
# miniupnpd 2.3.1 refuses a private WAN address, so the WAN link uses a non-reserved address that
# exists only inside these namespaces (11.0.0.0/24; "private-wan" uses 10.99.0.0/24 on purpose).
#
# Needs root, iproute2, nftables, miniupnpd (+ miniupnpd-nftables) and curl. Installs nothing:
#   apt-get install -y --no-install-recommends miniupnpd miniupnpd-nftables miniupnpc nftables curl
# Exit codes: 0 ok, 2 usage, 3 missing tool or not root, 1 anything else (the lab is torn down).
set -eu

D=${LAB_DIR:-/tmp/meshlink-upnp-lab}
NS_IGD=upnp-igd NS_LAN=upnp-lan NS_WAN=upnp-wan

down() {
  if [ -f "$D/miniupnpd.pid" ]; then kill "$(cat "$D/miniupnpd.pid")" 2>/dev/null || true; fi
  for n in $NS_IGD $NS_LAN $NS_WAN; do
    for p in $(ip netns pids $n 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
    ip netns del $n 2>/dev/null || true
  done
  rm -f "$D/miniupnpd.pid"
}

need() {
  [ "$(id -u)" = 0 ] || { echo "lab.sh: must run as root" >&2; exit 3; }
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 || { echo "lab.sh: missing '$t' (apt-get install -y --no-install-recommends miniupnpd miniupnpd-nftables miniupnpc nftables curl)" >&2; exit 3; }
  done
}

up() {
  MODE=$1 POLICY=$2
  case $MODE in v1|v2|none) ;; *) echo "lab.sh: mode must be v1, v2 or none" >&2; exit 2;; esac
  case $POLICY in open|deny|private-wan) ;; *) echo "lab.sh: policy must be open, deny or private-wan" >&2; exit 2;; esac
  need ip nft curl
  [ "$MODE" = none ] || need miniupnpd
  mkdir -p "$D"
  down
  # anything failing from here on leaves no half-built lab behind
  trap 'rc=$?; [ $rc = 0 ] || { [ -f "$D/miniupnpd.log" ] && cat "$D/miniupnpd.log" >&2; down; }; exit $rc' EXIT
  trap 'exit 1' INT TERM HUP

  if [ "$POLICY" = private-wan ]; then WAN_NET=10.99.0; else WAN_NET=11.0.0; fi
  ip netns add $NS_IGD; ip netns add $NS_LAN; ip netns add $NS_WAN
  # veth pairs are created inside the namespaces: no interface of the lab ever exists on the host
  ip -n $NS_IGD link add lan0 type veth peer name eth0 netns $NS_LAN
  ip -n $NS_IGD link add wan0 type veth peer name eth0 netns $NS_WAN
  for n in $NS_IGD $NS_LAN $NS_WAN; do ip -n $n link set lo up; done
  ip -n $NS_IGD addr add 192.168.77.1/24 dev lan0;  ip -n $NS_IGD link set lan0 up
  ip -n $NS_IGD addr add $WAN_NET.1/24 dev wan0;    ip -n $NS_IGD link set wan0 up
  ip -n $NS_IGD route add default via $WAN_NET.2
  ip -n $NS_LAN addr add 192.168.77.2/24 dev eth0;  ip -n $NS_LAN link set eth0 up
  ip -n $NS_LAN route add default via 192.168.77.1
  ip -n $NS_WAN addr add $WAN_NET.2/24 dev eth0;    ip -n $NS_WAN link set eth0 up
  ip netns exec $NS_IGD sysctl -qw net.ipv4.ip_forward=1
  # A veth reports carrier up to a second after 'link set up' (the kernel's linkwatch delay); until
  # then the interface isn't RUNNING, and Node's os.networkInterfaces() (hence SSDP) doesn't see it.
  i=0
  until ip -n $NS_LAN -o link show eth0 | grep -q 'state UP' && ip -n $NS_WAN -o link show eth0 | grep -q 'state UP' \
    && ip -n $NS_IGD -o link show lan0 | grep -q 'state UP' && ip -n $NS_IGD -o link show wan0 | grep -q 'state UP'; do
    i=$((i+1)); [ $i -lt 100 ] || { echo "lab.sh: lab links did not come up" >&2; exit 1; }
    sleep 0.05
  done
  # the ruleset miniupnpd-nftables expects (the package's nft_init.sh is broken: load it ourselves)
  ip netns exec $NS_IGD nft -f - <<'NFT'
table inet miniupnpd {
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    iifname "lan0" oifname "wan0" accept
    jump miniupnpd
  }
  chain miniupnpd {
  }
  chain prerouting {
    type nat hook prerouting priority -100; policy accept;
    jump prerouting_miniupnpd
  }
  chain postrouting {
    type nat hook postrouting priority 100; policy accept;
    oifname "wan0" masquerade
    jump postrouting_miniupnpd
  }
  chain prerouting_miniupnpd {
  }
  chain postrouting_miniupnpd {
  }
}
NFT
  if [ "$MODE" = none ]; then
    trap - EXIT INT TERM HUP
    echo "lab up without a gateway ($POLICY)"
    return 0
  fi

  if [ "$POLICY" = deny ]; then
    RULES='deny 0-65535 0.0.0.0/0 0-65535'
  else
    RULES='allow 1024-65535 192.168.77.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535'
  fi
  cat > "$D/miniupnpd.conf" <<CONF
ext_ifname=wan0
listening_ip=lan0
port=5000
enable_upnp=yes
enable_natpmp=yes
secure_mode=no
system_uptime=yes
uuid=3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b
friendly_name=meshlink-upnp-lab
force_igd_desc_v1=$( [ "$MODE" = v1 ] && echo yes || echo no )
upnp_table_name=miniupnpd
upnp_nat_table_name=miniupnpd
upnp_forward_chain=miniupnpd
upnp_nat_chain=prerouting_miniupnpd
upnp_nat_postrouting_chain=postrouting_miniupnpd
$RULES
CONF
  ip netns exec $NS_IGD miniupnpd -f "$D/miniupnpd.conf" -d -P "$D/miniupnpd.pid" > "$D/miniupnpd.log" 2>&1 &
  i=0
  until ip netns exec $NS_LAN curl -fs -m 1 -o /dev/null http://192.168.77.1:5000/rootDesc.xml; do
    i=$((i+1)); [ $i -lt 50 ] || { echo "lab.sh: miniupnpd did not come up" >&2; exit 1; }
    sleep 0.1
  done
  trap - EXIT INT TERM HUP
  echo "lab up: IGD$( [ "$MODE" = v1 ] && echo v1 || echo v2 ) ($POLICY) at http://192.168.77.1:5000/rootDesc.xml"
}

case "${1:-}" in
  up) up "${2:-v2}" "${3:-open}" ;;
  down) need ip; down; echo "lab down" ;;
  *) echo "usage: $0 up <v1|v2|none> [open|deny|private-wan] | down" >&2; exit 2 ;;
esac
