//! Memory helpers: how the pages of a large fresh result are obtained.
//!
//! A large R result (a `sigmoid()` of 1e7 values, an 80 MB `forward()`
//! output) is fresh `mmap`ed memory: each of its pages is faulted in by the
//! kernel when first written. What that costs was measured on the 2-core
//! benchmark VM (Linux 6.18, transparent huge pages `madvise`, a virtio
//! balloon with free page reporting), 80 MB at a time (`bench/pages.c`,
//! `bench/steady.R`):
//!
//! * 4 KiB pages: 24-28 ms, steady, whether or not the memory was used
//!   before; faulting from two threads is no faster (the kernel serialises
//!   it), but another thread can compute meanwhile.
//! * 2 MiB pages (`madvise(MADV_HUGEPAGE)`): 3.5 ms when the kernel hands
//!   out blocks freed a moment ago, but 150-190 ms when it hands out free
//!   memory it has reported to the host (which then faults it in again),
//!   as happens to most fresh allocations once a process has used and
//!   freed a lot of memory. `sigmoid()` of 1e7 values took 20 ms or
//!   75-200 ms by that chance.
//!
//! So results are left to the system's page policy, and huge pages are
//! asked for only when the user sets `options(fwdprop.huge_pages = TRUE)`
//! (the glue reads it; [`advise_huge_pages`] does the asking), for machines
//! where they are measured steady. [`prefault`] populates pages in one
//! system call, which the threaded sigmoid uses chunk by chunk.

/// Asks Linux to back the 2 MiB-aligned interior of `buf` with transparent
/// huge pages (`madvise(MADV_HUGEPAGE)`), before it is first written: for a
/// large freshly allocated result (an R vector is fresh `mmap`ed memory)
/// this replaces one page fault per 4 KiB by one per 2 MiB. Only buffers of
/// at least [`HUGE_PAGE_MIN_BYTES`] are advised. A hint: failure is
/// ignored, and it does nothing on other systems. Not used unless the user
/// asks for it (see the module's notes).
pub fn advise_huge_pages(buf: &mut [f64]) {
    let bytes = std::mem::size_of_val(buf);
    if bytes < HUGE_PAGE_MIN_BYTES {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let start = buf.as_mut_ptr() as usize;
        let end = start + bytes;
        let first = (start + HUGE - 1) & !(HUGE - 1);
        let last = end & !(HUGE - 1);
        if last > first {
            // SAFETY: [first, last) lies inside `buf`, memory we own for
            // writing; MADV_HUGEPAGE changes no contents, only how the
            // kernel backs the pages.
            unsafe {
                sys::madvise(first as *mut std::os::raw::c_void, last - first, sys::MADV_HUGEPAGE);
            }
        }
    }
}

/// Smallest buffer [`advise_huge_pages`] acts on (8 MiB).
pub const HUGE_PAGE_MIN_BYTES: usize = 8 << 20;

/// Faults in the whole pages inside `buf` for writing, in one system call
/// (`madvise(MADV_POPULATE_WRITE)`, Linux >= 5.14) instead of one page
/// fault per page as they are first written. Contents are unchanged (fresh
/// memory stays whatever it was). Returns whether the kernel did it; a
/// hint, like [`advise_huge_pages`]: elsewhere, or on older kernels,
/// nothing happens and the pages fault in when written.
pub fn prefault(buf: &mut [f64]) -> bool {
    #[cfg(target_os = "linux")]
    {
        const PAGE: usize = 4096;
        let start = buf.as_mut_ptr() as usize;
        let end = start + std::mem::size_of_val(buf);
        let first = (start + PAGE - 1) & !(PAGE - 1);
        let last = end & !(PAGE - 1);
        if last > first {
            // SAFETY: [first, last) lies inside `buf`, memory we own for
            // writing; MADV_POPULATE_WRITE maps its pages without
            // changing what they hold.
            return unsafe {
                sys::madvise(first as *mut std::os::raw::c_void, last - first, sys::MADV_POPULATE_WRITE) == 0
            };
        }
    }
    let _ = buf;
    false
}

/// A buffer that could not be allocated: how many bytes were asked for,
/// and for what.
#[derive(Clone, Debug, PartialEq)]
pub struct AllocError {
    /// Bytes asked for.
    pub bytes: usize,
    /// What the buffer was for (for the message).
    pub what: &'static str,
}

