//! Whole-buffer gunzip with libdeflate, about twice as fast as zlib-rs's
//! streaming inflate on CloudTrail's log files, for a buffer that holds
//! exactly one gzip member and says its size in its trailer (CloudTrail
//! writes one member per file). Anything else (several members, a size
//! past the cap, a trailer that does not tell the truth, corrupt data) is
//! left to flate2's streaming decoder, whose answers stay the ones
//! reported.

use std::cell::RefCell;
use std::ptr::NonNull;

use libdeflate_sys as sys;

/// The most a DEFLATE stream inflates: 1032 to 1 (258-byte matches coded
/// in about 2 bits).
const MAX_RATIO: usize = 1032;

/// A libdeflate decompressor, freed on drop.
struct Decompressor(NonNull<sys::libdeflate_decompressor>);

impl Decompressor {
    fn new() -> Option<Self> {
        // SAFETY: no arguments; a null answer (out of memory) is handled.
        NonNull::new(unsafe { sys::libdeflate_alloc_decompressor() }).map(Decompressor)
    }
}

impl Drop for Decompressor {
    fn drop(&mut self) {
        // SAFETY: allocated by `libdeflate_alloc_decompressor`, freed once.
        unsafe { sys::libdeflate_free_decompressor(self.0.as_ptr()) }
    }
}

thread_local! {
    /// Each thread's own: a decompressor is not to be shared between threads.
    static DECOMPRESSOR: RefCell<Option<Decompressor>> = const { RefCell::new(None) };
}

/// Gunzips `gz` into `out` (cleared first) when `gz` is exactly one gzip
/// member whose trailer's size is at most `max` and is the size it
/// inflates to; `false`, with `out` empty, for anything else.
pub fn one_member(gz: &[u8], out: &mut Vec<u8>, max: u64) -> bool {
    out.clear();
    let Some(trailer) = gz.len().checked_sub(4).and_then(|at| gz.get(at..)) else {
        return false;
    };
    let size = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]) as usize;
    if size as u64 > max || size > gz.len().saturating_mul(MAX_RATIO) {
        return false;
    }
    out.reserve(size);
    DECOMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Decompressor::new();
        }
        let Some(decompressor) = slot.as_ref() else {
            return false;
        };
        let (mut read, mut written) = (0usize, 0usize);
        // SAFETY: `gz` is readable for `gz.len()` bytes; `out` is empty and
        // its capacity is at least `size` (reserved above), so its buffer
        // is writable for the `size` bytes libdeflate may write, and it
        // reports how many it wrote in `written`; the decompressor is this
        // thread's and used by one call at a time.
        let result = unsafe {
            sys::libdeflate_gzip_decompress_ex(
                decompressor.0.as_ptr(),
                gz.as_ptr().cast(),
                gz.len(),
                out.as_mut_ptr().cast(),
                size,
                &mut read,
                &mut written,
            )
        };
        // The whole buffer one member, inflated to the size it says.
        let whole = result == sys::libdeflate_result_LIBDEFLATE_SUCCESS
            && read == gz.len()
            && written == size;
        if whole {
            // SAFETY: libdeflate initialised the first `written` bytes, and
            // `written` is within the capacity.
            unsafe { out.set_len(written) };
        }
        whole
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn one_member_is_inflated_whole() {
        let data = br#"{"Records": [{"eventName": "ConsoleLogin"}]}"#.repeat(1000);
        let mut out = vec![1, 2, 3];
        assert!(one_member(&gzip(&data), &mut out, u64::MAX));
        assert_eq!(out, data);
        // An empty member.
        assert!(one_member(&gzip(b""), &mut out, u64::MAX));
        assert!(out.is_empty());
    }

    /// Everything flate2 must answer instead: `false`, nothing kept.
    #[test]
    fn anything_but_one_truthful_member_is_left_to_flate2() {
        let data = b"0123456789".repeat(100);
        let one = gzip(&data);
        let mut two = one.clone();
        two.extend_from_slice(&gzip(b"more"));
        let mut lying = one.clone();
        let n = lying.len();
        lying[n - 4..].copy_from_slice(&10u32.to_le_bytes());
        let mut corrupt = one.clone();
        corrupt[15] ^= 0xff;
        let mut trailing = one.clone();
        trailing.extend_from_slice(b"garbage!");
        let mut bomb = one.clone();
        bomb[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
        for (name, gz, max) in [
            ("two members", &two, u64::MAX),
            ("a trailer that lies", &lying, u64::MAX),
            ("corrupt", &corrupt, u64::MAX),
            ("trailing bytes", &trailing, u64::MAX),
            ("past the ratio deflate allows", &bomb, u64::MAX),
            ("past the cap", &one, 999),
            ("too short for a trailer", &one[..3].to_vec(), u64::MAX),
        ] {
            let mut out = vec![1];
            assert!(!one_member(gz, &mut out, max), "{name}");
            assert!(out.is_empty(), "{name}");
        }
        let mut out = Vec::new();
        assert!(one_member(&one, &mut out, 1000));
    }
}
