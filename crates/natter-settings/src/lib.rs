//! natter-settings: what the user configures (ICE servers, name, devices), stored in the platform
//! config directory, with TURN passwords and shared secrets kept *out* of the settings file.
//!
//! - `Settings` is the JSON file (`settings.json`): servers as the user listed them (ordered),
//!   each with a stable `id`, its URLs and username, and whether a credential is stored.
//! - `SecretStore` keeps credentials by server id: in the OS keyring (Secret Service on Linux,
//!   Keychain on macOS, Credential Manager on Windows) when one answers, else — said to the user
//!   by `SecretStore::describe` — in `credentials.json` next to the settings, created readable by
//!   the owner only (0600 on Unix). `NATTER_CREDENTIALS=file` forces the file.
//! - `ice_config` joins the two into the `natter_ice::IceConfig` calls use; `import_w3c` /
//!   `export_w3c` speak the W3C `iceServers` JSON shape.
//!
//! The directory is `$NATTER_CONFIG_DIR` if set (tests, portable installs), else the platform's
//! config dir + `natter` (`~/.config/natter`, `%APPDATA%\natter`, `~/Library/Application Support/natter`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use ts_rs::TS;

/// Why settings could not be read or written, phrased for the user.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("no config directory on this system; set NATTER_CONFIG_DIR")]
    NoConfigDir,
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("cannot write {path}: {reason}")]
    Write { path: String, reason: String },
    #[error("{path} is damaged ({reason}); fix or delete it")]
    Corrupt { path: String, reason: String },
    #[error("the system keyring refused: {0}")]
    Keyring(String),
    #[error(transparent)]
    Ice(#[from] natter_ice::IceError),
}

/// How a server's credential is used (W3C `credentialType`, plus Natter's shared secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum CredentialType {
    /// A TURN password, used as is.
    #[default]
    Password,
    /// A TURN REST shared secret: short-lived credentials are derived from it (coturn `--use-auth-secret`).
    SharedSecret,
}

/// One ICE server as the user entered it. Never holds the credential itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ServerEntry {
    /// Stable identifier: the key of its credential in the `SecretStore`.
    pub id: String,
    /// `stun:`, `turn:` or `turns:` URLs, as typed.
    pub urls: Vec<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub credential_type: CredentialType,
    /// A credential for this entry is in the secret store.
    #[serde(default)]
    pub has_credential: bool,
}

/// The settings file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    /// The name others see.
    #[serde(default = "default_name")]
    pub display_name: String,
    /// ICE servers in the order they are offered to connections.
    #[serde(default)]
    pub servers: Vec<ServerEntry>,
    /// Chosen devices by id (`None`: the system default / the synthetic source).
    #[serde(default)]
    pub camera: Option<String>,
    #[serde(default)]
    pub microphone: Option<String>,
    #[serde(default)]
    pub speaker: Option<String>,
    /// Write detailed (debug) logs from the next start (`NATTER_LOG` still wins).
    #[serde(default)]
    pub detailed_logs: bool,
}

fn default_name() -> String {
    "Me".into()
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            display_name: default_name(),
            servers: Vec::new(),
            camera: None,
            microphone: None,
            speaker: None,
            detailed_logs: false,
        }
    }
}

/// A credential change sent with a save: `credential: Some` sets it, `None` keeps the stored one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CredentialUpdate {
    pub id: String,
    pub credential: Option<String>,
}

/// Where settings live.
#[derive(Debug, Clone)]
pub struct ConfigDir {
    pub path: PathBuf,
    /// Keep credentials in `credentials.json` even where a keyring answers (tests).
    file_credentials: bool,
}

impl ConfigDir {
    pub fn at(path: impl Into<PathBuf>) -> ConfigDir {
        ConfigDir {
            path: path.into(),
            file_credentials: false,
        }
    }

    /// Never use the OS keyring for this directory's credentials.
    pub fn with_file_credentials(mut self) -> ConfigDir {
        self.file_credentials = true;
        self
    }

