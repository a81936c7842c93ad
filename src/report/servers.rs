//! The servers and programs a report lists: model servers on the local network with the
//! requests asked of them, MCP servers with their clients, methods, tools and calls, and the
//! programs and agents that used AI, from the store's rows of flows to them.

use super::{LocalServer, McpServerUse, ProgramUse, info};
use crate::catalog::Catalog;
use crate::store::read::{StoredMcpUse, StoredProgramUse, StoredServerUse};
use std::collections::BTreeMap;

/// The MCP servers in use, one row per server and app.
pub fn mcp_servers(catalog: &Catalog, rows: &[StoredMcpUse]) -> Vec<McpServerUse> {
    let mut by_server: BTreeMap<(String, &str), McpServerUse> = BTreeMap::new();
    for r in rows {
        let app = catalog.apps().iter().find(|a| a.id == r.app_id);
        let remote = app.is_some_and(|a| !a.domains.is_empty());
        let server = match remote {
            true => r.server.clone(),
            false => format!("{}:{}", r.server, r.server_port),
        };
        let s = (by_server.entry((server.clone(), &r.app_id))).or_insert_with(|| McpServerUse {
            server,
            name: info(catalog, &r.app_id).name.to_string(),
            remote,
            ..McpServerUse::default()
        });
        add_once(&mut s.clients, &r.user);
        // Rows written before the requests were read have the first method only.
        add_once(&mut s.methods, &r.method);
        listed(&r.methods).for_each(|m| add_once(&mut s.methods, &m));
        listed(&r.tools).for_each(|t| add_once(&mut s.tools, &t));
        s.flows += r.flows;
        s.calls += r.calls;
    }
    let mut out: Vec<McpServerUse> = by_server.into_values().collect();
    for s in &mut out {
        s.clients.sort();
        s.methods.sort();
        s.tools.sort();
    }
    out
}

/// AI used by programs and agents, one row per host, user and software, most data first.
pub fn programs(catalog: &Catalog, rows: &[StoredProgramUse]) -> Vec<ProgramUse> {
    let mut by_program: BTreeMap<(&str, &str, &str), ProgramUse> = BTreeMap::new();
    for r in rows {
        let p = (by_program.entry((&r.host, &r.user, &r.software))).or_insert_with(|| ProgramUse {
            host: r.host.clone(),
            user: r.user.clone(),
            software: r.software.clone(),
            apps: Vec::new(),
            flows: 0,
            bytes_up: 0,
        });
        let name = info(catalog, &r.app_id).name.to_string();
        if !p.apps.contains(&name) {
            p.apps.push(name);
        }
        p.flows += r.flows;
        p.bytes_up += r.bytes_up;
    }
    let mut out: Vec<ProgramUse> = by_program.into_values().collect();
    for p in &mut out {
        p.apps.sort();
    }
    out.sort_by_key(|p| std::cmp::Reverse(p.bytes_up));
    out
}

/// The model servers on the local network, one row per app and server.
pub fn local_servers(catalog: &Catalog, rows: &[StoredServerUse]) -> Vec<LocalServer> {
    let mut by_server: BTreeMap<(&str, String), LocalServer> = BTreeMap::new();
    for r in rows {
        let server = if r.server_ip.contains(':') {
            format!("[{}]:{}", r.server_ip, r.server_port)
        } else {
            format!("{}:{}", r.server_ip, r.server_port)
        };
        let s = (by_server.entry((&r.app_id, server.clone()))).or_insert_with(|| LocalServer {
            app_id: r.app_id.clone(),
            name: info(catalog, &r.app_id).name.to_string(),
            server,
            ..LocalServer::default()
        });
        add_once(&mut s.users, &r.user);
        listed(&r.paths).for_each(|p| add_once(&mut s.paths, &p));
        s.flows += r.flows;
        s.requests += r.requests;
        s.bytes_up += r.bytes_up;
    }
    let mut out: Vec<LocalServer> = by_server.into_values().collect();
    for s in &mut out {
        s.users.sort();
        s.paths.sort();
    }
    out
}

/// Adds `item` to `list` unless it is empty or there already.
fn add_once(list: &mut Vec<String>, item: &str) {
    if !item.is_empty() && !list.iter().any(|i| i == item) {
        list.push(item.to_string());
    }
}

/// The items of a stored list (comma-separated, a comma inside an item written `%2C`).
fn listed(column: &str) -> impl Iterator<Item = String> + '_ {
    (column.split(','))
        .filter(|i| !i.is_empty())
        .map(|i| i.replace("%2C", ","))
}