impl std::fmt::Display for AllocError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "could not allocate {} for {}: not enough memory", format_bytes(self.bytes), self.what)
    }
}

impl std::error::Error for AllocError {}

/// `bytes` as people read them: "512 bytes", "3.2 MB", "1.6 GB".
pub fn format_bytes(bytes: usize) -> String {
    let b = bytes as f64;
    if b < 1e3 {
        format!("{bytes} bytes")
    } else if b < 1e6 {
        format!("{:.1} kB", b / 1e3)
    } else if b < 1e9 {
        format!("{:.1} MB", b / 1e6)
    } else {
        format!("{:.1} GB", b / 1e9)
    }
}

/// A vector of `len` copies of `value`, or an [`AllocError`] when the
/// memory cannot be had. Rust aborts the whole process (and so R) when an
/// ordinary allocation fails; every buffer whose size a user controls
/// (data, parameters, optimiser state) is allocated through this instead,
/// so that the failure becomes an R error and R lives.
pub fn try_filled<T: Clone>(len: usize, value: T, what: &'static str) -> Result<Vec<T>, AllocError> {
    let bytes = len.saturating_mul(std::mem::size_of::<T>());
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| AllocError { bytes, what })?;
    v.resize(len, value);
    Ok(v)
}

/// An empty vector with room for `len` values (see [`try_filled`]).
pub fn try_with_capacity<T>(len: usize, what: &'static str) -> Result<Vec<T>, AllocError> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| AllocError { bytes: len.saturating_mul(std::mem::size_of::<T>()), what })?;
    Ok(v)
}

#[cfg(target_os = "linux")]
mod sys {
    use std::os::raw::{c_int, c_void};
    pub const MADV_HUGEPAGE: c_int = 14;
    pub const MADV_POPULATE_WRITE: c_int = 23;
    extern "C" {
        pub fn madvise(addr: *mut c_void, len: usize, advice: c_int) -> c_int;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impossible_allocations_are_errors_not_aborts() {
        // more than any address space holds: the allocator refuses at once
        let e = try_filled(usize::MAX / 16, 0.0f64, "a test buffer").unwrap_err();
        assert_eq!(e.what, "a test buffer");
        assert!(e.to_string().starts_with("could not allocate"), "{e}");
        assert!(e.to_string().contains("GB"), "{e}");
        assert!(try_with_capacity::<f64>(usize::MAX / 16, "x").is_err());
        let v = try_filled(5, 1.5f64, "x").expect("small");
        assert_eq!(v, vec![1.5; 5]);
        assert_eq!(format_bytes(400_400_008), "400.4 MB");
        assert_eq!(format_bytes(999), "999 bytes");
    }

    #[test]
    fn advising_keeps_contents_and_small_buffers_are_left_alone() {
        let mut small = vec![1.0; 100];
        advise_huge_pages(&mut small);
        assert!(small.iter().all(|&v| v == 1.0));
        let mut big = vec![0.0; (HUGE_PAGE_MIN_BYTES / 8) * 2 + 3];
        advise_huge_pages(&mut big);
        big.iter_mut().enumerate().for_each(|(i, v)| *v = i as f64);
        assert!(big.iter().enumerate().all(|(i, &v)| v == i as f64));
    }

    #[test]
    fn prefaulting_keeps_contents() {
        // written values survive, at any alignment and size (including
        // buffers shorter than a page, where there is nothing to do)
        for len in [0usize, 1, 100, 511, 512, 513, 3 * 512 + 7, 1 << 20] {
            let mut v: Vec<f64> = (0..len).map(|i| i as f64).collect();
            for offset in [0usize, 1, 3] {
                let s = &mut v[offset.min(len)..];
                prefault(s);
            }
            assert!(v.iter().enumerate().all(|(i, &x)| x == i as f64), "len {len}");
        }
        // a fresh (zero-mapped) buffer can be prefaulted, stays zero, and
        // is then written
        let mut fresh = vec![0.0f64; 1 << 20];
        prefault(&mut fresh);
        assert!(fresh.iter().all(|&x| x == 0.0));
        fresh.iter_mut().enumerate().for_each(|(i, x)| *x = -(i as f64));
        assert!(fresh.iter().enumerate().all(|(i, &x)| x == -(i as f64)));
    }
}