    /// `$NATTER_CONFIG_DIR`, else the platform config dir + `natter`.
    pub fn locate() -> Result<ConfigDir, SettingsError> {
        if let Some(dir) = std::env::var_os("NATTER_CONFIG_DIR") {
            return Ok(ConfigDir::at(dir));
        }
        dirs::config_dir()
            .map(|d| ConfigDir::at(d.join("natter")))
            .ok_or(SettingsError::NoConfigDir)
    }

    pub fn settings_file(&self) -> PathBuf {
        self.path.join("settings.json")
    }

    pub fn credentials_file(&self) -> PathBuf {
        self.path.join("credentials.json")
    }

    /// The settings, or defaults when there is no file yet.
    pub fn load(&self) -> Result<Settings, SettingsError> {
        let path = self.settings_file();
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| SettingsError::Corrupt {
                path: path.display().to_string(),
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
            Err(e) => Err(SettingsError::Read {
                path: path.display().to_string(),
                reason: e.to_string(),
            }),
        }
    }

    /// Save settings and credential changes. Credentials of servers no longer listed are
    /// deleted; `has_credential` is set from the store, whatever the caller said.
    pub fn save(&self, settings: &Settings, updates: &[CredentialUpdate]) -> Result<Settings, SettingsError> {
        let store = self.secrets();
        for update in updates {
            match update.credential.as_deref() {
                Some("") => store.delete(&update.id)?,
                Some(credential) => store.set(&update.id, credential)?,
                None => {}
            }
        }
        // Servers that were listed before and are gone: forget their credentials.
        let before = self.load().map(|s| s.servers).unwrap_or_default();
        for gone in before.iter().filter(|b| !settings.servers.iter().any(|s| s.id == b.id)) {
            store.delete(&gone.id)?;
        }
        let mut saved = settings.clone();
        for server in &mut saved.servers {
            server.has_credential = store.get(&server.id)?.is_some();
        }
        let json = serde_json::to_string_pretty(&saved).expect("settings serialize");
        write_atomically(&self.settings_file(), json.as_bytes(), false)?;
        Ok(saved)
    }

    /// Where credentials go: the OS keyring if it answers, else `credentials.json`.
    pub fn secrets(&self) -> SecretStore {
        let file = |why: String| SecretStore {
            backend: Backend::File {
                path: self.credentials_file(),
                why,
            },
        };
        if self.file_credentials {
            return file("this settings directory keeps its own credentials".into());
        }
        if std::env::var("NATTER_CREDENTIALS").as_deref() == Ok("file") {
            return file("NATTER_CREDENTIALS=file".into());
        }
        match keyring_answers() {
            Ok(()) => SecretStore {
                backend: Backend::Keyring,
            },
            Err(why) => file(why),
        }
    }

    /// The ICE configuration calls use: every listed server with its stored credential.
    pub fn ice_config(&self, settings: &Settings) -> Result<natter_ice::IceConfig, SettingsError> {
        let secrets = self
            .secrets()
            .load_for(settings.servers.iter().map(|s| s.id.as_str()))?;
        Ok(ice_config(settings, &secrets)?)
    }
}

/// Where the app writes its log files, by each platform's convention: `$XDG_STATE_HOME/natter/logs`
/// (else `~/.local/state/natter/logs`) on Linux, `~/Library/Logs/Natter` on macOS,
/// `%LOCALAPPDATA%\Natter\logs` on Windows. `NATTER_LOG_DIR` overrides.
pub fn log_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("NATTER_LOG_DIR") {
        return Some(PathBuf::from(dir));
    }
    if cfg!(target_os = "macos") {
        dirs::home_dir().map(|h| h.join("Library/Logs/Natter"))
    } else if cfg!(windows) {
        dirs::data_local_dir().map(|d| d.join("Natter").join("logs"))
    } else {
        dirs::state_dir()
            .or_else(|| dirs::home_dir().map(|h| h.join(".local/state")))
            .map(|d| d.join("natter").join("logs"))
    }
}

