//! The blocking bridge every OpenDAL-backed backend uses: a small tokio runtime owned by the
//! backend, and the HTTP client built inside it.
//!
//! [`crate::ReadStorage`] and [`crate::WriteStorage`] are synchronous; OpenDAL is async. The
//! backend blocks the calling thread on each operation, so many lifeboat worker threads can use
//! one backend concurrently. Calling it from inside another tokio runtime is allowed too: the
//! call is then driven on a scoped helper thread.

use std::future::IntoFuture;
use std::time::Duration;

/// A backend's own I/O runtime (two worker threads).
pub(crate) struct IoRuntime {
    rt: Option<tokio::runtime::Runtime>,
}

impl IoRuntime {
    /// Starts the runtime; `name` names its threads (`lifeboat-s3`).
    pub(crate) fn new(name: &str) -> std::io::Result<IoRuntime> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(name)
            .enable_all()
            .build()?;
        Ok(IoRuntime { rt: Some(rt) })
    }

    fn rt(&self) -> &tokio::runtime::Runtime {
        self.rt.as_ref().expect("runtime lives until drop")
    }

    /// An HTTP client bound to this runtime, with the given timeouts.
    pub(crate) fn http_client(
        &self,
        connect_timeout: Duration,
        read_timeout: Duration,
    ) -> reqwest::Result<reqwest::Client> {
        let _guard = self.rt().enter();
        reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .read_timeout(read_timeout)
            .build()
    }

    /// The OpenDAL HTTP transport over `client`.
    pub(crate) fn transport(client: reqwest::Client) -> opendal::HttpTransporter {
        opendal::HttpTransporter::new(opendal_http_transport_reqwest::ReqwestTransport::new(
            client,
        ))
    }

    /// Runs one async call to completion on this runtime.
    pub(crate) fn block_on<F>(&self, f: F) -> F::Output
    where
        F: IntoFuture,
        F::IntoFuture: Send,
        F::Output: Send,
    {
        let f = f.into_future();
        let rt = self.rt();
        if tokio::runtime::Handle::try_current().is_ok() {
            // Already inside a runtime (a caller's async context): block a helper thread instead.
            std::thread::scope(|s| {
                s.spawn(|| rt.block_on(f))
                    .join()
                    .expect("storage I/O helper thread panicked")
            })
        } else {
            rt.block_on(f)
        }
    }
}

impl Drop for IoRuntime {
    fn drop(&mut self) {
        // Dropping a runtime inside another runtime's context panics; this never blocks.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}
