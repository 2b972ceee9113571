use std::collections::HashMap;

use super::*;

fn home_with_config(toml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("config")).unwrap();
    std::fs::write(dir.path().join("config/luna.toml"), toml).unwrap();
    dir
}

fn flags_for(dir: &tempfile::TempDir) -> Flags {
    Flags { home: Some(dir.path().to_path_buf()), ..Flags::default() }
}

#[test]
fn a_bare_home_runs_local_on_8800() {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings::load(&flags_for(&dir), &HashMap::new()).unwrap();
    assert_eq!(settings.deployment_mode, DeploymentMode::Local);
    assert_eq!(settings.http_listen, "127.0.0.1:8800".parse().unwrap());
    assert_eq!(settings.log.format, LogFormat::Text);
}

#[test]
fn environment_beats_file_and_flag_beats_environment() {
    let dir = home_with_config("[server]\nhttp_listen = \"127.0.0.1:9001\"\n");
    let from_file = Settings::load(&flags_for(&dir), &HashMap::new()).unwrap();
    assert_eq!(from_file.http_listen.port(), 9001);

    let env = HashMap::from([("LUNA_HTTP_LISTEN", "127.0.0.1:9002")]);
    assert_eq!(Settings::load(&flags_for(&dir), &env).unwrap().http_listen.port(), 9002);

    let flags = Flags { http_listen: Some("127.0.0.1:9003".into()), ..flags_for(&dir) };
    assert_eq!(Settings::load(&flags, &env).unwrap().http_listen.port(), 9003);
}

#[test]
fn an_invalid_value_names_key_and_origin() {
    let dir = tempfile::tempdir().unwrap();
    let env = HashMap::from([("LUNA_HTTP_LISTEN", "not-an-address")]);
    let error = Settings::load(&flags_for(&dir), &env).unwrap_err();
    assert_eq!(error.key, "server.http_listen");
    assert_eq!(error.origin, Origin::Env("LUNA_HTTP_LISTEN"));
}

#[test]
fn local_mode_refuses_a_public_listener() {
    let dir = tempfile::tempdir().unwrap();
    let flags = Flags { http_listen: Some("0.0.0.0:8800".into()), ..flags_for(&dir) };
    let error = Settings::load(&flags, &HashMap::new()).unwrap_err();
    assert_eq!(error.key, "server.http_listen");
    assert!(error.reason.contains("loopback"), "{}", error.reason);
}

#[test]
fn unknown_and_mistyped_file_keys_are_named() {
    let dir = home_with_config("[server]\nhtp_listen = \"127.0.0.1:1\"\n");
    let error = Settings::load(&flags_for(&dir), &HashMap::new()).unwrap_err();
    assert!(error.key.starts_with("server"), "{error}");
    assert!(error.reason.contains("htp_listen"), "{error}");

    let dir = home_with_config("[server]\nhttp_listen = 8800\n");
    let error = Settings::load(&flags_for(&dir), &HashMap::new()).unwrap_err();
    assert_eq!(error.key, "server.http_listen", "{error}");
    assert!(error.reason.contains("line 2"), "{error}");
}

#[test]
fn unknown_deployment_mode_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let env = HashMap::from([("LUNA_DEPLOYMENT_MODE", "cloud")]);
    let error = Settings::load(&flags_for(&dir), &env).unwrap_err();
    assert_eq!(error.key, "deployment_mode");
}

#[test]
fn an_explicit_config_file_must_exist() {
    let dir = tempfile::tempdir().unwrap();
    let flags = Flags { config: Some(dir.path().join("missing.toml")), ..flags_for(&dir) };
    let error = Settings::load(&flags, &HashMap::new()).unwrap_err();
    assert_eq!(error.key, "config");
    assert_eq!(error.origin, Origin::Flag("--config"));
}

#[test]
fn the_shipped_config_file_is_valid() {
    let shipped = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/luna.toml")).unwrap();
    let dir = home_with_config(&shipped);
    let settings = Settings::load(&flags_for(&dir), &HashMap::new()).unwrap();
    assert_eq!(settings.http_listen, "127.0.0.1:8800".parse().unwrap());
}

