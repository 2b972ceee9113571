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
