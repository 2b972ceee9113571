//! Admins and members through the real gateway, with the stand-in GitHub: ada is named in
//! `auth.allowed_users` (an admin, as there is no `auth.admins`), grace gets in as a member
//! of the allowed organization (a member).

use std::collections::BTreeSet;
use std::path::Path;

use crate::oauth::{VERIFIER, approved_code, exchange, json};
use crate::support::browser::Browser;
use crate::support::extension::{FAST_SUPERVISION, write_config_with};
use crate::support::github::{GithubUser, StandInGithub};
use crate::support::luna::TestLuna;
use crate::support::raw_http::{self, RawResponse};

fn ada() -> GithubUser {
    GithubUser { id: 4242, login: "ada".into(), orgs: vec![] }
}

fn grace() -> GithubUser {
    GithubUser { id: 7, login: "grace".into(), orgs: vec!["lunatics".into()] }
}

const ALLOWED: &str = "allowed_users = [\"ada\"]\nallowed_orgs = [\"lunatics\"]\n";

fn write_settings(github: &StandInGithub, home: &Path, auth: &str) {
    std::fs::write(home.join(".env"), StandInGithub::env_file()).unwrap();
    write_config_with(home, FAST_SUPERVISION, &github.config(auth));
}

/// Luna with the hello extension and Luna's admin tools offered over MCP.
fn luna_with_hello(github: &StandInGithub) -> TestLuna {
    let luna = TestLuna::start_with(|home| {
        write_settings(github, home, ALLOWED);
        crate::mcp::add_hello(home);
    });
    luna.wait_running("hello_tools");
    for tool in ["LUNA_GET_services", "LUNA_ACTION_restart_service"] {
        let flags = raw_http::request_unix_with_body(
            &luna.api_socket(),
            "POST",
            &format!("/api/supervisor/tools/{tool}"),
            &[("Content-Type", "application/json")],
            r#"{"enabled_in_mcp": true}"#,
        );
        assert_eq!(flags.status, 200, "{}", flags.body);
    }
    luna
}

/// A browser logged in as `user`.
fn logged_in(github: &StandInGithub, luna: &TestLuna, user: GithubUser) -> Browser {
    github.set(|github| github.user = user);
    let mut browser = Browser::default();
    assert_eq!(browser.login(luna.address, "/").status, 302);
    browser
}

fn call(browser: &mut Browser, luna: &TestLuna, method: &str, target: &str) -> RawResponse {
    browser.request(luna.address, method, target, &[("Accept", "application/json")])
}

/// An MCP access token for `user`, who approved a fresh client.
fn access_token(github: &StandInGithub, luna: &TestLuna, user: GithubUser) -> String {
    github.set(|github| github.user = user);
    let (_browser, client_id, code) = approved_code(luna);
    let tokens = json(&exchange(luna, &client_id, &code, VERIFIER));
    tokens["access_token"].as_str().unwrap().to_string()
}

/// One stateless (2026-07-28) MCP request with `token` as the bearer; the JSON-RPC answer.
fn mcp(luna: &TestLuna, token: &str, method: &str, params: serde_json::Value) -> serde_json::Value {
    let mut params = params;
    let name = params["name"].as_str().map(str::to_string);
    params["_meta"] = serde_json::json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "roles-test", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {},
    });
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
    let authorization = format!("Bearer {token}");
    let mut headers = vec![
        ("Content-Type", "application/json"),
        ("Accept", "application/json, text/event-stream"),
        ("MCP-Protocol-Version", "2026-07-28"),
        ("Mcp-Method", method),
        ("Authorization", authorization.as_str()),
    ];
    if let Some(name) = &name {
        headers.push(("Mcp-Name", name.as_str()));
    }
    let response = raw_http::request_with_body(luna.address, "POST", "/api/mcp", &headers, &body);
    assert_eq!(response.status, 200, "{method}: {}", response.body);
    let text = response.body.lines().find_map(|line| line.strip_prefix("data: ")).unwrap_or(&response.body);
    serde_json::from_str(text).unwrap_or_else(|_| panic!("not JSON-RPC: {}", response.body))
}

