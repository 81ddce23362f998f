//! Cutting a kernel's work into tasks for threads. The kernels never start threads: a caller
//! passes a [`ParallelFor`] (the facade's runs rayon's pool), and every task writes its own part
//! of the output, so the result does not depend on how the tasks are scheduled.
//!
//! - [`task_count`]: how many tasks, given the size of the work (nothing below
//!   [`MIN_MACS_PER_TASK`] is worth a task);
//! - [`Slots`]: per-thread scratch buffers, claimed by a task while it runs.
use core::sync::atomic::{AtomicU64, Ordering};

pub use crate::gemm::{ParallelFor, MIN_MACS_PER_TASK};

/// How many tasks to cut `units` independent units (`macs` multiply-adds in all) into for
/// `threads` threads: one per unit, so that a thread finishing early takes the next one (load
/// balance), but none smaller than [`MIN_MACS_PER_TASK`]. 1 means "run serially".
///
/// ```
/// use wasmnn_kernels::par::{task_count, MIN_MACS_PER_TASK};
/// assert_eq!(task_count(1, 100, usize::MAX), 1); // one thread: no split
/// assert_eq!(task_count(2, 100, 3 * MIN_MACS_PER_TASK), 3); // small work: few tasks
/// assert_eq!(task_count(2, 5, usize::MAX), 5); // at most one task per unit
/// ```
pub fn task_count(threads: usize, units: usize, macs: usize) -> usize {
    if threads <= 1 {
        return 1;
    }
    units.min(macs / MIN_MACS_PER_TASK).max(1)
}

/// Most slots a [`Slots`] tracks (one bit each).
pub const MAX_SLOTS: usize = 64;

/// Which of `count` scratch slots the running tasks hold: a task claims a free slot when it
/// starts and releases it when done, so `threads` slots serve any number of tasks.
///
/// ```
/// use wasmnn_kernels::par::Slots;
/// let slots = Slots::new(2);
/// assert_eq!((slots.claim(), slots.claim()), (Some(0), Some(1)));
/// assert_eq!(slots.claim(), None); // all held: more tasks at once than slots
/// slots.release(0);
/// assert_eq!(slots.claim(), Some(0));
/// ```
#[derive(Debug)]
pub struct Slots {
    busy: AtomicU64,
    count: usize,
}

impl Slots {
    /// `count` free slots (at most [`MAX_SLOTS`]; larger counts are clamped).
    pub fn new(count: usize) -> Self {
        Self {
            busy: AtomicU64::new(0),
            count: count.min(MAX_SLOTS),
        }
    }

    /// Number of slots.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Claims a free slot, or returns `None` when all are held (a "parallel for" running more
    /// tasks at once than the thread count it was given). Whatever the previous holder wrote to
    /// the slot's memory happens before the new holder's accesses.
    pub fn claim(&self) -> Option<usize> {
        // One bit per slot (count <= 64).
        let all = match self.count {
            0 => 0,
            c => u64::MAX >> (MAX_SLOTS - c),
        };
        let mut busy = self.busy.load(Ordering::Relaxed);
        loop {
            let free = !busy & all;
            if free == 0 {
                return None;
            }
            let i = free.trailing_zeros() as usize;
            // Acquire pairs with the Release of `release`.
            match self.busy.compare_exchange_weak(
                busy,
                busy | 1 << i,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(i),
                Err(now) => busy = now,
            }
        }
    }

    /// Releases slot `i` (a no-op for an index that is not a slot).
    pub fn release(&self, i: usize) {
        if i < self.count {
            self.busy.fetch_and(!(1u64 << i), Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_count_claims_exactly_its_slots() {
        for count in [0, 1, 2, 63, 64, 65, 1000] {
            let slots = Slots::new(count);
            let n = count.min(MAX_SLOTS);
            assert_eq!(slots.count(), n);
            assert!((0..n).all(|i| slots.claim() == Some(i)), "count {count}");
            assert_eq!(slots.claim(), None, "count {count}");
            slots.release(n.saturating_sub(1));
            slots.release(usize::MAX); // not a slot: ignored
            assert_eq!(slots.claim(), n.checked_sub(1), "count {count}");
        }
    }

    #[test]
    fn tasks_are_not_split_below_the_threshold() {
        assert_eq!(task_count(4, 100, MIN_MACS_PER_TASK - 1), 1);
        assert_eq!(task_count(4, 0, 0), 1);
        assert_eq!(task_count(0, 100, usize::MAX), 1);
    }
}
