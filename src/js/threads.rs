//! Threads from JavaScript. In the `threads` build (nightly, shared memory), call
//! `await initThreadPool(n)` once, from a Worker (a page's main thread may not block, so rayon
//! would busy-wait there), on a cross-origin-isolated page (COOP/COEP headers).
use wasm_bindgen::prelude::*;

#[cfg(all(feature = "threads", target_arch = "wasm32"))]
pub use wasm_bindgen_rayon::init_thread_pool;

/// Threads the kernels run on now (1 until `initThreadPool` resolves, or in a build without
/// threads).
#[wasm_bindgen]
pub fn num_threads() -> usize {
    crate::parallel::threads()
}

/// Whether this artefact was built with thread support (`initThreadPool` is exported).
#[wasm_bindgen]
pub fn threads_supported() -> bool {
    cfg!(all(feature = "threads", target_arch = "wasm32"))
}
