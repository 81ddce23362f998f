//! `parallel::set_thread_limit`: a cap on the threads of a started pool. Its own test binary
//! because the cap is process-wide: in a shared binary it would change the thread count that
//! other tests running at the same time assert.
//!
//! Natively with feature `threads` (in rayon pools of 4 threads): the cap bounds both the count
//! [`parallel::threads`] reports and the threads that really take tasks, results keep their bits,
//! and lifting the cap gives every thread back. Without the feature: the API is there and the
//! count stays 1.
use std::num::NonZeroUsize;
use wasmnn::parallel;

#[test]
fn the_cap_bounds_the_threads_that_take_tasks() {
    let limit = |n| parallel::set_thread_limit(NonZeroUsize::new(n));
    assert_eq!(parallel::thread_limit(), None);
    limit(3);
    assert_eq!(parallel::thread_limit(), NonZeroUsize::new(3));
    limit(0); // None: no cap
    assert_eq!(parallel::thread_limit(), None);

    #[cfg(not(feature = "threads"))]
    {
        limit(2);
        assert_eq!(parallel::threads(), 1);
        limit(0);
        assert_eq!(parallel::threads(), 1);
    }

    #[cfg(feature = "threads")]
    {
        use std::collections::HashSet;
        use std::sync::Mutex;
        use wasmnn::{MatMut, MatRef, PackedB};

        let (m, k, n) = (96, 200, 120);
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7919) % 1000) as f32 * 1e-3 - 0.5)
            .collect();
        let w: Vec<f32> = (0..k * n)
            .map(|i| ((i * 104_729) % 997) as f32 * 1e-3 - 0.5)
            .collect();
        let b = PackedB::from_row_major(&w, k, n).unwrap();
        let gemm = || {
            let mut c = vec![f32::NAN; m * n];
            let (av, cv) = (
                MatRef::row_major(&a, m, k).unwrap(),
                MatMut::row_major(&mut c, m, n).unwrap(),
            );
            parallel::gemm_packed(1.0, av, &b, 0.0, cv, &[]).unwrap();
            c.iter().map(|x| x.to_bits()).collect::<Vec<u32>>()
        };
        // Which pool threads take tasks of a parallel_for (each task lasts long enough that an
        // idle thread would steal one).
        let takers = || {
            let seen = Mutex::new(HashSet::new());
            parallel::parallel_for(64, &|_| {
                std::thread::sleep(std::time::Duration::from_millis(1));
                seen.lock().unwrap().insert(rayon::current_thread_index());
            });
            seen.into_inner().unwrap()
        };

        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(4)
            .build()
            .unwrap();
        pool.install(|| {
            limit(1);
            let want = gemm();
            assert_eq!(parallel::threads(), 1);
            // One thread: the caller runs every task itself.
            assert_eq!(takers().len(), 1);

            limit(2);
            assert_eq!(parallel::threads(), 2);
            let two = takers();
            assert_eq!(two.len(), 2, "takers under a cap of 2: {two:?}");
            assert_eq!(gemm(), want, "2 threads");

            limit(8); // above the pool: the pool's size
            assert_eq!(parallel::threads(), 4);
            limit(0);
            assert_eq!(parallel::threads(), 4);
            assert_eq!(takers().len(), 4);
            assert_eq!(gemm(), want, "4 threads");
        });
    }
}
