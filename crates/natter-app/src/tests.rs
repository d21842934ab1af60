//! `App` end to end without a window: real settings directories, the real call engine (the
//! embedded demo and the render test), a recording `CallView` where the page would be.

use super::*;
use natter_settings::CredentialType;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A scratch settings directory (credentials in its own file, never the OS keyring).
struct Scratch(natter_rig::TempDir);

impl Scratch {
    fn new(what: &str) -> Scratch {
        Scratch(natter_rig::TempDir::new(&format!("app-{what}")))
    }

    fn config(&self) -> ConfigDir {
        ConfigDir::at(&self.0.0).with_file_credentials()
    }
}

fn app(scratch: &Scratch, demo: DemoSetup) -> App {
    App::new(AppOptions {
        demo,
        config: Ok(scratch.config()),
        bind: IpAddr::from([127, 0, 0, 1]),
        version: "0.0.0-test (commit test)".into(),
        // A Downloads folder that does not exist until a test makes it, and a log folder.
        exports: ExportPlaces {
            downloads: Some(scratch.0.0.join("Downloads")),
            documents: None,
            logs: Some(scratch.0.0.join("logs")),
        },
    })
}

fn server(id: &str, url: &str, username: &str) -> ServerEntry {
    ServerEntry {
        id: id.into(),
        urls: vec![url.into()],
        username: Some(username.into()),
        credential_type: CredentialType::Password,
        has_credential: false,
    }
}

fn credential(id: &str, secret: &str) -> CredentialUpdate {
    CredentialUpdate {
        id: id.into(),
        credential: Some(secret.into()),
    }
}

/// Where the page would be: keeps every message and counts frame messages, and frames per tile.
#[derive(Default)]
struct Page {
    messages: std::sync::Mutex<Vec<CallMessage>>,
    frame_messages: AtomicUsize,
    tile_frames: std::sync::Mutex<std::collections::HashMap<String, usize>>,
}

impl CallView for Page {
    fn frames(&self, frames: &[natter_call::view::TileFrame]) -> Result<(), Closed> {
        assert!(!frames.is_empty());
        self.frame_messages.fetch_add(1, Ordering::Relaxed);
        let mut tiles = self.tile_frames.lock().unwrap();
        for frame in frames {
            *tiles.entry(frame.tile_id.clone()).or_default() += 1;
        }
        Ok(())
    }
    fn message(&self, message: &CallMessage) -> Result<(), Closed> {
        self.messages.lock().unwrap().push(message.clone());
        Ok(())
    }
}

impl Page {
    /// Frames received for the remote participants' tiles (not the self view).
    fn remote_frames(&self) -> usize {
        let tiles = self.tile_frames.lock().unwrap();
        tiles.iter().filter(|(id, _)| *id != "local").map(|(_, n)| n).sum()
    }

    fn local_frames(&self) -> usize {
        self.tile_frames.lock().unwrap().get("local").copied().unwrap_or(0)
    }

    fn ended(&self) -> bool {
        self.messages
            .lock()
            .unwrap()
            .iter()
            .any(|m| matches!(m, CallMessage::Ended))
    }

