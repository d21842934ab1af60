//! Credentials in a real OS keyring: the test starts a private D-Bus session with gnome-keyring's
//! Secret Service (the service a Linux desktop runs) and re-runs itself inside it, so the code
//! under test takes exactly the desktop's path. Needs `dbus-run-session` and
//! `gnome-keyring-daemon` (`bash scripts/setup.sh` installs them); a missing tool fails the test
//! saying what to install.

use natter_rig::{TempDir, which};
use natter_settings::{ConfigDir, CredentialType, CredentialUpdate, ServerEntry, Settings};
use std::path::PathBuf;
use std::process::Command;

const CHILD: &str = "NATTER_KEYRING_CHILD";
const TEST_NAME: &str = "credentials_go_to_the_system_keyring_when_one_answers";

#[test]
fn credentials_go_to_the_system_keyring_when_one_answers() {
    if std::env::var_os(CHILD).is_some() {
        inside_the_session();
        return;
    }
    for tool in ["dbus-run-session", "gnome-keyring-daemon"] {
        assert!(
            which(tool).is_some(),
            "`{tool}` is not installed: run `bash scripts/setup.sh` (packages dbus, gnome-keyring)"
        );
    }
    // A private home: the keyring files of this test live and die with it.
    let home_dir = TempDir::new("keyring-home");
    let home = &home_dir.0;
    let me = std::env::current_exe().unwrap();
    let output = Command::new("dbus-run-session")
        .arg("--")
        .arg("sh")
        .arg("-c")
        // Unlock a fresh login keyring (its password on stdin), then run this test again inside.
        .arg(r#"printf natter-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec "$0" --exact "$1" --nocapture --test-threads=1"#)
        .arg(&me)
        .arg(TEST_NAME)
        .env(CHILD, "1")
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("XDG_RUNTIME_DIR", home)
        .env_remove("NATTER_CREDENTIALS")
        .output()
        .expect("run dbus-run-session");
    drop(home_dir);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "inside the D-Bus session:\n{text}");
    assert!(
        text.contains("1 passed"),
        "the test did not run inside the session:\n{text}"
    );
}

/// Runs inside the session: save a TURN password, find it in the keyring and nowhere on disk,
/// read it back through a fresh store, delete the server and see the credential go.
fn inside_the_session() {
    let dir = ConfigDir::at(PathBuf::from(std::env::var("HOME").unwrap()).join("natter-config"));
    let store = dir.secrets();
    assert!(
        store.uses_keyring(),
        "the Secret Service answers here, yet: {}",
        store.describe()
    );
    assert!(store.describe().contains("system keyring"), "{}", store.describe());
    let server = ServerEntry {
        id: "k1".into(),
        urls: vec!["turn:turn.example.org:3478?transport=udp".into()],
        username: Some("ada".into()),
        credential_type: CredentialType::Password,
        has_credential: false,
    };
    let settings = Settings {
        servers: vec![server],
        ..Settings::default()
    };
    let saved = dir
        .save(
            &settings,
            &[CredentialUpdate {
                id: "k1".into(),
                credential: Some("s3cret-in-keyring".into()),
            }],
        )
        .unwrap();
    assert!(saved.servers[0].has_credential);
    let file = std::fs::read_to_string(dir.settings_file()).unwrap();
    assert!(!file.contains("s3cret-in-keyring"), "{file}");
    assert!(
        !dir.credentials_file().exists(),
        "no credentials file when the keyring is used"
    );
    let again = ConfigDir::at(dir.path.clone());
    let config = again.ice_config(&again.load().unwrap()).unwrap();
    assert_eq!(
        config.ice_servers[0].credential.as_ref().unwrap().expose(),
        "s3cret-in-keyring"
    );
    dir.save(&Settings::default(), &[]).unwrap();
    assert_eq!(
        dir.secrets().get("k1").unwrap(),
        None,
        "a removed server's credential is deleted from the keyring"
    );
}
