//! Addresses and ports: what the engine would refuse, or silently get wrong.

use super::Report;
use crate::model::{Kind, Spec};
use crate::state::{DesiredState, Resource};
use std::collections::HashMap;
use std::net::IpAddr;

pub(super) fn check(state: &DesiredState, out: &mut Report) {
    check_host_ports(state, out);
    check_subnets(state, out);
    check_static_addresses(state, out);
}

fn binds_all(ip: Option<IpAddr>) -> bool {
    ip.is_none_or(|ip| ip.is_unspecified())
}

fn check_host_ports(state: &DesiredState, out: &mut Report) {
    let mut published: Vec<(&Resource, usize, u16, Option<IpAddr>, &str)> = Vec::new();
    for r in state.workloads() {
        let Some(w) = r.spec.workload() else { continue };
        for (i, p) in w.ports.iter().enumerate() {
            let twin = w.ports[..i].iter().any(|q| {
                q.container_port == p.container_port
                    && q.protocol == p.protocol
                    && q.host_port == p.host_port
                    && q.host_ip == p.host_ip
            });
            if twin {
                out.error(
                    r,
                    &format!("/spec/ports/{i}"),
                    format!(
                        "port {}/{} is listed twice",
                        p.container_port,
                        p.protocol.as_str()
                    ),
                    Some("remove the duplicate entry".into()),
                );
            }
            // 0 is a port Docker picks: it cannot clash.
            let Some(host) = p.host_port.filter(|h| *h != 0) else {
                continue;
            };
            let proto = p.protocol.as_str();
            let clash = published.iter().find(|(_, _, hp, ip, pr)| {
                *hp == host
                    && *pr == proto
                    && (binds_all(*ip) || binds_all(p.host_ip) || *ip == p.host_ip)
            });
            if let Some((other, j, ..)) = clash {
                let addr = p
                    .host_ip
                    .map(|ip| ip.to_string())
                    .unwrap_or_else(|| "0.0.0.0".into());
                let other_at = other
                    .locate(&format!("/spec/ports/{j}"))
                    .map(|l| format!(" ({l})"))
                    .unwrap_or_default();
                out.error(
                    r,
                    &format!("/spec/ports/{i}/hostPort"),
                    format!("host port {addr}:{host}/{proto} is already published by {}{other_at}", other.id()),
                    Some("publish on another hostPort, or drop hostPort to keep the port inside the networks".into()),
                );
            } else {
                published.push((r, i, host, p.host_ip, proto));
            }
        }
    }
}

fn check_subnets(state: &DesiredState, out: &mut Report) {
    let nets: Vec<(&Resource, ipnet::IpNet)> = state
        .of_kind(Kind::Network)
        .filter_map(|r| match &r.spec {
            Spec::Network(n) => n.subnet.map(|s| (r, s.0)),
            _ => None,
        })
        .collect();
    for (i, (r, net)) in nets.iter().enumerate() {
        if let Some((other, other_net)) = nets[..i]
            .iter()
            .find(|(_, o)| o.contains(net) || net.contains(o))
        {
            out.error(
                r,
                "/spec/subnet",
                format!("subnet {net} overlaps {} ({other_net})", other.id()),
                Some(
                    "give each network its own range, e.g. 172.21.0.0/16 next to 172.20.0.0/16"
                        .into(),
                ),
            );
        }
        if let Spec::Network(spec) = &r.spec {
            if let Some(gw) = spec.gateway {
                if !net.contains(&gw) {
                    out.error(
                        r,
                        "/spec/gateway",
                        format!("gateway {gw} is outside subnet {net}"),
                        Some(format!(
                            "use an address inside {net}, usually its first host"
                        )),
                    );
                }
            }
        }
    }
    for r in state.of_kind(Kind::Network) {
        if let Spec::Network(spec) = &r.spec {
            if spec.gateway.is_some() && spec.subnet.is_none() {
                out.error(
                    r,
                    "/spec/gateway",
                    "a gateway needs a subnet",
                    Some("add spec.subnet".into()),
                );
            }
        }
    }
}