/// Join entries and credentials into an `IceConfig` (validated by the `natter_ice` parser).
pub fn ice_config(
    settings: &Settings,
    secrets: &BTreeMap<String, String>,
) -> Result<natter_ice::IceConfig, natter_ice::IceError> {
    natter_ice::IceConfig::from_json(&w3c_json(&settings.servers, secrets, true))
}

/// The W3C `{"iceServers":[…]}` text for `servers`, with credentials or without.
pub fn w3c_json(servers: &[ServerEntry], secrets: &BTreeMap<String, String>, with_credentials: bool) -> String {
    let list: Vec<serde_json::Value> = servers
        .iter()
        .map(|s| {
            let mut entry = serde_json::json!({ "urls": s.urls });
            if let Some(user) = &s.username {
                entry["username"] = user.clone().into();
            }
            if with_credentials && let Some(secret) = secrets.get(&s.id) {
                entry["credential"] = secret.clone().into();
            }
            if s.credential_type == CredentialType::SharedSecret {
                entry["credentialType"] = "shared-secret".into();
            }
            entry
        })
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({ "iceServers": list })).expect("JSON")
}

/// Entries (with fresh ids) and their credentials from a W3C `iceServers` JSON, validated with
/// the same parser and messages as everywhere else.
pub fn import_w3c(
    text: &str,
    mut new_id: impl FnMut() -> String,
) -> Result<(Vec<ServerEntry>, Vec<CredentialUpdate>), natter_ice::IceError> {
    let config = natter_ice::IceConfig::from_json(text)?;
    let mut entries = Vec::new();
    let mut credentials = Vec::new();
    for server in config.ice_servers {
        let id = new_id();
        let credential = server.credential.as_ref().map(|c| c.expose().to_string());
        credentials.push(CredentialUpdate {
            id: id.clone(),
            credential: credential.clone(),
        });
        entries.push(ServerEntry {
            id,
            urls: server.urls.iter().map(|u| u.original.clone()).collect(),
            username: server.username,
            credential_type: match server.credential_kind {
                natter_ice::CredentialKind::Password => CredentialType::Password,
                natter_ice::CredentialKind::SharedSecret => CredentialType::SharedSecret,
            },
            has_credential: credential.is_some(),
        });
    }
    Ok((entries, credentials))
}

/// What the URL box of one server holds, read the one way the page and the CLI agree on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct UrlsCheck {
    /// The URLs, as `split_urls` reads the box.
    pub urls: Vec<String>,
    /// One sentence per URL that is not a valid STUN/TURN URL: the parser's message, the very
    /// words `natter probe` prints for it. Empty when every URL is fine (and there is one).
    pub problems: Vec<String>,
    /// Some URL is `turn:` or `turns:`: the server needs a username and a credential.
    pub relay: bool,
}

/// The URLs of a server's URL box: separated by commas or new lines, or by spaces before the
/// next `stun:`/`stuns:`/`turn:`/`turns:`. A space anywhere else stays inside its URL, where the
/// parser names it ("host contains ' '"), rather than cutting a host name in two.
pub fn split_urls(text: &str) -> Vec<String> {
    let starts_url = |word: &str| {
        let lower = word.to_ascii_lowercase();
        ["stun:", "stuns:", "turn:", "turns:"]
            .iter()
            .any(|s| lower.starts_with(s))
    };
    let mut urls = Vec::new();
    for part in text.split([',', '\n', '\r']) {
        let mut current = String::new();
        for word in part.split_whitespace() {
            if starts_url(word) && !current.is_empty() {
                urls.push(std::mem::take(&mut current));
            }
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(word);
        }
        if !current.is_empty() {
            urls.push(current);
        }
    }
    urls
}