/// A home with a GitHub app and an allow-list, which every public mode needs.
fn public_home(toml: &str) -> tempfile::TempDir {
    let dir = home_with_config(&format!("{toml}\n[auth]\nallowed_users = [\"octocat\"]\n"));
    std::fs::write(dir.path().join(".env"), "GITHUB_CLIENT_ID=id\nGITHUB_CLIENT_SECRET=secret\n").unwrap();
    dir
}

#[test]
fn custom_domain_serves_https_for_its_domain_over_acme() {
    let dir = public_home("deployment_mode = \"custom_domain\"\npublic_domain = \"Luna.Example.com\"");
    let settings = Settings::load(&flags_for(&dir), &HashMap::new()).unwrap();
    assert_eq!(settings.http_listen, "0.0.0.0:80".parse().unwrap());
    let https = settings.https.unwrap();
    assert_eq!(https.listen, "0.0.0.0:443".parse().unwrap());
    assert_eq!(https.host, "luna.example.com");
    assert_eq!(settings.public_url, "https://luna.example.com");
    let CertificateSource::Acme(acme) = https.certificate else { panic!("not ACME") };
    assert_eq!(acme.directory_url, https::LETS_ENCRYPT_DIRECTORY);

    let env = HashMap::from([("LUNA_ACME_DIRECTORY_URL", "staging"), ("LUNA_HTTPS_LISTEN", "0.0.0.0:8443")]);
    let settings = Settings::load(&flags_for(&dir), &env).unwrap();
    assert_eq!(settings.public_url, "https://luna.example.com:8443");
    let CertificateSource::Acme(acme) = settings.https.unwrap().certificate else { panic!("not ACME") };
    assert_eq!(acme.directory_url, https::LETS_ENCRYPT_STAGING_DIRECTORY);
}

#[test]
fn nip_io_derives_its_domain_from_the_public_ip() {
    let dir = public_home("deployment_mode = \"nip_io\"\npublic_ip = \"203.0.113.7\"");
    let settings = Settings::load(&flags_for(&dir), &HashMap::new()).unwrap();
    assert_eq!(settings.https.unwrap().host, "203-0-113-7.nip.io");
    let env = HashMap::from([("LUNA_PUBLIC_IP", "nine")]);
    let error = Settings::load(&flags_for(&dir), &env).unwrap_err();
    assert_eq!((error.key.as_str(), error.origin), ("public_ip", Origin::Env("LUNA_PUBLIC_IP")));
}

#[test]
fn public_modes_name_what_is_missing() {
    let error =
        Settings::load(&flags_for(&public_home("deployment_mode = \"custom_domain\"")), &HashMap::new()).unwrap_err();
    assert_eq!(error.key, "public_domain");

    let dir = home_with_config("deployment_mode = \"lan\"\n");
    let error = Settings::load(&flags_for(&dir), &HashMap::new()).unwrap_err();
    assert_eq!(error.key, "GITHUB_CLIENT_ID");
    assert!(error.reason.contains("allowed_users"), "{error}");

    let dir = public_home(
        "deployment_mode = \"custom_domain\"\npublic_domain = \"luna.example.com\"\n[acme]\nemail = \"not mail\"",
    );
    assert_eq!(Settings::load(&flags_for(&dir), &HashMap::new()).unwrap_err().key, "acme.email");
    let dir = public_home(
        "deployment_mode = \"custom_domain\"\npublic_domain = \"luna.example.com\"\n[acme]\nca_bundle = \"/nonexistent.pem\"",
    );
    let error = Settings::load(&flags_for(&dir), &HashMap::new()).unwrap_err();
    assert_eq!(error.key, "acme.ca_bundle");
    assert!(error.reason.contains("/nonexistent.pem"), "{error}");
}

