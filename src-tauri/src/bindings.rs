//! TypeScript types for the web UI, generated from the Rust types with ts-rs: commands' arguments
//! and results, channel messages, errors. `ui/src/bindings.ts` is committed; the test below fails
//! when it no longer matches the Rust types (`NATTER_UPDATE_BINDINGS=1 cargo test bindings`
//! rewrites it).

use ts_rs::TS;

const HEADER: &str = "// Generated from the Rust types by src-tauri/src/bindings.rs (ts-rs). Do not edit:\n// run `NATTER_UPDATE_BINDINGS=1 cargo test bindings` after changing a Rust type.\n";

/// The whole `ui/src/bindings.ts`.
pub fn typescript() -> String {
    // JSON numbers become JS numbers; none of our counters come near 2^53.
    let cfg = ts_rs::Config::new().with_large_int("number");
    let mut declarations = Vec::new();
    declarations.extend(natter_settings::typescript_declarations(&cfg));
    declarations.extend(natter_call::report::typescript_declarations(&cfg));
    declarations.extend(crate::settings_ui::typescript_declarations(&cfg));
    declarations.push(crate::desktop::UiError::decl(&cfg));
    declarations.push(crate::desktop::CallInfo::decl(&cfg));
    declarations.push(crate::desktop::JoinRequest::decl(&cfg));
    declarations.push(crate::desktop::StatsSample::decl(&cfg));
    let mut out = String::from(HEADER);
    for declaration in declarations {
        out.push('\n');
        out.push_str("export ");
        out.push_str(declaration.trim());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn typescript_bindings_are_up_to_date() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/ui/src/bindings.ts");
        let fresh = super::typescript();
        if std::env::var("NATTER_UPDATE_BINDINGS").as_deref() == Ok("1") {
            std::fs::write(path, &fresh).expect("write ui/src/bindings.ts");
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == fresh,
            "ui/src/bindings.ts is stale: a Rust type the UI uses changed. Run `NATTER_UPDATE_BINDINGS=1 cargo test bindings` and commit the result."
        );
    }
}
