//! Builds the Hub (`hub_ui/`, TypeScript) into `$OUT_DIR/hub`, which `src/api/hub.rs`
//! embeds in the binary: one file to copy, UI included.
//!
//! `npm ci` (the pinned `package-lock.json`) runs when `node_modules` is older than the lock
//! file; then `npm run build` type-checks and bundles. `LUNA_HUB_DIST=<dir>` embeds an
//! already built Hub instead, for machines without Node.js.

use std::path::{Path, PathBuf};
use std::process::Command;

/// What a fresh machine needs to build the Hub.
const NEEDS: &str = "Building Luna builds its web UI (hub_ui/), which needs Node.js 20+ with npm: \
                     on Debian or Ubuntu `apt-get install nodejs npm` (or see https://nodejs.org). \
                     To embed a Hub built elsewhere, set LUNA_HUB_DIST to its directory.";

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("hub");
    println!("cargo:rerun-if-env-changed=LUNA_HUB_DIST");
    println!("cargo:rustc-env=LUNA_HUB_DIR={}", out.display());
    if let Some(dist) = std::env::var_os("LUNA_HUB_DIST") {
        let dist = PathBuf::from(dist);
        println!("cargo:rerun-if-changed={}", dist.display());
        copy_dir(&dist, &out).unwrap_or_else(|error| panic!("LUNA_HUB_DIST={}: {error}", dist.display()));
        return;
    }
    let ui = Path::new("hub_ui");
    for input in [
        "src",
        "public",
        "scripts",
        "index.html",
        "package.json",
        "package-lock.json",
        "vite.config.ts",
        "tsconfig.json",
    ] {
        println!("cargo:rerun-if-changed=hub_ui/{input}");
    }

    match Command::new("npm").arg("--version").output() {
        Ok(output) if output.status.success() => {}
        _ => panic!("npm not found. {NEEDS}"),
    }
    if dependencies_stale(ui) {
        run(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(ui), "npm ci");
    }
    run(Command::new("npm").args(["run", "build"]).env("LUNA_HUB_OUT", &out).current_dir(ui), "npm run build");
}

/// `node_modules` is missing, or older than the lock file it was installed from.
fn dependencies_stale(ui: &Path) -> bool {
    let modified = |path: PathBuf| std::fs::metadata(path).and_then(|meta| meta.modified()).ok();
    match (modified(ui.join("node_modules/.package-lock.json")), modified(ui.join("package-lock.json"))) {
        (Some(installed), Some(locked)) => installed < locked,
        _ => true,
    }
}

fn run(command: &mut Command, what: &str) {
    match command.status() {
        Ok(status) if status.success() => {}
        Ok(status) => panic!("`{what}` in hub_ui/ failed ({status}); its output is above. {NEEDS}"),
        Err(error) => panic!("cannot run `{what}`: {error}. {NEEDS}"),
    }
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}
