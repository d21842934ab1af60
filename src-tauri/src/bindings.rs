//! `ui/src/bindings.ts`, generated from the Rust types with ts-rs: commands' parameters and
//! results, channel messages, errors — and the page's typed command functions (`commands`), one
//! per entry of `commands.rs`, so the page never spells a command name or its parameters. The file
//! is committed; the test below fails when it no longer matches the Rust side
//! (`NATTER_UPDATE_BINDINGS=1 cargo test -p natter --bin natter bindings` rewrites it).

use natter_app::{AppError, JoinRequest};
use tauri::ipc::Channel;
use ts_rs::TS;

const HEADER: &str = "// Generated from the Rust types by src-tauri/src/bindings.rs (ts-rs). Do not edit:\n// run `NATTER_UPDATE_BINDINGS=1 cargo test -p natter --bin natter bindings` after changing a Rust type or command.\n";

/// One command as the page calls it.
pub struct Signature {
    /// The Rust name (`start_call`): what `invoke` sends.
    pub name: &'static str,
    pub doc: Vec<&'static str>,
    /// Rust parameter names (Tauri expects them in camelCase) and their TypeScript types.
    pub params: Vec<(&'static str, String)>,
    /// The TypeScript type the promise resolves to.
    pub result: String,
}

/// The TypeScript type of a command parameter.
pub trait TsParam {
    fn typescript(cfg: &ts_rs::Config) -> String;
}

/// Parameters are plain serde types: their ts-rs name.
macro_rules! plain_params {
    ($($ty:ty),* $(,)?) => {$(
        impl TsParam for $ty {
            fn typescript(cfg: &ts_rs::Config) -> String {
                <$ty as TS>::name(cfg)
            }
        }
    )*};
}

plain_params!(
    String,
    bool,
    u32,
    usize,
    Option<String>,
    Option<JoinRequest>,
    natter_app::MediaKind,
    natter_app::DeviceKind,
    natter_settings::Settings,
    natter_settings::ServerEntry,
    Vec<natter_settings::CredentialUpdate>,
    Vec<natter_app::TilePainting>,
);

impl<T: TS> TsParam for Channel<T> {
    fn typescript(cfg: &ts_rs::Config) -> String {
        format!("Channel<{}>", T::name(cfg))
    }
}

impl TsParam for crate::commands::CallChannel {
    fn typescript(cfg: &ts_rs::Config) -> String {
        // Binary frame messages (ui/src/frames.ts decodes them) or a JSON `CallMessage`.
        format!("Channel<{} | ArrayBuffer>", natter_app::CallMessage::name(cfg))
    }
}

/// The TypeScript type a command's promise resolves to (errors reject it with an `AppError`).
pub trait TsResult {
    fn typescript(cfg: &ts_rs::Config) -> String;
}

impl<T: TS + 'static> TsResult for Result<T, AppError> {
    fn typescript(cfg: &ts_rs::Config) -> String {
        if std::any::TypeId::of::<T>() == std::any::TypeId::of::<()>() {
            "void".into()
        } else {
            T::name(cfg)
        }
    }
}

/// Commands that cannot fail.
impl TsResult for () {
    fn typescript(_: &ts_rs::Config) -> String {
        "void".into()
    }
}

impl TsResult for natter_settings::UrlsCheck {
    fn typescript(cfg: &ts_rs::Config) -> String {
        <natter_settings::UrlsCheck as TS>::name(cfg)
    }
}

impl TsResult for Option<String> {
    fn typescript(cfg: &ts_rs::Config) -> String {
        <Option<String> as TS>::name(cfg)
    }
}