fn tool_names(luna: &TestLuna, token: &str) -> Vec<String> {
    let listing = mcp(luna, token, "tools/list", serde_json::json!({}));
    let tools = listing["result"]["tools"].as_array().unwrap_or_else(|| panic!("{listing}"));
    tools.iter().map(|tool| tool["name"].as_str().unwrap().to_string()).collect()
}

/// The tool's result, or the JSON-RPC error's message.
fn call_tool(luna: &TestLuna, token: &str, name: &str, arguments: serde_json::Value) -> Result<String, String> {
    let answer = mcp(luna, token, "tools/call", serde_json::json!({"name": name, "arguments": arguments}));
    match answer["error"]["message"].as_str() {
        Some(message) => Err(message.to_string()),
        None => Ok(answer["result"]["content"][0]["text"].as_str().unwrap_or_default().to_string()),
    }
}

/// The mutating routes a member may use: their own sessions and clients, and the agents. A new mutating
/// route open to members must be added here on purpose.
const MEMBER_CHANGES: [&str; 3] = [
    // Talking to an agent uses tools, as MCP does; it changes nothing of Luna's.
    "POST /api/agent/v1/chat/completions",
    "POST /api/supervisor/oauth/clients/{id}/revoke",
    "POST /api/supervisor/sessions/{id}/revoke",
];

#[test]
fn every_control_route_declares_its_role_and_a_member_is_refused_what_needs_an_admin() {
    let github = StandInGithub::start(ada());
    let luna = TestLuna::start_with(|home| write_settings(&github, home, ALLOWED));
    let mut admin = logged_in(&github, &luna, ada());
    let mut member = logged_in(&github, &luna, grace());
    assert_eq!(json(&call(&mut admin, &luna, "GET", "/auth/me"))["role"], "admin");
    assert_eq!(json(&call(&mut member, &luna, "GET", "/auth/me"))["role"], "member");

    let document = luna.get_json("/api/openapi.json");
    let mut member_changes = BTreeSet::new();
    let mut checked = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        // Placeholder names: the handlers answer 404 or 400 and change nothing.
        let target = path.replace("{name}", "nosuch").replace("{key}", "NOSUCH").replace("{id}", "nosuch");
        for (method, operation) in item.as_object().unwrap() {
            let method = method.to_uppercase();
            let route = format!("{method} {path}");
            let role = operation["x-luna-role"].as_str().unwrap_or_else(|| panic!("{route} declares no role"));
            if role == "member" && method != "GET" {
                member_changes.insert(route.clone());
            }
            let refused = call(&mut member, &luna, &method, &target);
            match role {
                "admin" => {
                    assert_eq!(refused.status, 403, "{route}: a member is refused: {}", refused.body);
                    assert_eq!(json(&refused)["error"], "forbidden", "{route}");
                }
                "member" => assert!(![401, 403].contains(&refused.status), "{route}: {}", refused.body),
                other => panic!("{route}: unknown role {other}"),
            }
            if route == "POST /api/supervisor/shutdown" {
                continue; // last, below
            }
            let allowed = call(&mut admin, &luna, &method, &target);
            assert!(![401, 403].contains(&allowed.status), "{route}: an admin passes: {}", allowed.body);
            checked += 1;
        }
    }
    assert!(checked > 40, "the document lists the control routes ({checked})");
    assert_eq!(member_changes, MEMBER_CHANGES.iter().map(|route| route.to_string()).collect());

    // Secrets are masked for everyone and revealed only to an admin.
    for target in ["/api/external-services/installed?reveal=true", "/api/supervisor/mcp?reveal=true"] {
        assert_eq!(call(&mut member, &luna, "GET", target).status, 403, "{target}");
        assert_eq!(call(&mut admin, &luna, "GET", target).status, 200, "{target}");
    }
    let masked = json(&call(&mut member, &luna, "GET", "/api/supervisor/mcp"));
    assert_eq!(masked["token"], "********");

    assert_eq!(call(&mut admin, &luna, "POST", "/api/supervisor/shutdown").status, 202, "an admin shuts Luna down");
}

