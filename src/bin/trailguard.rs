//! The `trailguard` command line.

fn main() -> std::process::ExitCode {
    return_freed_memory();
    trailguard::cli::main()
}

/// glibc's malloc raises its mmap threshold to the size of each large
/// block freed, up to 32 MiB, so replay's per-file buffers, freed by many
/// threads, stay in their per-thread arenas: at `--jobs 64` a 4 GiB
/// replay held 566 MB. A fixed threshold (which also ends the raising)
/// gives every block of 1 MiB or more back to the system when it is freed,
/// so the memory replay holds is the memory it uses.
fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a malloc parameter; it is called before any
    // thread is started.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}
