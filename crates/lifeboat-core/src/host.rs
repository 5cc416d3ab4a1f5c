//! Who and where: the user and host recorded in snapshots, key files, locks and journal records.

/// The current user's name (best effort).
pub fn username() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| {
            // SAFETY: getuid has no preconditions.
            let uid = unsafe { libc::getuid() };
            if uid == 0 {
                "root".to_string()
            } else {
                uid.to_string()
            }
        })
}

/// This machine's hostname.
pub fn hostname() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}