#[test]
fn an_organization_member_uses_the_hub_and_tools_but_changes_nothing() {
    let github = StandInGithub::start(ada());
    let luna = luna_with_hello(&github);
    let mut member = logged_in(&github, &luna, grace());

    let ui = member.open_app(luna.address, &luna.app_host("hello"), "/", &[("Accept", "text/html")]);
    assert_eq!(ui.status, 200, "the hello UI: {}", ui.body);
    assert_eq!(call(&mut member, &luna, "GET", "/api/supervisor/status").status, 200);
    let install = member.request_with_body(
        luna.address,
        "POST",
        "/api/supervisor/extensions/install",
        &[("Content-Type", "application/json"), ("Accept", "application/json")],
        r#"{"source": "github:mallory/backdoor"}"#,
    );
    assert_eq!(install.status, 403, "{}", install.body);
    assert!(json(&install)["detail"].as_str().unwrap().contains("@grace is a member"), "{}", install.body);
    assert_eq!(call(&mut member, &luna, "POST", "/api/supervisor/shutdown").status, 403);
    // A role the client claims is stripped at the gateway, in any spelling.
    for header in ["X-Luna-Role", "x_luna_role", "X-Luna-User"] {
        let claimed = [("Accept", "application/json"), (header, "admin")];
        let refused = member.request(luna.address, "POST", "/api/supervisor/shutdown", &claimed);
        assert_eq!(refused.status, 403, "{header}: {}", refused.body);
    }
    assert_eq!(call(&mut member, &luna, "GET", "/api/supervisor/keys").status, 403);
    assert_eq!(raw_http::get(luna.address, "/healthz").status, 200, "Luna still runs");

    // A member's own sessions only; an admin sees everyone's.
    let mut admin = logged_in(&github, &luna, ada());
    let logins = |browser: &mut Browser| -> BTreeSet<String> {
        let sessions = json(&call(browser, &luna, "GET", "/api/supervisor/sessions"));
        sessions.as_array().unwrap().iter().map(|session| session["login"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(logins(&mut member), BTreeSet::from(["grace".to_string()]));
    assert_eq!(logins(&mut admin), BTreeSet::from(["ada".to_string(), "grace".to_string()]));

    // Over MCP: the member's client sees no admin tool, and calling one by name is refused.
    let token = access_token(&github, &luna, grace());
    assert_eq!(tool_names(&luna, &token), ["HELLO_GET_greeting"]);
    let refused = call_tool(&luna, &token, "LUNA_ACTION_restart_service", serde_json::json!({"name": "hello.api"}));
    let refusal = refused.expect_err("an admin tool is refused");
    assert!(refusal.contains("@grace is a member"), "{refusal}");
    let greeting = call_tool(&luna, &token, "HELLO_GET_greeting", serde_json::json!({"name": "Grace"}));
    assert!(greeting.unwrap().contains("Grace"), "a member's client uses the hello tool");

    let admins_token = access_token(&github, &luna, ada());
    assert!(tool_names(&luna, &admins_token).contains(&"LUNA_GET_services".to_string()));
    assert!(call_tool(&luna, &admins_token, "LUNA_GET_services", serde_json::json!({})).is_ok());
}

#[test]
fn a_demoted_admin_is_a_member_in_their_old_session_and_through_their_old_grant() {
    let github = StandInGithub::start(ada());
    let luna = luna_with_hello(&github);
    let mut browser = logged_in(&github, &luna, ada());
    let token = access_token(&github, &luna, ada());
    assert!(tool_names(&luna, &token).contains(&"LUNA_GET_services".to_string()), "the control case");
    assert_eq!(call(&mut browser, &luna, "GET", "/api/supervisor/keys").status, 200, "the control case");

    let luna = luna.restart_with(|home| {
        write_settings(&github, home, &format!("{ALLOWED}admins = [\"7\"]\n"));
    });
    luna.wait_running("hello_tools");

    assert_eq!(json(&call(&mut browser, &luna, "GET", "/auth/me"))["role"], "member", "the same session");
    let refused = call(&mut browser, &luna, "GET", "/api/supervisor/keys");
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(tool_names(&luna, &token), ["HELLO_GET_greeting"], "the same grant");
    assert!(call_tool(&luna, &token, "LUNA_GET_services", serde_json::json!({})).is_err());
}
