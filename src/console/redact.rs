//! What a viewer is shown: a [`Report`] with no person in it. Users, devices and client
//! addresses are removed from every table (and so from every page and download made of it);
//! what they did stays as counts. A local server's address goes too: a person's own machine
//! may be the one that serves a model.

use crate::report::Report;

/// The report without users, devices or client addresses: the tables that are per person
/// (the top users, the timeline, the clients of encrypted DNS) are emptied; the others keep
/// their rows and counts with the names blanked.
pub fn without_people(mut r: Report) -> Report {
    r.filter.user = None;
    r.timeline.clear();
    r.top_users.clear();
    r.visibility.encrypted_dns.clear();
    for app in &mut r.new_apps {
        app.first_user.clear();
    }
    for server in &mut r.local_servers {
        server.server.clear();
        server.users.clear();
    }
    for program in &mut r.programs {
        program.host.clear();
        program.user.clear();
    }
    for mcp in &mut r.mcp_servers {
        mcp.clients.clear();
        if !mcp.remote {
            mcp.server.clear();
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{LocalServer, McpServerUse, NewApp, ProgramUse, RiskyUse};

    #[test]
    fn no_name_of_a_person_is_left_in_any_table() {
        let mut r = Report {
            period: crate::report::Period::dates("2026-11-16", "2026-11-22").unwrap(),
            policy: false,
            store_has_data: true,
            filter: Default::default(),
            headline: Default::default(),
            apps: vec![],
            new_apps: vec![NewApp {
                first_user: "alice".into(),
                ..Default::default()
            }],
            top_users: vec![RiskyUse {
                user: "alice".into(),
                ..Default::default()
            }],
            api_use: vec![],
            categories: vec![],
            trend: vec![],
            candidates: vec![],
            one_source_apps: vec![],
            local_servers: vec![LocalServer {
                server: "10.0.0.7:11434".into(),
                users: vec!["alice".into()],
                flows: 3,
                ..Default::default()
            }],
            programs: vec![ProgramUse {
                host: "alice-laptop".into(),
                user: "alice".into(),
                flows: 2,
                ..Default::default()
            }],
            mcp_servers: vec![McpServerUse {
                server: "10.0.0.7:8000".into(),
                clients: vec!["alice".into()],
                ..Default::default()
            }],
            timeline: vec![Default::default()],
            visibility: Default::default(),
        };
        r.filter.user = Some("alice".into());
        let shown = without_people(r);
        let json = serde_json::to_string(&shown).unwrap();
        assert!(
            !json.contains("alice") && !json.contains("10.0.0.7"),
            "{json}"
        );
        assert_eq!(shown.local_servers[0].flows, 3);
        assert_eq!(shown.programs[0].flows, 2);
    }
}
