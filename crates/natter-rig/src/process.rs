//! Child processes of the tests and the bench, never left behind: a [`Reaped`] child is killed
//! and reaped when it drops, whether its test passed or panicked.
//!
//! Two ways to end one. [`Reaped::new`] wraps a spawned child and kills it at once (SIGKILL):
//! for servers and participants (`natter signal-server`, `natter headless`, PulseAudio, `parec`)
//! that hold nothing worth a polite end. [`Reaped::spawn_group`] starts a program in a process
//! group of its own, for a program that starts programs (the app window and WebKit's helpers,
//! tauri-driver and WebKitWebDriver, an X server): on drop the whole group and every descendant
//! (found through /proc before the first signal, since WebKit's helpers leave the group) get
//! SIGTERM, up to 3 s to exit (Xvfb then removes its socket and lock file), then SIGKILL.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed (with its process group and descendants, if started with
/// [`Reaped::spawn_group`]) and reaped on drop. Derefs to its [`Child`].
pub struct Reaped {
    child: Child,
    /// Started in its own process group: end the group and its descendants, politely first.
    group: bool,
}

impl Reaped {
    /// Kill `child` (SIGKILL) and reap it on drop.
    pub fn new(child: Child) -> Reaped {
        Reaped { child, group: false }
    }

    /// Start `command` in a process group of its own; on drop the group and every descendant are
    /// ended (SIGTERM, up to 3 s, SIGKILL). Panics if it cannot start, with `install_hint` when
    /// the program is not there.
    pub fn spawn_group(what: &str, command: &mut Command, install_hint: &str) -> Reaped {
        use std::os::unix::process::CommandExt;
        command.process_group(0);
        match command.spawn() {
            Ok(child) => Reaped { child, group: true },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!("`{what}` not found: {install_hint}"),
            Err(e) => panic!("cannot start {what}: {e}"),
        }
    }

    /// Whether it has exited (reaps it if so).
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Whether it has exited, through `&self`: /proc shows it as a zombie (or no more).
    pub fn has_exited(&self) -> bool {
        match std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())) {
            // "pid (comm) state …": comm may hold spaces and parentheses, the state follows the last ')'.
            Ok(stat) => stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .is_some_and(|state| state == "Z"),
            Err(_) => true,
        }
    }
}

impl std::ops::Deref for Reaped {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.child
    }
}

impl std::ops::DerefMut for Reaped {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.child
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        if self.group {
            let pid = self.child.id();
            let descendants = descendants_of(pid);
            let group = format!("-{pid}");
            signal("TERM", &group);
            for d in &descendants {
                signal("TERM", &d.to_string());
            }
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline && !self.exited() {
                std::thread::sleep(Duration::from_millis(50));
            }
            signal("KILL", &group);
            for d in &descendants {
                signal("KILL", &d.to_string());
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `kill -SIG -- TARGET` (a pid, or `-PGID` for a process group).
fn signal(sig: &str, target: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{sig}"), "--", target])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Every live descendant of `root` (its children, then theirs), from /proc.
fn descendants_of(root: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // "pid (comm) state ppid ..." — comm may contain spaces/parens, so split after the last ')'.
            let Some((_, rest)) = stat.rsplit_once(')') else {
                continue;
            };
            let mut fields = rest.split_whitespace();
            let _state = fields.next();
            if let Some(ppid) = fields.next().and_then(|p| p.parse::<u32>().ok()) {
                parent_of.push((pid, ppid));
            }
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let p = found[i];
        found.extend(parent_of.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    found.remove(0);
    found
}