/// Check a server's URL box: its URLs, the parser's message for each bad one, and whether it
/// needs credentials.
pub fn check_urls(text: &str) -> UrlsCheck {
    let urls = split_urls(text);
    let mut problems: Vec<String> = urls.iter().filter_map(|u| url_problem(u)).collect();
    if urls.is_empty() {
        problems.push("Enter at least one stun:, turn: or turns: URL.".into());
    }
    let relay = urls.iter().any(|u| {
        let lower = u.to_ascii_lowercase();
        lower.starts_with("turn:") || lower.starts_with("turns:")
    });
    UrlsCheck { urls, problems, relay }
}

/// `None` if `url` is a valid ICE server URL, else the parser's message (what the CLI prints).
pub fn url_problem(url: &str) -> Option<String> {
    natter_ice::IceUrl::parse(url.trim()).err().map(|e| e.to_string())
}

/// The keyring's service name for Natter's credentials (one entry per server id).
const KEYRING_SERVICE: &str = "natter";

/// Does the OS keyring work here? Asked once per process (a set/delete of a probe entry, bounded
/// to 3 s: a session bus with a broken keyring must not hang the app); `Err` says why not.
fn keyring_answers() -> Result<(), String> {
    static ANSWER: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    ANSWER
        .get_or_init(|| {
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let probe = || -> Result<(), keyring::Error> {
                    let entry = keyring::Entry::new(KEYRING_SERVICE, "natter-keyring-probe")?;
                    entry.set_password("probe")?;
                    entry.delete_credential()
                };
                let _ = tx.send(probe().map_err(|e| e.to_string()));
            });
            rx.recv_timeout(std::time::Duration::from_secs(3))
                .unwrap_or_else(|_| Err("the system keyring did not answer within 3 s".into()))
        })
        .clone()
}

#[derive(Debug, Clone)]
enum Backend {
    Keyring,
    /// `why`: the reason the keyring is not used.
    File {
        path: PathBuf,
        why: String,
    },
}

/// Credentials by server id, kept apart from the settings.
#[derive(Debug, Clone)]
pub struct SecretStore {
    backend: Backend,
}

impl SecretStore {
    /// Where credentials are kept, in a sentence for the settings page.
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::Keyring => "Passwords are saved in the system keyring, never in the settings file.".into(),
            Backend::File { path, why } => format!(
                "Passwords are saved in {} (readable only by you), not in the system keyring: {why}.",
                path.display()
            ),
        }
    }

    pub fn uses_keyring(&self) -> bool {
        matches!(self.backend, Backend::Keyring)
    }

    pub fn get(&self, id: &str) -> Result<Option<String>, SettingsError> {
        match &self.backend {
            Backend::Keyring => match keyring_entry(id)?.get_password() {
                Ok(secret) => Ok(Some(secret)),
                Err(keyring::Error::NoEntry) => Ok(None),
                Err(e) => Err(SettingsError::Keyring(e.to_string())),
            },
            Backend::File { path, .. } => Ok(read_file_map(path)?.remove(id)),
        }
    }

    pub fn set(&self, id: &str, secret: &str) -> Result<(), SettingsError> {
        match &self.backend {
            Backend::Keyring => keyring_entry(id)?
                .set_password(secret)
                .map_err(|e| SettingsError::Keyring(e.to_string())),
            Backend::File { path, .. } => {
                let mut map = read_file_map(path)?;
                map.insert(id.to_string(), secret.to_string());
                write_file_map(path, &map)
            }
        }
    }

    pub fn delete(&self, id: &str) -> Result<(), SettingsError> {
        match &self.backend {
            Backend::Keyring => match keyring_entry(id)?.delete_credential() {
                Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
                Err(e) => Err(SettingsError::Keyring(e.to_string())),
            },
            Backend::File { path, .. } => {
                let mut map = read_file_map(path)?;
                if map.remove(id).is_some() {
                    write_file_map(path, &map)?;
                }
                Ok(())
            }
        }
    }

    /// The credentials of these server ids (those that have one).
    pub fn load_for<'a>(
        &self,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<BTreeMap<String, String>, SettingsError> {
        let mut out = BTreeMap::new();
        for id in ids {
            if let Some(secret) = self.get(id)? {
                out.insert(id.to_string(), secret);
            }
        }
        Ok(out)
    }
}