/// `start_call` → `startCall` (Tauri's convention for command parameters, and ours for functions).
fn camel_case(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// The `commands` object: one typed function per command, forwarding to `invoke`.
fn command_functions(signatures: &[Signature]) -> String {
    let mut out = String::from(
        "/** The backend's commands (src-tauri/src/commands.rs), typed. Failures reject with an `AppError`. */\nexport const commands = {\n",
    );
    for s in signatures {
        if !s.doc.is_empty() {
            out.push_str("  /**\n");
            for line in &s.doc {
                out.push_str(&format!("   *{}\n", line.trim_end()));
            }
            out.push_str("   */\n");
        }
        let params: Vec<String> = s
            .params
            .iter()
            .map(|(name, ty)| format!("{}: {ty}", camel_case(name)))
            .collect();
        let args = match s.params.len() {
            0 => String::new(),
            _ => {
                let names: Vec<String> = s.params.iter().map(|(name, _)| camel_case(name)).collect();
                format!(", {{ {} }}", names.join(", "))
            }
        };
        out.push_str(&format!(
            "  {}: ({}): Promise<{}> => invoke<{}>(\"{}\"{args}),\n",
            camel_case(s.name),
            params.join(", "),
            s.result,
            s.result,
            s.name,
        ));
    }
    out.push_str("};\n");
    out
}

/// The whole `ui/src/bindings.ts`.
pub fn typescript() -> String {
    // JSON numbers become JS numbers; none of our counters come near 2^53.
    let cfg = ts_rs::Config::new().with_large_int("number");
    let mut declarations = Vec::new();
    declarations.extend(natter_settings::typescript_declarations(&cfg));
    declarations.extend(natter_call::report::typescript_declarations(&cfg));
    declarations.extend(natter_app::typescript_declarations(&cfg));
    let mut out = String::from(HEADER);
    // Type-only imports the other way (tauri.ts → bindings.ts) vanish when compiled: no cycle.
    out.push_str("\nimport { invoke, type Channel } from \"./tauri\";\n");
    for declaration in declarations {
        out.push('\n');
        out.push_str("export ");
        out.push_str(declaration.trim());
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&command_functions(&crate::commands::signatures(&cfg)));
    out
}

/// URL boxes the page's component tests type, and `ui/src/testdata/url-checks.json`: what
/// `check_ice_urls` answers for each. The tests' stand-in backend answers from that file, so the
/// messages they see are the parser's own (the words `natter probe` prints: tests/it/probe.rs).
pub const URL_SAMPLES: &[&str] = &[
    "stun:exa mple.org",
    "turn:127.0.0.1:70000",
    "http://nope.example",
    "turn:127.0.0.1:3478?transport=udp",
    "stun:127.0.0.1:3478",
    "stun:127.0.0.1:3478, turn:127.0.0.1:3478",
    "",
];

/// The text of `ui/src/testdata/url-checks.json`.
pub fn url_checks_json() -> String {
    let checks: std::collections::BTreeMap<&str, natter_settings::UrlsCheck> = URL_SAMPLES
        .iter()
        .map(|text| (*text, natter_settings::check_urls(text)))
        .collect();
    serde_json::to_string_pretty(&checks).expect("JSON") + "\n"
}

#[cfg(test)]
mod tests {
    /// A generated file matches what the Rust side makes now (`NATTER_UPDATE_BINDINGS=1` rewrites it).
    fn up_to_date(relative: &str, fresh: &str) {
        let path = format!("{}/{relative}", env!("CARGO_MANIFEST_DIR"));
        if std::env::var("NATTER_UPDATE_BINDINGS").as_deref() == Ok("1") {
            std::fs::write(&path, fresh).unwrap_or_else(|e| panic!("write {relative}: {e}"));
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == fresh,
            "{relative} is stale: a Rust type, command or message the UI uses changed. Run `NATTER_UPDATE_BINDINGS=1 cargo test -p natter --bin natter bindings` and commit the result."
        );
    }

    #[test]
    fn url_checks_for_the_page_tests_are_up_to_date() {
        up_to_date("ui/src/testdata/url-checks.json", &super::url_checks_json());
    }

    #[test]
    fn typescript_bindings_are_up_to_date() {
        up_to_date("ui/src/bindings.ts", &super::typescript());
    }

    /// The window's permission file allows exactly the commands there are.
    #[test]
    fn every_command_is_allowed_and_nothing_else() {
        let toml = include_str!("../permissions/call-view.toml");
        let list = &toml[toml.find("commands.allow").expect("an allow list")..];
        let list = &list[list.find('[').unwrap() + 1..list.find(']').unwrap()];
        let mut allowed: Vec<&str> = list
            .split(',')
            .map(|s| s.trim().trim_matches('"'))
            .filter(|s| !s.is_empty())
            .collect();
        let mut commands: Vec<&str> = crate::commands::signatures(&ts_rs::Config::new())
            .iter()
            .map(|s| s.name)
            .collect();
        allowed.sort_unstable();
        commands.sort_unstable();
        assert_eq!(allowed, commands, "src-tauri/permissions/call-view.toml");
    }

    #[test]
    fn names_become_camel_case() {
        assert_eq!(super::camel_case("start_call"), "startCall");
        assert_eq!(super::camel_case("with_credentials"), "withCredentials");
        assert_eq!(super::camel_case("on"), "on");
    }
}