fn check_static_addresses(state: &DesiredState, out: &mut Report) {
    let mut used: HashMap<(&str, IpAddr), &Resource> = HashMap::new();
    for r in state.workloads() {
        let Some(w) = r.spec.workload() else { continue };
        for (i, att) in w.networks.iter().enumerate() {
            let Some(ip) = att.ipv4_address else { continue };
            let at = format!("/spec/networks/{i}/ipv4Address");
            let ip = IpAddr::V4(ip);
            let network = state
                .get(Kind::Network, &att.name)
                .and_then(|n| match &n.spec {
                    Spec::Network(s) => Some((n, s)),
                    _ => None,
                });
            if let Some((net_res, spec)) = network {
                match spec.subnet {
                    None => out.error(
                        r,
                        &at,
                        format!("a static address needs a subnet on {}", net_res.id()),
                        Some(format!("declare spec.subnet on {}", net_res.id())),
                    ),
                    Some(subnet) if !subnet.0.contains(&ip) => out.error(
                        r,
                        &at,
                        format!("address {ip} is outside {}'s subnet {subnet}", net_res.id()),
                        Some(format!("pick an address inside {subnet}")),
                    ),
                    Some(_) if spec.gateway == Some(ip) => out.error(
                        r,
                        &at,
                        format!("address {ip} is the gateway of {}", net_res.id()),
                        Some("pick another address".into()),
                    ),
                    Some(_) => {}
                }
            }
            if let Some(other) = used.insert((att.name.as_str(), ip), r) {
                out.error(
                    r,
                    &at,
                    format!(
                        "address {ip} on {} is already used by {}",
                        att.name,
                        other.id()
                    ),
                    Some("give each container its own address".into()),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    fn run(yaml: &str) -> Vec<String> {
        let mut out = Report::default();
        check(&state(yaml), &mut out);
        messages(&out.0)
    }

    #[test]
    fn host_port_clash_names_both_sides() {
        let yaml = format!(
            "{}{}{}",
            service("a", "  ports: [{containerPort: 8086, hostPort: 8086}]\n"),
            service(
                "b",
                "  ports: [{containerPort: 8086, hostPort: 8086, hostIP: 127.0.0.1}]\n"
            ),
            service(
                "c",
                "  ports: [{containerPort: 8086, hostPort: 8086, protocol: udp}]\n"
            ),
        );
        let m = run(&yaml);
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(m[0].contains("Service/b: spec.ports[0].hostPort: host port 127.0.0.1:8086/tcp is already published by Service/a (test.yaml:"), "{}", m[0]);
    }

    #[test]
    fn same_container_port_in_two_services_is_fine() {
        let yaml = format!(
            "{}{}",
            service("a", "  ports: [{containerPort: 8087}]\n"),
            service("b", "  ports: [{containerPort: 8087}]\n")
        );
        assert!(run(&yaml).is_empty());
    }

    #[test]
    fn overlapping_subnets_and_stray_gateways() {
        let yaml = format!(
            "{}{}",
            network("a", "{subnet: 172.20.0.0/16}"),
            network("b", "{subnet: 172.20.5.0/24, gateway: 10.0.0.1}")
        );
        let m = run(&yaml);
        assert!(
            m.iter().any(|m| m.contains(
                "Network/b: spec.subnet: subnet 172.20.5.0/24 overlaps Network/a (172.20.0.0/16)"
            )),
            "{m:?}"
        );
        assert!(
            m.iter()
                .any(|m| m.contains("gateway 10.0.0.1 is outside subnet 172.20.5.0/24")),
            "{m:?}"
        );
    }

    #[test]
    fn static_addresses_inside_and_unique() {
        let yaml = format!(
            "{}{}{}",
            network("n", "{subnet: 172.20.0.0/16}"),
            service("a", "  networks: [{name: n, ipv4Address: 172.21.0.5}]\n"),
            service("b", "  networks: [{name: n, ipv4Address: 172.20.0.5}]\n"),
        ) + &service("c", "  networks: [{name: n, ipv4Address: 172.20.0.5}]\n");
        let m = run(&yaml);
        assert!(
            m.iter()
                .any(|m| m
                    .contains("address 172.21.0.5 is outside Network/n's subnet 172.20.0.0/16")),
            "{m:?}"
        );
        assert!(m.iter().any(|m| m.contains("Service/c: spec.networks[0].ipv4Address: address 172.20.0.5 on n is already used by Service/b")), "{m:?}");
    }

    #[test]
    fn ephemeral_host_ports_never_clash() {
        let yaml = [
            service("a", "  ports: [{containerPort: 80, hostPort: 0}]\n"),
            service("b", "  ports: [{containerPort: 80, hostPort: 0}]\n"),
        ]
        .concat();
        let mut out = Report::default();
        check(&state(&yaml), &mut out);
        assert!(out.0.is_empty(), "{:?}", messages(&out.0));
    }
}
