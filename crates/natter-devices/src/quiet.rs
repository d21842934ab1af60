//! The audio backends' own chatter kept off the terminal. alsa-lib and libjack (loaded by ALSA's
//! JACK plugin while cpal lists devices) write dozens of lines straight to file descriptor 2
//! ("ALSA lib pcm.c:…: Unknown PCM cards.pcm.rear", "Cannot connect to server socket…"): they are
//! about plugins that are not there, not about the answer. `capture_stderr` points fd 2 at a pipe
//! while a closure runs and hands back what was written; the caller logs it at debug level.
//!
//! fd 2 is the process's: only a caller that knows no other thread writes to stderr meanwhile
//! (the `natter devices` command, or a test) should use this. Our own logs are unaffected when
//! the logger writes to its own copy of stderr (as the `natter` binary's does). If the closure
//! panics, what was captured (the panic message with it) goes to the real stderr.

use std::io::{Read, Write};

/// Run `f` with fd 2 captured; its result and what was written to fd 2 meanwhile. Where fd 2
/// cannot be redirected (not Unix, or the pipe fails) `f` runs as it is and the text is empty.
pub fn capture_stderr<T>(f: impl FnOnce() -> T) -> (T, String) {
    match Capture::start() {
        Ok(capture) => {
            let value = f();
            (value, capture.finish())
        }
        Err(e) => {
            tracing::debug!("stderr not captured: {e}");
            (f(), String::new())
        }
    }
}

#[cfg(unix)]
struct Capture {
    /// The real stderr, put back when done.
    saved: Option<std::os::fd::OwnedFd>,
    /// Drains the pipe (a full pipe would block the writer) until every write end is closed.
    reader: Option<std::thread::JoinHandle<Vec<u8>>>,
}

#[cfg(unix)]
impl Capture {
    fn start() -> std::io::Result<Capture> {
        use std::os::fd::AsFd;
        let saved = std::io::stderr().as_fd().try_clone_to_owned()?;
        let (mut read, write) = std::io::pipe()?;
        let reader = std::thread::Builder::new()
            .name("stderr-capture".into())
            .spawn(move || {
                let mut bytes = Vec::new();
                let _ = read.read_to_end(&mut bytes);
                bytes
            })?;
        // fd 2 becomes a second write end; ours closes here, so the reader sees the end of the
        // text as soon as fd 2 is restored.
        rustix::stdio::dup2_stderr(&write)?;
        drop(write);
        Ok(Capture {
            saved: Some(saved),
            reader: Some(reader),
        })
    }

    /// Put stderr back; the text written meanwhile.
    fn finish(mut self) -> String {
        self.restore()
    }

    fn restore(&mut self) -> String {
        let Some(saved) = self.saved.take() else {
            return String::new();
        };
        let _ = std::io::stderr().flush();
        if let Err(e) = rustix::stdio::dup2_stderr(&saved) {
            // Cannot happen for a valid fd; say so where it can still be read.
            let _ = writeln!(std::fs::File::from(saved), "natter: stderr not restored: {e}");
            return String::new();
        }
        let bytes = self.reader.take().and_then(|r| r.join().ok()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

#[cfg(unix)]
impl Drop for Capture {
    fn drop(&mut self) {
        // Only reached without `finish`: `f` panicked. Its message went into the pipe.
        let text = self.restore();
        if !text.is_empty() {
            let _ = std::io::stderr().write_all(text.as_bytes());
        }
    }
}

#[cfg(not(unix))]
struct Capture;

#[cfg(not(unix))]
impl Capture {
    fn start() -> std::io::Result<Capture> {
        Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "only on Unix"))
    }
    fn finish(self) -> String {
        String::new()
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    /// What a C library does: write to fd 2 itself, not through Rust's `stderr()`.
    fn write_to_fd_2(text: &str) {
        let fd2 = std::io::stderr().as_fd().try_clone_to_owned().unwrap();
        let mut file = std::fs::File::from(fd2);
        file.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn what_goes_to_fd_2_is_captured_and_stderr_comes_back() {
        let before = std::fs::read_link("/proc/self/fd/2").ok();
        // More than a pipe holds: the reader drains it while the writer writes.
        let noise = "ALSA lib pcm.c:2722:(snd_pcm_open_noupdate) Unknown PCM cards.pcm.rear\n".repeat(2000);
        let (answer, captured) = capture_stderr(|| {
            write_to_fd_2(&noise);
            42
        });
        assert_eq!(answer, 42);
        assert_eq!(captured, noise);
        assert_eq!(std::fs::read_link("/proc/self/fd/2").ok(), before, "fd 2 is restored");
        // Nothing left over from the first capture in a second one.
        let ((), captured) = capture_stderr(|| write_to_fd_2("second\n"));
        assert_eq!(captured, "second\n");
    }
}
