//! Bounded stream reassembly under any sequence of opens, segments, consumes and closes on a
//! few streams of one pool: it never panics, no stream's contiguous bytes pass its limit, the
//! pool's count of bytes held stays within its cap, and the bytes actually allocated (counted
//! by the allocator itself) stay within what the pool says it holds plus its slot table.
#![no_main]

use lantern::proto::stream::{STREAM_OVERHEAD, StreamId, Streams};
use libfuzzer_sys::fuzz_target;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, counting the bytes live at any moment.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Streams open at once.
const STREAMS: usize = 4;

fuzz_target!(|data: &[u8]| {
    let Some((&first, mut ops)) = data.split_first() else { return };
    let limit = 64 + usize::from(first) * 16;
    let cap = 2 * limit + 4096;
    let before = LIVE.load(Ordering::Relaxed);
    let mut pool = Streams::new(cap);
    let mut ids: [Option<StreamId>; STREAMS] = [None; STREAMS];
    while let [kind, a, b, len, rest @ ..] = ops {
        let len = usize::from(*len).min(rest.len());
        let which = usize::from(kind >> 3) % STREAMS;
        let seq = 1000u32.wrapping_add(u32::from(u16::from_le_bytes([*a, *b]))).wrapping_sub(256);
        match (kind & 7, ids[which]) {
            (_, None) | (1, Some(_)) => {
                if let Some(id) = ids[which] {
                    pool.close(id);
                }
                ids[which] = Some(pool.open(1000, limit, first & 1 == 1));
            }
            (0, Some(id)) => pool.consume(id, usize::from(*a)),
            (2, Some(id)) => pool.close(id),
            (_, Some(id)) => {
                pool.insert(id, seq, &rest[..len]);
            }
        }
        for id in ids.iter().flatten() {
            if let Some(stream) = pool.get(*id) {
                assert!(stream.contiguous().len() <= limit);
            }
        }
        assert!(pool.held() <= cap, "{} held, cap {cap}", pool.held());
        // The slot table never has more slots than streams were open at once.
        let allocated = LIVE.load(Ordering::Relaxed) - before;
        assert!(
            allocated <= pool.held() + 2 * STREAMS * STREAM_OVERHEAD + 64,
            "{allocated} bytes allocated, {} held",
            pool.held()
        );
        ops = &rest[len..];
    }
    for id in ids.into_iter().flatten() {
        pool.close(id);
    }
    assert_eq!(pool.held(), 0, "closing gives every byte back");
});
