//! Where every file of an installation lives.
//!
//! One `LunaHome` is resolved at start-up (from `--home`, `LUNA_HOME` or the current
//! directory) and handed to whoever needs a path, so no module builds paths of its own.

use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct LunaHome {
    root: PathBuf,
}

impl LunaHome {
    /// `root` should be absolute: children and the API socket outlive any later `chdir`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `config/luna.toml`, unless `--config`/`LUNA_CONFIG` name another file.
    pub fn default_config_file(&self) -> PathBuf {
        self.root.join("config").join("luna.toml")
    }

    /// Secrets (`GITHUB_CLIENT_SECRET`, `MCP_AUTH_TOKEN`, ...), never committed.
    pub fn env_file(&self) -> PathBuf {
        self.root.join(".env")
    }

    /// Runtime state, git-ignored.
    pub fn state_dir(&self) -> PathBuf {
        self.root.join(".luna")
    }

    /// Sockets of the running instance; mode 0700 so nobody else can reach them.
    pub fn run_dir(&self) -> PathBuf {
        self.state_dir().join("run")
    }

    /// The core API's Unix socket (mode 0600), shared by the gateway and the CLI.
    pub fn api_socket(&self) -> PathBuf {
        self.run_dir().join("api.sock")
    }

    /// `state.json`: what the supervisors run, mirrored for humans and for crash recovery.
    pub fn state_file(&self) -> PathBuf {
        self.state_dir().join("state.json")
    }

    /// The gateway port each app's origin is on, where apps get origins by port.
    pub fn app_ports_file(&self) -> PathBuf {
        self.state_dir().join("app_ports.json")
    }

    /// Extension folders, bundled and installed.
    pub fn extensions_dir(&self) -> PathBuf {
        self.root.join("extensions")
    }

    /// The owner's extension choices and port assignments.
    pub fn master_config_file(&self) -> PathBuf {
        self.state_dir().join("master_config.json")
    }

    /// Output of extension processes, one rotating file each.
    pub fn logs_dir(&self) -> PathBuf {
        self.state_dir().join("logs")
    }

    /// The key that encrypts Luna's cookies (64 bytes, mode 0600).
    pub fn cookie_key_file(&self) -> PathBuf {
        self.state_dir().join("cookie.key")
    }

    /// The Ed25519 key that signs `X-Luna-Identity` tokens (PKCS#8, mode 0600).
    /// `external_services/<name>/`: service definitions (`service.json`, `config-form.json`).
    pub fn external_services_dir(&self) -> PathBuf {
        self.root.join("external_services")
    }

    /// `.luna/external_services.json`: the installed services (0600: it holds their passwords).
    pub fn external_services_registry(&self) -> PathBuf {
        self.state_dir().join("external_services.json")
    }

    /// `certs/`: the ACME account, issued and self-signed certificates and their keys (0700).
    pub fn certs_dir(&self) -> PathBuf {
        self.root.join("certs")
    }

    pub fn identity_key_file(&self) -> PathBuf {
        self.state_dir().join("identity_ed25519.der")
    }

    /// The Python tool host, written from the binary at every start.
    pub fn tool_host_script(&self) -> PathBuf {
        self.state_dir().join("lib").join("luna_tool_host.py")
    }

    /// Creates `.luna/` and `.luna/run/`, owner-only (0700), and takes away what others
    /// could read in there from an older Luna or a looser umask (files 0600, folders 0700),
    /// and from `.env`, which holds Luna's secrets.
    pub fn create_state_dirs(&self) -> io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        crate::state_file::create_private_dir(&self.state_dir())?;
        crate::state_file::create_private_dir(&self.run_dir())?;
        crate::state_file::make_private(&self.state_dir())?;
        let env_file = self.env_file();
        if let Ok(metadata) = std::fs::metadata(&env_file)
            && metadata.permissions().mode() & 0o077 != 0
        {
            std::fs::set_permissions(&env_file, std::fs::Permissions::from_mode(0o600))?;
            tracing::warn!(file = %env_file.display(), "others could read the secrets file; it is 0600 now");
        }
        Ok(())
    }
}
