//! Memory helpers.

/// Asks Linux to back the 2 MiB-aligned interior of `buf` with transparent
/// huge pages (`madvise(MADV_HUGEPAGE)`), before it is first written: for a
/// large freshly allocated result (an R vector is fresh `mmap`ed memory)
/// this replaces one page fault per 4 KiB by one per 2 MiB. Only buffers of
/// at least [`HUGE_PAGE_MIN_BYTES`] are advised. A hint: failure is
/// ignored, and it does nothing on other systems.
pub fn advise_huge_pages(buf: &mut [f64]) {
    let bytes = std::mem::size_of_val(buf);
    if bytes < HUGE_PAGE_MIN_BYTES {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        const MADV_HUGEPAGE: std::os::raw::c_int = 14;
        extern "C" {
            fn madvise(addr: *mut std::os::raw::c_void, len: usize, advice: std::os::raw::c_int) -> std::os::raw::c_int;
        }
        let start = buf.as_mut_ptr() as usize;
        let end = start + bytes;
        let first = (start + HUGE - 1) & !(HUGE - 1);
        let last = end & !(HUGE - 1);
        if last > first {
            // SAFETY: [first, last) lies inside `buf`, memory we own for
            // writing; MADV_HUGEPAGE changes no contents, only how the
            // kernel backs the pages.
            unsafe {
                madvise(first as *mut std::os::raw::c_void, last - first, MADV_HUGEPAGE);
            }
        }
    }
}

/// Smallest buffer [`advise_huge_pages`] acts on (8 MiB).
pub const HUGE_PAGE_MIN_BYTES: usize = 8 << 20;

#[cfg(test)]
mod tests {
    use super::*;

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
}
