//! Tauri's build step for the `natter` binary. Capabilities and the app's own command permissions
//! live under `src-tauri/` (the package manifest is the workspace root, see NOTES/ARCHITECTURE).
fn main() {
    // The window embeds the built web UI (tauri.conf.json `frontendDist`); say how to make it.
    if !std::path::Path::new("ui/dist/index.html").exists() {
        panic!(
            "ui/dist is missing: build the web UI first (`bash scripts/setup.sh`, or `cd ui && npm ci && npm run build`)"
        );
    }
    // `natter --version` names the commit: NATTER_COMMIT if the release build sets it, else git,
    // else "unknown" (a source tarball).
    let commit = std::env::var("NATTER_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| {
            let out = std::process::Command::new("git")
                .args(["rev-parse", "--short=10", "HEAD"])
                .output()
                .ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        });
    println!(
        "cargo:rustc-env=NATTER_COMMIT={}",
        commit.unwrap_or_else(|| "unknown".into())
    );
    println!("cargo:rerun-if-env-changed=NATTER_COMMIT");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
    println!("cargo:rerun-if-changed=ui/dist");
    println!("cargo:rerun-if-changed=src-tauri/capabilities");
    println!("cargo:rerun-if-changed=src-tauri/permissions");
    let attributes = tauri_build::Attributes::new()
        .capabilities_path_pattern("src-tauri/capabilities/*.json")
        .app_manifest(tauri_build::AppManifest::new().permissions_path_pattern("src-tauri/permissions/*.toml"));
    tauri_build::try_build(attributes).expect("tauri build step (tauri.conf.json, icons, capabilities)");
}