#[test]
fn local_mode_has_no_https_listener() {
    let dir = tempfile::tempdir().unwrap();
    assert!(Settings::load(&flags_for(&dir), &HashMap::new()).unwrap().https.is_none());
    let flags = Flags { https_listen: Some("127.0.0.1:8443".into()), ..flags_for(&dir) };
    let error = Settings::load(&flags, &HashMap::new()).unwrap_err();
    assert_eq!((error.key.as_str(), error.origin), ("server.https_listen", Origin::Flag("--https-listen")));
}

#[test]
fn open_local_mode_refuses_a_public_url_that_is_not_loopback() {
    let dir = tempfile::tempdir().unwrap();
    for url in ["https://luna.example.com", "http://192.168.1.20:8800", "https://abc.trycloudflare.com"] {
        let env = HashMap::from([("LUNA_PUBLIC_URL", url)]);
        let error = Settings::load(&flags_for(&dir), &env).unwrap_err();
        assert_eq!(
            (error.key.as_str(), &error.origin),
            ("server.public_url", &Origin::Env("LUNA_PUBLIC_URL")),
            "{url}"
        );
        assert!(error.reason.contains("GITHUB_CLIENT_ID"), "says how to require a login: {error}");
    }
    for url in ["http://127.0.0.1:8800", "http://localhost:8800", "http://luna.localhost:8800", "http://[::1]:8800"] {
        let env = HashMap::from([("LUNA_PUBLIC_URL", url)]);
        assert!(Settings::load(&flags_for(&dir), &env).is_ok(), "{url}");
    }
    // With a login, any public URL will do.
    let dir = public_home("");
    let env = HashMap::from([("LUNA_PUBLIC_URL", "https://luna.example.com")]);
    assert_eq!(Settings::load(&flags_for(&dir), &env).unwrap().public_url, "https://luna.example.com");
}

#[test]
fn allow_list_entries_are_ids_or_logins_and_nothing_else() {
    let dir = public_home("");
    let env = HashMap::from([("LUNA_ALLOWED_USERS", "4242, ada")]);
    let allow_list = Settings::load(&flags_for(&dir), &env).unwrap().auth.allow_list;
    let account = |id, login: &str| crate::allow_list::Account { id, login: login.into() };
    assert!(allow_list.names(&account(4242, "anyone")) && allow_list.names(&account(7, "ada")));
    assert!(!allow_list.names(&account(7, "4242")), "an all-digit entry is an id, never a login");

    let env = HashMap::from([("LUNA_ALLOWED_USERS", "ada, @grace")]);
    let error = Settings::load(&flags_for(&dir), &env).unwrap_err();
    assert_eq!((error.key.as_str(), &error.origin), ("auth.allowed_users", &Origin::Env("LUNA_ALLOWED_USERS")));
    assert!(error.reason.contains("grace"), "{error}");
    let dir = home_with_config("[auth]\nallowed_orgs = [\"my org\"]\n");
    let error = Settings::load(&flags_for(&dir), &HashMap::new()).unwrap_err();
    assert_eq!(error.key, "auth.allowed_orgs");
    assert!(error.reason.contains("my org"), "{error}");
}

#[test]
fn admins_are_read_from_the_file_or_the_environment_and_checked_like_the_allow_list() {
    use crate::allow_list::{Account, Role};
    let grace = Account { id: 7, login: "grace".into() };
    let dir = home_with_config("[auth]\nallowed_orgs = [\"alpha\"]\nadmins = [\"7\"]\n");
    let allow_list = Settings::load(&flags_for(&dir), &HashMap::new()).unwrap().auth.allow_list;
    assert_eq!(allow_list.role(&grace), Role::Admin);
    let env = HashMap::from([("LUNA_ADMINS", "ada")]);
    let allow_list = Settings::load(&flags_for(&dir), &env).unwrap().auth.allow_list;
    assert_eq!(allow_list.role(&grace), Role::Member, "the environment wins");

    let env = HashMap::from([("LUNA_ADMINS", "ada, grace hopper")]);
    let error = Settings::load(&flags_for(&dir), &env).unwrap_err();
    assert_eq!((error.key.as_str(), &error.origin), ("auth.admins", &Origin::Env("LUNA_ADMINS")));
    assert!(error.reason.contains("grace hopper"), "{error}");
}

