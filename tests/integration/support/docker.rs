//! The real Docker engine and the local registry that `scripts/test-docker.sh` starts, the
//! test image it pushed there, and service definitions made from the `webcheck` fixture.
//! Everything a test creates is named after the test and removed when it ends.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

/// The busybox test image in the local registry (`LUNA_TEST_DOCKER_IMAGE`).
pub fn image() -> String {
    std::env::var("LUNA_TEST_DOCKER_IMAGE").expect(
        "LUNA_TEST_DOCKER_IMAGE is not set: run the tests through scripts/test.sh (it runs scripts/test-docker.sh)",
    )
}

/// `host:port` of the local registry (`LUNA_TEST_DOCKER_REGISTRY`).
pub fn registry() -> String {
    std::env::var("LUNA_TEST_DOCKER_REGISTRY").expect("LUNA_TEST_DOCKER_REGISTRY is not set: run scripts/test.sh")
}

pub fn docker(args: &[&str]) -> Output {
    Command::new("docker").args(args).output().expect("the docker CLI (scripts/test-docker.sh installs it)")
}

/// `docker inspect -f <format> <object>`, or `None` if there is no such object.
pub fn inspect(object: &str, format: &str) -> Option<String> {
    let output = docker(&["inspect", "-f", format, object]);
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// A service name unique to this test run (Docker's names are global).
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", std::process::id())
}

/// Writes `external_services/<name>/` from the webcheck fixture with `image`.
pub fn write_service(home: &Path, name: &str, image: &str) {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/external_services/webcheck");
    let mut service: Value = serde_json::from_slice(&std::fs::read(fixture.join("service.json")).unwrap()).unwrap();
    service["name"] = Value::from(name);
    service["image"] = Value::from(image);
    let dir = home.join("external_services").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("service.json"), serde_json::to_vec_pretty(&service).unwrap()).unwrap();
    std::fs::copy(fixture.join("config-form.json"), dir.join("config-form.json")).unwrap();
}

/// Removes the named containers and volumes when dropped, so a failed test leaves nothing.
pub struct Leftovers {
    pub containers: Vec<String>,
    pub volumes: Vec<String>,
    pub images: Vec<String>,
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        for container in &self.containers {
            docker(&["rm", "-f", container]);
        }
        for volume in &self.volumes {
            docker(&["volume", "rm", "-f", volume]);
        }
        for image in &self.images {
            docker(&["rmi", image]);
        }
    }
}
