#!/bin/sh
# dhcp_script.sh - the address-configuring script for ISC dhclient (-sf) and busybox udhcpc (-s)
# in lantern's identity capture: sets and removes the leased address on the interface and
# touches nothing else (no resolv.conf, no routes beyond the prefix).
case "${reason:-$1}" in
  # ISC dhclient, IPv4
  BOUND|RENEW|REBIND|REBOOT)
    ip addr add "$new_ip_address/${new_subnet_mask:-255.255.0.0}" dev "$interface" 2>/dev/null || true ;;
  RELEASE|EXPIRE|STOP)
    [ -n "${old_ip_address:-}" ] && ip addr del "$old_ip_address/${old_subnet_mask:-255.255.0.0}" dev "$interface" 2>/dev/null || true ;;
  # ISC dhclient, IPv6
  # dhclient says /128 for an IA_NA address; the LAN's prefix is a /64 (there is no router
  # advertisement here to say so).
  BOUND6|RENEW6|REBIND6|REBOOT6)
    ip -6 addr add "$new_ip6_address/64" dev "$interface" nodad 2>/dev/null || true ;;
  RELEASE6|EXPIRE6|STOP6)
    [ -n "${old_ip6_address:-}" ] && ip -6 addr del "$old_ip6_address/64" dev "$interface" 2>/dev/null || true ;;
  # busybox udhcpc
  bound|renew)
    ip addr flush dev "$interface" scope global
    ip addr add "$ip/${mask:-16}" dev "$interface" ;;
  deconfig)
    ip addr flush dev "$interface" scope global ;;
esac
exit 0
