//! Giving freed memory back to the system after a call.
//!
//! A call with many participants allocates a lot (each peer connection ≈ 0.5 MB: buffers of the
//! ICE agent, DTLS, SCTP, RTP interceptors) and frees all of it when it ends — but glibc's
//! allocator keeps freed heap pages for reuse, so the app's resident size would stay at its
//! peak for as long as it runs (measured: 100 connections closed, 0 bytes still allocated, RSS
//! unchanged; `cargo xtask bench`, scenario `pc_memory`). After a call, Natter asks the
//! allocator to return what it can.

/// Return freed heap memory to the operating system (glibc `malloc_trim`; elsewhere nothing:
/// other allocators return memory by themselves or have no such call).
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it takes no pointers and
    // is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// [`release_freed_memory`] once the connections closed just now have finished shutting down
/// in the background (their tasks end within about a second).
pub fn release_freed_memory_soon() {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async {
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            release_freed_memory();
        });
    }
}