    async fn wait_for(&self, what: &str, mut found: impl FnMut(&[CallMessage]) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !found(&self.messages.lock().unwrap()) {
            assert!(tokio::time::Instant::now() < deadline, "no {what} within 60 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test]
async fn saving_checks_every_url_and_the_whole_configuration_before_writing() {
    let scratch = Scratch::new("save");
    let app = app(&scratch, DemoSetup::default());
    let mut settings = Settings {
        servers: vec![
            server("a", "stun:127.0.0.1:3478", "u"),
            server("b", "http://turn.example", "u"),
        ],
        ..Settings::default()
    };
    let e = app.save_settings(settings.clone(), vec![]).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidIceUrl);
    assert!(e.message.contains("http://turn.example"), "{}", e.message);
    assert!(!scratch.config().settings_file().exists(), "nothing saved");

    // A TURN server without its password: the URL is fine, the configuration is not.
    settings.servers[1] = server("b", "turn:127.0.0.1:3478", "u");
    let e = app.save_settings(settings.clone(), vec![]).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidIceConfig, "{}", e.message);
    assert!(!scratch.config().settings_file().exists(), "nothing saved");

    let saved = app.save_settings(settings, vec![credential("b", "pw")]).await.unwrap();
    assert!(saved.servers[1].has_credential);
    let view = app.settings().unwrap();
    assert_eq!(view.settings, saved);
    assert_eq!(view.config_dir, scratch.0.0.display().to_string());
    let exported = app.export_ice_servers(true).unwrap();
    assert!(exported.contains("\"credential\": \"pw\""), "{exported}");
    assert!(!app.export_ice_servers(false).unwrap().contains("pw"));
}

#[tokio::test]
async fn without_a_config_dir_every_settings_command_says_so() {
    let app = App::new(AppOptions {
        config: Err("no home".into()),
        ..AppOptions::from_env(DemoSetup::default(), "v")
    });
    for e in [
        app.settings().map(|_| ()).unwrap_err(),
        app.logs_info().map(|_| ()).unwrap_err(),
        app.export_diagnostics().await.map(|_| ()).unwrap_err(),
        app.choose_device(DeviceKind::Camera, "0".into()).await.unwrap_err(),
    ] {
        assert_eq!(e, AppError::new(ErrorCode::NoConfigDir, "no home"));
    }
}

#[tokio::test]
async fn imports_and_url_checks_use_the_parsers_words() {
    let scratch = Scratch::new("import");
    let app = app(&scratch, DemoSetup::default());
    let imported = app
        .import_ice_servers(r#"{"iceServers":[{"urls":"turn:127.0.0.1:3478","username":"u","credential":"pw"}]}"#)
        .unwrap();
    assert_eq!(imported.servers.len(), 1);
    assert_eq!(imported.credentials[0].id, imported.servers[0].id);
    assert_eq!(imported.credentials[0].credential.as_deref(), Some("pw"));
    assert_eq!(
        app.import_ice_servers("{").unwrap_err().code,
        ErrorCode::InvalidIceConfig
    );
    let fine = app.check_ice_urls("stun:127.0.0.1, turn:127.0.0.1:3478");
    assert!(fine.problems.is_empty() && fine.relay, "{fine:?}");
    assert_eq!(fine.urls, ["stun:127.0.0.1", "turn:127.0.0.1:3478"]);
    assert_eq!(app.check_ice_urls("stun:").problems.len(), 1);
    assert_eq!(
        app.probe_ice_servers("not json").await.unwrap_err().code,
        ErrorCode::InvalidIceConfig
    );
}

#[tokio::test]
async fn chosen_devices_and_detailed_logs_are_saved() {
    let scratch = Scratch::new("choose");
    let app = app(&scratch, DemoSetup::default());
    app.choose_device(DeviceKind::Camera, SYNTHETIC_CAMERA.into())
        .await
        .unwrap();
    app.choose_device(DeviceKind::Speaker, SYSTEM_DEFAULT.into())
        .await
        .unwrap();
    let settings = scratch.config().load().unwrap();
    assert_eq!(settings.camera.as_deref(), Some(SYNTHETIC_CAMERA));
    assert_eq!(settings.speaker, None);
    assert!(!app.logs_info().unwrap().detailed);
    assert!(app.set_detailed_logs(true).unwrap().detailed);
    assert!(scratch.config().load().unwrap().detailed_logs);
}

#[tokio::test]
async fn a_common_word_as_password_leaves_the_diagnostics_intact_and_is_not_in_them() {
    let scratch = Scratch::new("diagnostics");
    let app = app(&scratch, DemoSetup::default());
    let settings = Settings {
        display_name: "Ann's test pattern".into(),
        servers: vec![
            server("common", "turn:test.example.com:3478?transport=udp", "test-user"),
            server("rare", "turn:127.0.0.1:3478", "natter"),
        ],
        ..Settings::default()
    };
    app.save_settings(
        settings,
        vec![credential("common", "test"), credential("rare", "pw-5f1c9e-rare")],
    )
    .await
    .unwrap();

    let path = app.export_diagnostics().await.unwrap();
    // No Downloads folder: the log folder, under a name that says when (local time).
    let name = std::path::Path::new(&path)
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(
        std::path::Path::new(&path).parent(),
        Some(scratch.0.0.join("logs").as_path())
    );
    let stamp = name
        .strip_prefix("natter-diagnostics-")
        .and_then(|n| n.strip_suffix(".json"))
        .unwrap_or_else(|| panic!("{name}"));
    assert!(
        chrono::NaiveDateTime::parse_from_str(&format!("{stamp}00"), "%Y-%m-%d-%H%M%S").is_ok(),
        "{name}"
    );
    let text = std::fs::read_to_string(&path).unwrap();
    // Ordinary text with the password in it is as the user wrote it: nothing was replaced.
    for intact in [
        "Ann's test pattern",
        "turn:test.example.com:3478?transport=udp",
        "test-user",
    ] {
        assert!(text.contains(intact), "`{intact}` is missing:\n{text}");
    }
    assert!(!text.contains("***"), "{text}");
    assert!(!text.contains("pw-5f1c9e-rare"), "{text}");
    // The common-word password is nowhere as a value of its own, and no credential field exists.
    let document: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut strings = Vec::new();
    collect(&document, &mut strings);
    assert!(!strings.iter().any(|s| s == "test"), "the password as a value: {text}");
    assert!(!strings.iter().any(|s| s.contains("credential\":")), "{text}");
    assert!(!text.contains("\"credential\""), "{text}");
    // The contract of the file: these keys, the settings without secrets.
    for key in [
        "natter_version",
        "os",
        "arch",
        "written_unix",
        "settings",
        "servers",
        "health_events",
        "stats_history",
    ] {
        assert!(document.get(key).is_some(), "no {key}");
    }
    assert_eq!(document["natter_version"], "0.0.0-test (commit test)");
    assert_eq!(document["settings"]["servers"][0]["hasCredential"], true);

    // With a Downloads folder, the file goes there; a second one that minute keeps the first.
    std::fs::create_dir(scratch.0.0.join("Downloads")).unwrap();
    let first = app.export_diagnostics().await.unwrap();
    let second = app.export_diagnostics().await.unwrap();
    for path in [&first, &second] {
        assert_eq!(
            std::path::Path::new(path).parent(),
            Some(scratch.0.0.join("Downloads").as_path())
        );
    }
    assert_ne!(first, second);
    assert!(std::path::Path::new(&first).exists() && std::path::Path::new(&second).exists());
    // "Show in folder" opens only the folders of files the app wrote.
    let e = app.show_in_folder("/etc/passwd").unwrap_err();
    assert_eq!(e.code, ErrorCode::ExportFailed, "{}", e.message);
}

#[tokio::test]
async fn exported_servers_go_to_a_named_file_private_when_it_holds_passwords() {
    let scratch = Scratch::new("servers-file");
    let app = app(&scratch, DemoSetup::default());
    app.save_settings(
        Settings {
            servers: vec![server("a", "turn:127.0.0.1:3478", "natter")],
            ..Settings::default()
        },
        vec![credential("a", "pw-7d1e")],
    )
    .await
    .unwrap();
    // No Downloads or Documents folder: beside the settings.
    let plain = app.save_ice_servers_file(false).unwrap();
    assert_eq!(std::path::Path::new(&plain).parent(), Some(scratch.0.0.as_path()));
    assert!(plain.contains("natter-ice-servers-"), "{plain}");
    assert!(!std::fs::read_to_string(&plain).unwrap().contains("pw-7d1e"));
    std::fs::create_dir(scratch.0.0.join("Downloads")).unwrap();
    let with = app.save_ice_servers_file(true).unwrap();
    assert_eq!(
        std::path::Path::new(&with).parent(),
        Some(scratch.0.0.join("Downloads").as_path())
    );
    assert!(std::fs::read_to_string(&with).unwrap().contains("pw-7d1e"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&with).unwrap().permissions().mode() & 0o077, 0);
    }
}

/// Every string in a JSON document, keys included.
fn collect(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                out.push(k.clone());
                collect(v, out);
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn muting_before_a_call_chooses_how_it_starts_and_a_bad_join_keeps_the_current_one() {
    let scratch = Scratch::new("render");
    let app = app(
        &scratch,
        DemoSetup {
            remote_participants: 2,
            tile: Some((32, 18)),
            render_test: true,
        },
    );
    // The pre-join screen's toggle: no call yet, the choice is the next call's.
    app.set_muted(MediaKind::Audio, true).await.unwrap();
    let page = Arc::new(Page::default());
    let info = app.start_call(None, page.clone()).await.unwrap();
    assert_eq!(
        (
            info.room.as_str(),
            info.mode,
            info.ice_warning,
            info.audio_muted,
            info.video_muted
        ),
        ("render test", CallKind::RenderTest, None, true, false)
    );
    page.wait_for("status of both tiles", |m| {
        m.iter()
            .filter(
                |m| matches!(m, CallMessage::Status { state, .. } if *state == natter_call::view::TileState::Connected),
            )
            .count()
            == 2
    })
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while page.frame_messages.load(Ordering::Relaxed) < call::MAX_FRAMES_IN_FLIGHT + 3 {
        // Acknowledge as the page does, or the flow control holds the frames back.
        app.frames_drawn(1);
        assert!(tokio::time::Instant::now() < deadline, "frames stopped");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    app.set_muted(MediaKind::Video, true).await.unwrap();

    let bad = JoinRequest {
        signal_url: "http://127.0.0.1:1".into(),
        room: "r".into(),
        name: String::new(),
        room_secret: None,
    };
    let e = app.start_call(Some(bad), Arc::new(Page::default())).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidSignalUrl);
    app.set_muted(MediaKind::Video, false)
        .await
        .expect("the call still runs");

    // Leaving stops the frames at once (the page has ended its view already: no `ended`).
    app.leave_call().await.unwrap();
    let frames = page.frame_messages.load(Ordering::Relaxed);
    app.frames_drawn(10);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(page.frame_messages.load(Ordering::Relaxed), frames);
    app.leave_call().await.expect("leaving twice is fine");
}

#[tokio::test]
async fn a_server_nobody_runs_is_unreachable() {
    let scratch = Scratch::new("room");
    let app = app(&scratch, DemoSetup::default());
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let join = JoinRequest {
        signal_url: format!("ws://127.0.0.1:{port}"),
        room: "r".into(),
        name: "Ann".into(),
        room_secret: None,
    };
    let e = app.start_call(Some(join), Arc::new(Page::default())).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::SignalingUnreachable, "{}", e.message);
    assert!(e.message.contains(&format!("127.0.0.1:{port}")), "{}", e.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_call_reaches_the_page_and_the_diagnostics() {
    let scratch = Scratch::new("demo");
    let app = app(
        &scratch,
        DemoSetup {
            remote_participants: 1,
            tile: Some((64, 36)),
            render_test: false,
        },
    );
    // The synthetic sources (CI has no camera or microphone) and no speaker to wait for.
    app.choose_device(DeviceKind::Camera, SYNTHETIC_CAMERA.into())
        .await
        .unwrap();
    app.choose_device(DeviceKind::Microphone, SYNTHETIC_MICROPHONE.into())
        .await
        .unwrap();
    // A TURN server whose password is the common word "test" (nothing answers at its port: the
    // demo's participants meet over host candidates).
    let closed_port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let settings = Settings {
        servers: vec![server("t", &format!("turn:127.0.0.1:{closed_port}"), "test-user")],
        ..scratch.config().load().unwrap()
    };
    app.save_settings(settings, vec![credential("t", "test")])
        .await
        .unwrap();
    let page = Arc::new(Page::default());
    let info = app.start_call(None, page.clone()).await.unwrap();
    assert_eq!(
        (info.room.as_str(), info.mode, info.ice_warning),
        ("demo", CallKind::Demo, None)
    );
    // Wait for a snapshot in which the remote's video has been decoded for a while.
    page.wait_for("a snapshot with decoded video", |m| {
        m.iter()
            .any(|m| matches!(m, CallMessage::Stats(s) if s.report.peers.iter().any(|p| p.video.frames_decoded >= 30)))
    })
    .await;
    let history = app.stats_history();
    assert!(!history.is_empty());
    let path = app.export_diagnostics().await.unwrap();
    app.leave_call().await.unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("test pattern (synthetic camera)"), "{text}");
    assert!(text.contains("test-user") && text.contains(&format!("turn:127.0.0.1:{closed_port}")));
    assert!(!text.contains("***"), "nothing was replaced in the text: {text}");
    let document: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut strings = Vec::new();
    collect(&document, &mut strings);
    assert!(!strings.iter().any(|s| s == "test"), "the password as a value: {text}");
    assert!(!strings.iter().any(|s| s == "credential"), "{text}");

    // The counters beside the decoded frames are counted too (the last snapshot that decoded).
    let sample = document["stats_history"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|s| s["report"]["peers"][0]["video"]["frames_decoded"].as_u64().unwrap_or(0) >= 30)
        .expect("a snapshot with decoded video in the export");
    let peer = &sample["report"]["peers"][0];
    for counter in [
        "/bytes_received",
        "/packets_received",
        "/audio/packets_received",
        "/sent/video/packets_sent",
        "/sent/audio/packets_sent",
    ] {
        assert!(
            peer.pointer(counter).and_then(|v| v.as_u64()).unwrap_or(0) > 0,
            "{counter} is 0 beside {} decoded frames: {peer:#}",
            peer["video"]["frames_decoded"]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_room_is_told_apart_from_a_server_that_is_down() {
    let server = natter_signal::server::SignalServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
        .spawn();
    let (first, second) = (Scratch::new("locked-a"), Scratch::new("locked-b"));
    let (first, second) = (app(&first, DemoSetup::default()), app(&second, DemoSetup::default()));
    for app in [&first, &second] {
        app.choose_device(DeviceKind::Camera, SYNTHETIC_CAMERA.into())
            .await
            .unwrap();
        app.choose_device(DeviceKind::Microphone, SYNTHETIC_MICROPHONE.into())
            .await
            .unwrap();
    }
    let join = |secret: Option<&str>| JoinRequest {
        signal_url: server.url(),
        room: "standup".into(),
        name: "Ann".into(),
        room_secret: secret.map(|s| natter_signal::protocol::RoomSecret(s.into())),
    };
    let info = first
        .start_call(Some(join(Some("s3cret"))), Arc::new(Page::default()))
        .await
        .unwrap();
    assert_eq!((info.room.as_str(), info.mode), ("standup", CallKind::Room));
    let e = second
        .start_call(Some(join(None)), Arc::new(Page::default()))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::RoomLocked, "{}", e.message);
    let e = second
        .start_call(Some(join(Some("guess"))), Arc::new(Page::default()))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::RoomLocked, "{}", e.message);
    first.leave_call().await.unwrap();
    server.shutdown();
}

/// An app whose calls use the synthetic camera and tone (CI has no devices) and one synthetic
/// remote in the demo.
async fn synthetic_app(scratch: &Scratch) -> App {
    let app = app(
        scratch,
        DemoSetup {
            remote_participants: 1,
            tile: Some((64, 36)),
            render_test: false,
        },
    );
    app.choose_device(DeviceKind::Camera, SYNTHETIC_CAMERA.into())
        .await
        .unwrap();
    app.choose_device(DeviceKind::Microphone, SYNTHETIC_MICROPHONE.into())
        .await
        .unwrap();
    app
}

/// Acknowledge frames as the page does (or the flow control holds them back) until the page
/// has received `more` frames of remote tiles than it had; fails after 60 s.
async fn remote_frames_grow(app: &App, page: &Page, more: usize) {
    let target = page.remote_frames() + more;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while page.remote_frames() < target {
        app.frames_drawn(2);
        assert!(
            tokio::time::Instant::now() < deadline,
            "remote frames stopped at {} (wanted {target})",
            page.remote_frames()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_join_leaves_the_running_call_running_and_a_good_one_replaces_it() {
    let server = natter_signal::server::SignalServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
        .spawn();
    // Someone holds a locked room open.
    let (_owner, _, _owner_rx) = natter_signal::client::SignalClient::join_room(
        &server.url(),
        "locked",
        "Owner",
        true,
        Some(natter_signal::protocol::RoomSecret("s3cret".into())),
    )
    .await
    .unwrap();
    let scratch = Scratch::new("handover");
    let app = synthetic_app(&scratch).await;
    let page = Arc::new(Page::default());
    app.start_call(None, page.clone()).await.unwrap();
    remote_frames_grow(&app, &page, 10).await;

    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let join = |url: String, room: &str, secret: Option<&str>| JoinRequest {
        signal_url: url,
        room: room.into(),
        name: "Ann".into(),
        room_secret: secret.map(|s| natter_signal::protocol::RoomSecret(s.into())),
    };
    let failed = [
        (
            join(format!("ws://127.0.0.1:{closed_port}"), "r", None),
            ErrorCode::SignalingUnreachable,
        ),
        (join(server.url(), "locked", Some("guess")), ErrorCode::RoomLocked),
        (join(server.url(), " ", None), ErrorCode::MissingRoom),
    ];
    for (request, code) in failed {
        let elsewhere = Arc::new(Page::default());
        let e = app.start_call(Some(request), elsewhere.clone()).await.unwrap_err();
        assert_eq!(e.code, code, "{}", e.message);
        // The call that ran goes on, on its own view, as if nothing had been tried.
        remote_frames_grow(&app, &page, 10).await;
        assert!(!page.ended(), "the running call was stopped");
        assert!(elsewhere.messages.lock().unwrap().is_empty());
        assert_eq!(elsewhere.frame_messages.load(Ordering::Relaxed), 0);
        app.set_muted(MediaKind::Audio, false).await.expect("still in the call");
    }

    // A room that lets us in: the old call stops, its view hears nothing more.
    let room_page = Arc::new(Page::default());
    let info = app
        .start_call(Some(join(server.url(), "open", None)), room_page.clone())
        .await
        .unwrap();
    assert_eq!((info.room.as_str(), info.mode), ("open", CallKind::Room));
    let (frames, messages) = (
        page.frame_messages.load(Ordering::Relaxed),
        page.messages.lock().unwrap().len(),
    );
    app.frames_drawn(10);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(page.frame_messages.load(Ordering::Relaxed), frames);
    assert_eq!(page.messages.lock().unwrap().len(), messages);
    room_page
        .wait_for("the new call's first stats", |m| {
            m.iter().any(|m| matches!(m, CallMessage::Stats(_)))
        })
        .await;
    app.leave_call().await.unwrap();
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mute_and_camera_off_survive_a_new_call_from_its_first_frame() {
    let scratch = Scratch::new("mute-kept");
    let app = synthetic_app(&scratch).await;
    let page = Arc::new(Page::default());
    let info = app.start_call(None, page.clone()).await.unwrap();
    assert!(!info.audio_muted && !info.video_muted);
    remote_frames_grow(&app, &page, 5).await;
    assert!(page.local_frames() > 0, "the self view shows the camera");
    app.set_muted(MediaKind::Audio, true).await.unwrap();
    app.set_muted(MediaKind::Video, true).await.unwrap();

    // Another call: it starts with both off, and says so.
    let next = Arc::new(Page::default());
    let info = app.start_call(None, next.clone()).await.unwrap();
    assert!(info.audio_muted && info.video_muted, "{info:?}");
    remote_frames_grow(&app, &next, 20).await;
    assert_eq!(next.local_frames(), 0, "the camera was never on in the new call");
    next.wait_for("a stats message", |m| {
        m.iter().any(|m| matches!(m, CallMessage::Stats(_)))
    })
    .await;
    let first = next
        .messages
        .lock()
        .unwrap()
        .iter()
        .find_map(|m| match m {
            CallMessage::Stats(sample) => Some(sample.report.local_media.clone()),
            _ => None,
        })
        .unwrap();
    assert!(first.microphone.off && first.camera.off, "{first:?}");
    assert!(!first.microphone.sending && !first.camera.sending, "{first:?}");

    // Back on, and the next call has them on again.
    app.set_muted(MediaKind::Audio, false).await.unwrap();
    app.set_muted(MediaKind::Video, false).await.unwrap();
    let last = Arc::new(Page::default());
    let info = app.start_call(None, last.clone()).await.unwrap();
    assert!(!info.audio_muted && !info.video_muted);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while last.local_frames() == 0 {
        app.frames_drawn(2);
        assert!(tokio::time::Instant::now() < deadline, "the camera stayed off");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.leave_call().await.unwrap();
}