#[test]
fn apps_get_ports_where_the_site_is_a_bare_address_and_names_elsewhere() {
    let lan = |more: &str| {
        public_home(&format!("deployment_mode = \"lan\"\n[server]\nhttps_listen = \"192.168.1.5:443\"\n{more}"))
    };
    let settings = Settings::load(&flags_for(&lan("")), &HashMap::new()).unwrap();
    assert_eq!(settings.app_ports, Some(9400..=9431));
    let named = public_home("deployment_mode = \"lan\"\npublic_domain = \"luna.lan\"");
    assert_eq!(Settings::load(&flags_for(&named), &HashMap::new()).unwrap().app_ports, None);
    let local = tempfile::tempdir().unwrap();
    assert_eq!(Settings::load(&flags_for(&local), &HashMap::new()).unwrap().app_ports, None, "*.localhost");
    let asked = HashMap::from([("LUNA_APP_ORIGINS", "ports")]);
    assert_eq!(Settings::load(&flags_for(&local), &asked).unwrap().app_ports, Some(9400..=9431));

    let error = Settings::load(&flags_for(&lan("app_origins = \"names\"")), &HashMap::new()).unwrap_err();
    assert_eq!(error.key, "server.app_origins");
    assert!(error.reason.contains("bare IP address"), "{error}");
    for (ports, says) in
        [("[9500, 9400]", "first <= last"), ("[5250, 5260]", "supervisor.ui_ports"), ("[1, 2000]", "1000")]
    {
        let error = Settings::load(&flags_for(&lan(&format!("app_ports = {ports}"))), &HashMap::new()).unwrap_err();
        assert_eq!(error.key, "server.app_ports", "{ports}");
        assert!(error.reason.contains(says), "{ports}: {error}");
    }
    let error = Settings::load(&flags_for(&lan("app_ports = [440, 450]")), &HashMap::new()).unwrap_err();
    assert!(error.reason.contains("443"), "{error}");
}

#[test]
fn the_settings_contract_names_the_agent_model_and_the_extensions_github() {
    let dir = home_with_config(
        "[auth.github]\napi_url = \"https://github.example.com/api/v3\"\n\
         [agent]\nllm_base_url = \"http://127.0.0.1:11434/v1/\"\ndefault_model = \"llama3\"\n",
    );
    let settings = Settings::load(&flags_for(&dir), &HashMap::new()).unwrap();
    assert_eq!(settings.agent.base_url, "http://127.0.0.1:11434/v1");
    assert_eq!(settings.agent.model, "llama3");
    assert_eq!(settings.extensions_github_api_url, "https://github.example.com/api/v3", "one GitHub by default");

    let env = HashMap::from([
        ("LUNA_AGENT_MODEL", "gpt-4.1-mini"),
        ("LUNA_EXTENSIONS_GITHUB_API_URL", "http://127.0.0.1:9/api"),
    ]);
    let settings = Settings::load(&flags_for(&dir), &env).unwrap();
    assert_eq!(settings.agent.model, "gpt-4.1-mini");
    assert_eq!(settings.extensions_github_api_url, "http://127.0.0.1:9/api");

    let old_names = home_with_config("[agent]\nbase_url = \"http://127.0.0.1:1/v1\"\nmodel = \"m\"\n");
    let settings = Settings::load(&flags_for(&old_names), &HashMap::new()).unwrap();
    assert_eq!((settings.agent.base_url.as_str(), settings.agent.model.as_str()), ("http://127.0.0.1:1/v1", "m"));

    let bad = HashMap::from([("LUNA_EXTENSIONS_GITHUB_API_URL", "ftp://x")]);
    assert_eq!(Settings::load(&flags_for(&dir), &bad).unwrap_err().key, "extensions.github_api_url");
}