fn keyring_entry(id: &str) -> Result<keyring::Entry, SettingsError> {
    keyring::Entry::new(KEYRING_SERVICE, id).map_err(|e| SettingsError::Keyring(e.to_string()))
}

fn read_file_map(path: &Path) -> Result<BTreeMap<String, String>, SettingsError> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| SettingsError::Corrupt {
            path: path.display().to_string(),
            reason: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(SettingsError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        }),
    }
}

fn write_file_map(path: &Path, map: &BTreeMap<String, String>) -> Result<(), SettingsError> {
    let json = serde_json::to_string_pretty(map).expect("JSON");
    write_atomically(path, json.as_bytes(), true)
}

/// Write to a temporary file in the same directory, then rename: a crash never leaves half a file.
fn write_atomically(path: &Path, bytes: &[u8], private: bool) -> Result<(), SettingsError> {
    let err = |e: std::io::Error| SettingsError::Write {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let tmp = path.with_extension("json.tmp");
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        if private {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let _ = private;
        let mut file = options.open(&tmp).map_err(err)?;
        std::io::Write::write_all(&mut file, bytes).map_err(err)?;
        file.sync_all().map_err(err)?;
    }
    std::fs::rename(&tmp, path).map_err(err)
}

/// TypeScript declarations of the types the UI exchanges with this crate (see `src-tauri`'s
/// bindings test).
pub fn typescript_declarations(cfg: &ts_rs::Config) -> Vec<String> {
    vec![
        CredentialType::decl(cfg),
        ServerEntry::decl(cfg),
        Settings::decl(cfg),
        CredentialUpdate::decl(cfg),
        UrlsCheck::decl(cfg),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> ConfigDir {
        let dir = std::env::temp_dir().join(format!("natter-settings-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // Unit tests never touch the developer's keyring (tests/keyring.rs covers that path).
        ConfigDir::at(dir).with_file_credentials()
    }

    fn turn(id: &str) -> ServerEntry {
        ServerEntry {
            id: id.into(),
            urls: vec!["turn:turn.example.org:3478?transport=udp".into()],
            username: Some("alice".into()),
            credential_type: CredentialType::Password,
            has_credential: false,
        }
    }

    #[test]
    fn passwords_never_reach_the_settings_file() {
        let dir = temp_dir("secret");
        let settings = Settings {
            servers: vec![turn("a")],
            ..Default::default()
        };
        let saved = dir
            .save(
                &settings,
                &[CredentialUpdate {
                    id: "a".into(),
                    credential: Some("hunter2-secret".into()),
                }],
            )
            .unwrap();
        assert!(saved.servers[0].has_credential);
        let file = std::fs::read_to_string(dir.settings_file()).unwrap();
        assert!(!file.contains("hunter2-secret"), "{file}");
        let config = dir.ice_config(&dir.load().unwrap()).unwrap();
        assert_eq!(
            config.ice_servers[0].credential.as_ref().unwrap().expose(),
            "hunter2-secret"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.credentials_file()).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "credentials readable by others: {mode:o}");
        }
        let _ = std::fs::remove_dir_all(&dir.path);
    }

    #[test]
    fn removing_a_server_forgets_its_credential_and_none_keeps_it() {
        let dir = temp_dir("forget");
        let two = Settings {
            servers: vec![turn("a"), turn("b")],
            ..Default::default()
        };
        dir.save(
            &two,
            &[
                CredentialUpdate {
                    id: "a".into(),
                    credential: Some("pa".into()),
                },
                CredentialUpdate {
                    id: "b".into(),
                    credential: Some("pb".into()),
                },
            ],
        )
        .unwrap();
        let one = Settings {
            servers: vec![turn("b")],
            ..Default::default()
        };
        let saved = dir
            .save(
                &one,
                &[CredentialUpdate {
                    id: "b".into(),
                    credential: None,
                }],
            )
            .unwrap();
        assert!(saved.servers[0].has_credential, "None keeps the stored credential");
        let secrets = dir.secrets().load_for(["a", "b"]).unwrap();
        assert_eq!(secrets.keys().collect::<Vec<_>>(), vec!["b"]);
        let _ = std::fs::remove_dir_all(&dir.path);
    }

    #[test]
    fn a_missing_file_is_the_defaults_and_a_damaged_one_is_named() {
        let dir = temp_dir("corrupt");
        assert_eq!(dir.load().unwrap(), Settings::default());
        std::fs::create_dir_all(&dir.path).unwrap();
        std::fs::write(dir.settings_file(), "{ not json").unwrap();
        let err = dir.load().unwrap_err().to_string();
        assert!(err.contains("settings.json is damaged"), "{err}");
        let _ = std::fs::remove_dir_all(&dir.path);
    }

    #[test]
    fn import_and_export_round_trip_the_w3c_shape() {
        let text = r#"{"iceServers":[{"urls":["stun:stun.example.org:3478"]},
            {"urls":["turn:t.example.org:3478?transport=udp","turns:t.example.org:5349"],"username":"u","credential":"p"},
            {"urls":["turn:r.example.org:3478"],"username":"svc","credential":"s3cret","credentialType":"shared-secret"}]}"#;
        let mut n = 0;
        let (entries, credentials) = import_w3c(text, || {
            n += 1;
            format!("id{n}")
        })
        .unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(
            entries[1].urls,
            vec!["turn:t.example.org:3478?transport=udp", "turns:t.example.org:5349"]
        );
        assert_eq!(entries[2].credential_type, CredentialType::SharedSecret);
        let secrets: BTreeMap<String, String> = credentials
            .into_iter()
            .filter_map(|c| Some((c.id, c.credential?)))
            .collect();
        let with = w3c_json(&entries, &secrets, true);
        let again = natter_ice::IceConfig::from_json(&with).unwrap();
        assert_eq!(again.ice_servers.len(), 3);
        let without = w3c_json(&entries, &secrets, false);
        assert!(!without.contains("s3cret") && !without.contains("\"p\""), "{without}");
    }

    #[test]
    fn the_url_box_splits_between_urls_never_inside_one() {
        assert_eq!(
            split_urls("stun:a.example, turn:b.example:3478?transport=tcp\nturns:c.example stun:d.example"),
            [
                "stun:a.example",
                "turn:b.example:3478?transport=tcp",
                "turns:c.example",
                "stun:d.example"
            ]
        );
        assert_eq!(split_urls("  stun:exa mple.org  "), ["stun:exa mple.org"]);
        assert_eq!(split_urls(" , \n "), Vec::<String>::new());
        let check = check_urls("stun:exa mple.org");
        assert_eq!(check.urls, ["stun:exa mple.org"]);
        // The words the CLI prints for the same URL in an ICE configuration.
        let cli = natter_ice::IceConfig::from_json(r#"{"iceServers":[{"urls":"stun:exa mple.org"}]}"#)
            .unwrap_err()
            .to_string();
        assert_eq!(check.problems, [cli.as_str()]);
        assert!(cli.contains("host contains ' '"), "{cli}");
        assert!(!check.relay);
        assert!(check_urls("stun:a.example TURN:b.example").relay);
        assert_eq!(check_urls("").problems.len(), 1);
    }

    #[test]
    fn url_problems_use_the_parser_words() {
        assert_eq!(url_problem("turn:turn.example.org:3478"), None);
        let problem = url_problem("turn:127.0.0.1:70000").unwrap();
        assert!(problem.contains("port 70000 is out of range"), "{problem}");
        assert!(url_problem("http://example.org").is_some());
    }
}
