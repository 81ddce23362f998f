//! Threads from JavaScript. In the `threads` build (nightly, shared memory), call
//! `await startThreads(n)` (or wasm-bindgen-rayon's raw `initThreadPool(n)`) once, right after
//! `init()` and before any other call: the first computation fixes rayon's pool, at 1 thread if
//! it was not started yet. Call it from a Worker (a page's main thread may not block, so rayon
//! would busy-wait there and take a core) on a cross-origin-isolated page (COOP/COEP headers).
//!
//! ```js
//! import init, { startThreads, num_threads, cross_origin_isolated } from './pkg-threads/wasmnn.js';
//! await init();
//! await startThreads(2);      // throws an Error saying why when threads cannot start
//! console.log(num_threads()); // 2
//! ```
use wasm_bindgen::prelude::*;

#[cfg(all(feature = "threads", target_arch = "wasm32"))]
pub use wasm_bindgen_rayon::init_thread_pool;

#[wasm_bindgen]
extern "C" {
    // `Option` statics read `undefined` (absent in this environment) as `None`.
    #[wasm_bindgen(thread_local_v2, js_name = crossOriginIsolated)]
    static CROSS_ORIGIN_ISOLATED: Option<JsValue>;
    #[wasm_bindgen(thread_local_v2, js_name = Worker)]
    static WORKER: Option<JsValue>;
}

/// Threads the kernels run on now: the pool's (1 until `initThreadPool` resolves, or in a build
/// without threads), at most the cap of [`set_thread_limit`]. Calling it before the pool was
/// started fixes the pool at 1 thread.
#[wasm_bindgen]
pub fn num_threads() -> usize {
    crate::parallel::threads()
}

/// Caps the threads later calls use (`set_thread_limit(1)`), or lifts the cap
/// (`set_thread_limit()`, `undefined`): the pool cannot be resized once started, so this is how
/// a page runs on fewer threads later. Throws on 0. See [`crate::parallel::set_thread_limit`].
#[wasm_bindgen]
pub fn set_thread_limit(limit: Option<usize>) -> Result<(), JsError> {
    let limit = match limit {
        None => None,
        Some(n) => Some(core::num::NonZeroUsize::new(n).ok_or_else(|| {
            JsError::new("set_thread_limit: the limit must be at least 1 (no argument: no limit)")
        })?),
    };
    crate::parallel::set_thread_limit(limit);
    Ok(())
}

/// Whether this artefact was built with thread support (`initThreadPool` is exported).
#[wasm_bindgen]
pub fn threads_supported() -> bool {
    cfg!(all(feature = "threads", target_arch = "wasm32"))
}

/// `self.crossOriginIsolated`: `true` on a page served with COOP/COEP (and its workers), `false`
/// on other pages, `undefined` outside a browser (Node).
#[wasm_bindgen]
pub fn cross_origin_isolated() -> Option<bool> {
    // Natively (host tests of the bindings) there is no JavaScript to ask.
    #[cfg(target_arch = "wasm32")]
    {
        CROSS_ORIGIN_ISOLATED.with(|v| v.as_ref().and_then(JsValue::as_bool))
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        None
    }
}

/// Whether the global `Worker` constructor exists (always "yes" natively: not asked).
fn has_worker_api() -> bool {
    #[cfg(target_arch = "wasm32")]
    {
        WORKER.with(Option::is_some)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        true
    }
}

/// Why `threads` threads cannot start here, or `None` when they can (checked in this order:
/// the count, the build, cross-origin isolation, the Worker API, a pool already fixed).
fn unavailable(threads: usize) -> Option<String> {
    if threads == 0 {
        return Some("startThreads: the thread count must be at least 1".into());
    }
    if !threads_supported() {
        return Some(format!(
            "startThreads({threads}): this wasmnn package was built without threads; use the \
             threads build (cargo +nightly-2026-05-20 build --release --target \
             wasm32-unknown-unknown --features js,threads --config .cargo/threads.toml, then \
             wasm-bindgen --target web), e.g. bench/pkg-threads"
        ));
    }
    if cross_origin_isolated() == Some(false) {
        return Some(format!(
            "startThreads({threads}): this page is not cross-origin isolated \
             (self.crossOriginIsolated is false), so it cannot share wasm memory with workers: \
             serve the page and its scripts with the headers `Cross-Origin-Opener-Policy: \
             same-origin` and `Cross-Origin-Embedder-Policy: require-corp`"
        ));
    }
    if !has_worker_api() {
        return Some(format!(
            "startThreads({threads}): this JavaScript environment has no Web Worker API (Node: \
             install a Worker shim over worker_threads first, see bench/src/node-threads.mjs)"
        ));
    }
    if crate::parallel::pool_fixed() {
        return Some(format!(
            "startThreads({threads}): the thread pool is already fixed (with {} thread(s)) by an \
             earlier call; start threads once, right after init() and before any other wasmnn \
             call",
            crate::parallel::pool_threads()
        ));
    }
    None
}

/// Starts `threads` worker threads (JavaScript `startThreads(n)`): returns the Promise of
/// wasm-bindgen-rayon's `initThreadPool(n)`, or throws an `Error` that says why threads cannot
/// start here (a build without threads, a page without cross-origin isolation, no Worker API,
/// a pool already fixed).
#[wasm_bindgen(js_name = startThreads)]
pub fn start_threads(threads: usize) -> Result<JsValue, JsError> {
    match unavailable(threads) {
        Some(why) => Err(JsError::new(&why)),
        #[cfg(all(feature = "threads", target_arch = "wasm32"))]
        None => Ok(init_thread_pool(threads).into()),
        // Not reached: unavailable() refuses builds without threads.
        #[cfg(not(all(feature = "threads", target_arch = "wasm32")))]
        None => Ok(JsValue::UNDEFINED),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_say_why() {
        assert!(unavailable(0).unwrap().contains("at least 1"));
        // Natively this is never the threads wasm build.
        let why = unavailable(2).unwrap();
        assert!(why.contains("built without threads"), "{why}");
        assert!(!threads_supported());
        assert_eq!(cross_origin_isolated(), None);
    }
}
