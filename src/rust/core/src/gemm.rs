//! A packed GEMM for the fused forward pass and the blocked backward pass,
//! `out = a %*% b` (or `out += a %*% b`), with an
//! 8x6 AVX2/FMA micro-kernel picked at run time, or a 16x6 AVX-512 one on
//! CPUs with AVX-512F where it is faster (see `x86::avx512::selected`;
//! built with rustc >= 1.89). Both compute every element with the same FMAs
//! in the same order: the results are the same bits whichever runs.
//!
//! Why not only matrixmultiply: its double kernel on AVX2 is 8x4 with 8
//! accumulators and three lane shuffles per step; on an FMA unit with a
//! latency of 4 cycles and two pipes, 8 accumulators are the bare minimum
//! and the shuffles compete for a pipe, so it reached about 37 GFLOP/s of
//! the 50 one core of this machine (AMD EPYC, Zen 3) peaks at, on the
//! forward pass's shapes; this kernel 41-44 (`cargo bench -p fwdprop-core
//! --bench forward -- G`). It keeps 12 accumulators (8 rows x 6 columns) and broadcasts `b`
//! from memory instead of shuffling, the layout of BLIS's Haswell kernel.
//!
//! Blocking (Goto's scheme): `b` is packed in `KC x NC` blocks into
//! panels of [`NR`] columns, `a` in `MC x KC` blocks into panels of [`MR`]
//! rows; the micro-kernel multiplies a panel pair over `KC`. The packed
//! `a` block stays in L2, a `b` panel in L1.
//!
//! Arithmetic: each element is `sum_p a[i,p] b[p,j]` accumulated by FMA in
//! order of `p` within each `KC` block (from 0), the block sums added to
//! the output in order: the same order as matrixmultiply's (whose `KC` is
//! also 256), so the two agree closely; they are not required to agree
//! bit for bit (only the fused forward pass uses this one; `mm()` and the
//! unfused path keep matrixmultiply). [`PackedB`] packs a right-hand
//! operand once for many products (the fused pass's row blocks), with the
//! same result, bit for bit. The result does not depend on where a row sits in a
//! row block (rows are independent), so splitting rows over threads does
//! not change it.
//!
//! Without AVX2 and FMA (or on other architectures) matrixmultiply runs.

use std::mem::MaybeUninit;

use ndarray::{ArrayView2, ArrayViewMut2};

use crate::parallel::{run_jobs, SharedPtr};

/// Rows of the micro-kernel's tile.
pub const MR: usize = 8;
/// Columns of the micro-kernel's tile.
pub const NR: usize = 6;
/// Depth of a packed block (the inner dimension).
pub const KC: usize = 256;
/// Rows of a packed block of `a` (`MC x KC` doubles, 128 KiB: a quarter of L2; measured best of 64, 96, 128 with KC 128 to 384).
pub const MC: usize = 64;
/// Columns of a packed block of `b` (a multiple of [`NR`]).
pub const NC: usize = 3072;

/// Packing buffers, kept between calls (one per thread).
#[derive(Default, Debug)]
pub struct GemmWork {
    a: Vec<f64>,
    b: Vec<f64>,
}

impl GemmWork {
    /// Empty buffers; they grow on first use.
    pub fn new() -> Self {
        Self::default()
    }
}

/// `out = a %*% b` (any strides; `out` may be uninitialised: every element
/// is written, none is read before). Finite or not, the values are
/// multiplied as they are (no R NaN rules: see `matmul::matmul_into`).
///
/// # Panics
/// When the shapes do not chain or `out` has the wrong shape (callers
/// check shapes first).
pub fn gemm_packed_into(a: ArrayView2<f64>, b: ArrayView2<f64>, out: ArrayViewMut2<f64>, work: &mut GemmWork) {
    gemm_strided(a, b, out, work, false);
}

/// `out += a %*% b`: as [`gemm_packed_into`], but the product is added to
/// `out` (which must be initialised). Each element gets the product's
/// `KC`-block sums added in order of the blocks, so the result is a fixed
/// function of the operands' values and shapes (for the gradient sums of
/// the backward pass, which must not depend on the thread count).
///
/// # Panics
/// When the shapes do not chain or `out` has the wrong shape.
pub fn gemm_packed_add_into(a: ArrayView2<f64>, b: ArrayView2<f64>, out: ArrayViewMut2<f64>, work: &mut GemmWork) {
    gemm_strided(a, b, out, work, true);
}

fn gemm_strided(a: ArrayView2<f64>, b: ArrayView2<f64>, mut out: ArrayViewMut2<f64>, work: &mut GemmWork, add: bool) {
    if add {
        if crate::matmul::empty_product_add("gemm", a.dim(), b.dim(), &out) {
            return;
        }
    } else if crate::matmul::empty_product("gemm", a.dim(), b.dim(), &mut out) {
        return;
    }
    let (m, k) = a.dim();
    let n = b.ncols();
    #[cfg(target_arch = "x86_64")]
    {
        if x86::available() {
            let sa = a.strides();
            let sb = b.strides();
            let sc = out.strides();
            let (sa, sb, sc) = ([sa[0], sa[1]], [sb[0], sb[1]], [sc[0], sc[1]]);
            // SAFETY: the CPU has AVX2 and FMA; the shapes were checked and
            // the strides come from valid views, so every index formed
            // (rows < m, columns < n, depth < k) is in bounds.
            unsafe {
                x86::gemm(m, k, n, a.as_ptr(), sa, x86::BSource::Strided(b.as_ptr(), sb), out.as_mut_ptr(), sc, work, add)
            };
            return;
        }
    }
    let _ = work;
    if add {
        crate::matmul::gemm_add_into(a, b, out);
    } else {
        crate::matmul::gemm_into(a, b, out);
    }
}

/// The right-hand operand of many products, packed once (for the fused
/// forward pass: a layer's weights are used by every row block). Holds
/// about as many values as `b`.
#[derive(Debug)]
pub struct PackedB {
    data: Vec<f64>,
    k: usize,
    n: usize,
}

impl PackedB {
    /// Packs `b` (any strides), sharing the work among up to `threads`
    /// threads. `None` when this CPU runs matrixmultiply instead of the
    /// packed kernel (see [`gemm_packed_into`]).
    pub fn new(b: ArrayView2<f64>, threads: usize) -> Option<Self> {
        #[cfg(target_arch = "x86_64")]
        {
            if x86::available() {
                return Self::pack(b, threads);
            }
        }
        let _ = (b, threads);
        None
    }

    /// The blocks of `b` as the product consumes them: for each `NC` block
    /// of columns, for each `KC` block of depth, the block's panels.
    /// `None` when the memory for the copy cannot be had (the caller then
    /// packs per row block, as without the prepacked copy).
    fn pack(b: ArrayView2<f64>, threads: usize) -> Option<Self> {
        let mut data: Vec<f64> = Vec::new();
        pack_blocks(b, threads, &mut data)?;
        Some(PackedB { data, k: b.nrows(), n: b.ncols() })
    }

    /// Packs `b`, of the same shape as the matrix packed before, into the
    /// same memory (on the calling thread): for a training loop, whose
    /// weights change at every step.
    ///
    /// # Panics
    /// When `b`'s shape differs from the packed matrix's.
    pub fn repack(&mut self, b: ArrayView2<f64>) {
        assert_eq!(b.dim(), (self.k, self.n), "PackedB::repack: the shape changed");
        // the length is unchanged: no allocation, so this cannot fail
        if pack_blocks(b, 1, &mut self.data).is_none() {
            unreachable!("PackedB::repack: the buffer holds the same length already");
        }
    }

    /// Rows of `b`.
    pub fn nrows(&self) -> usize {
        self.k
    }

    /// Columns of `b`.
    pub fn ncols(&self) -> usize {
        self.n
    }

    /// Offset of block (`jc`, `pc`) in `data`: every earlier column block
    /// is `NC` wide (a multiple of `NR`) and `k` deep.
    #[cfg(target_arch = "x86_64")]
    fn block_offset(&self, jc: usize, pc: usize) -> usize {
        let ncpad = NC.min(self.n - jc).div_ceil(NR) * NR;
        jc * self.k + pc * ncpad
    }
}

/// `out = a %*% b` with `b` packed beforehand ([`PackedB`]), otherwise as
/// [`gemm_packed_into`] (same arithmetic, same bits).
///
/// # Panics
/// When the shapes do not chain or `out` has the wrong shape.
pub fn gemm_prepacked_into(a: ArrayView2<f64>, b: &PackedB, mut out: ArrayViewMut2<f64>, work: &mut GemmWork) {
    if crate::matmul::empty_product("gemm", a.dim(), (b.k, b.n), &mut out) {
        return;
    }
    let (m, k) = a.dim();
    let n = b.n;
    #[cfg(target_arch = "x86_64")]
    {
        // a PackedB exists only where the packed kernel runs
        let sa = [a.strides()[0], a.strides()[1]];
        let sc = [out.strides()[0], out.strides()[1]];
        // SAFETY: as in gemm_packed_into; `b` was packed by PackedB::new,
        // which checked for AVX2 and FMA.
        unsafe { x86::gemm(m, k, n, a.as_ptr(), sa, x86::BSource::Packed(b), out.as_mut_ptr(), sc, work, false) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (work, out);
        unreachable!("PackedB is only made on x86-64");
    }
}

/// Packs `b` into `data` block by block (see [`PackedB`]), sharing the
/// work among up to `threads` threads. `data` is reused when it holds
/// enough memory already; `None` when the memory cannot be had.
fn pack_blocks(b: ArrayView2<f64>, threads: usize, data: &mut Vec<f64>) -> Option<()> {
    let (k, n) = b.dim();
    let mut blocks = Vec::new(); // (jc, pc, nc, kc, length)
    let mut len = 0;
    for jc in (0..n).step_by(NC) {
        let nc = NC.min(n - jc);
        for pc in (0..k).step_by(KC) {
            let kc = KC.min(k - pc);
            let l = nc.div_ceil(NR) * NR * kc;
            blocks.push((jc, pc, nc, kc, l));
            len += l;
        }
    }
    // as large as the weights: allocated fallibly, so that a layer too
    // large to copy never aborts R; not zeroed first (pack_b writes every
    // value, and filling 32 MiB first cost W3 2-3 ms on one thread while
    // the other waited)
    data.clear();
    data.try_reserve_exact(len).ok()?;
    let (rs, cs) = (b.strides()[0], b.strides()[1]);
    // the view's memory, shared read-only by the packing threads
    let base = SharedPtr(b.as_ptr().cast_mut());
    let mut parts = Vec::with_capacity(blocks.len());
    let mut rest = &mut data.spare_capacity_mut()[..len];
    for &(jc, pc, nc, kc, l) in &blocks {
        let (head, tail) = rest.split_at_mut(l);
        parts.push((jc, pc, nc, kc, head));
        rest = tail;
    }
    let pack_part = |(jc, pc, nc, kc, dst): (usize, usize, usize, usize, &mut [MaybeUninit<f64>])| {
        // SAFETY: (pc, jc) + (kc, nc) stays inside `b`, which is only read
        // (by every thread); `dst` has the block's length and is this
        // part's alone.
        unsafe { pack_b(kc, nc, base.get().offset(pc as isize * rs + jc as isize * cs), rs, cs, dst) };
    };
    let workers = if len < (1 << 16) { 1 } else { threads.clamp(1, parts.len().max(1)) };
    run_jobs(parts.into_iter(), workers, || (), |part, _| pack_part(part));
    // SAFETY: the parts cover the first `len` values, and pack_b wrote
    // every one of them
    unsafe { data.set_len(len) };
    Some(())
}

/// Packs the `mc x kc` block of `a` at `a` (strides `rs`, `cs`) into
/// panels of `M` rows (the micro-kernel's: [`MR`], or 16 for the AVX-512
/// kernel): panel `q`, depth `p`, row `i` at `q * M * kc + p * M + i`; rows
/// past `mc` are zero. Returns the packed
/// block (starting on a cache line, inside `dst`, which stays borrowed
/// while the block is used).
///
/// # Safety
/// Every `a[i * rs + p * cs]` with `i < mc`, `p < kc` is readable.
unsafe fn pack_a<const M: usize>(
    mc: usize,
    kc: usize,
    a: *const f64,
    rs: isize,
    cs: isize,
    dst: &mut Vec<f64>,
) -> &[f64] {
    let panels = mc.div_ceil(M);
    let dst = aligned(dst, panels * M * kc);
    for q in 0..panels {
        let rows = M.min(mc - q * M);
        let base = a.offset((q * M) as isize * rs);
        let panel = &mut dst[q * M * kc..(q + 1) * M * kc];
        if rows == M && rs == 1 {
            for (p, d) in panel.chunks_exact_mut(M).enumerate() {
                let src = std::slice::from_raw_parts(base.offset(p as isize * cs), M);
                d.copy_from_slice(src);
            }
        } else {
            for (p, d) in panel.chunks_exact_mut(M).enumerate() {
                let col = base.offset(p as isize * cs);
                for (i, v) in d.iter_mut().enumerate().take(rows) {
                    *v = *col.offset(i as isize * rs);
                }
            }
        }
    }
    dst
}

/// The first `len` values of `buf` from a 64-byte boundary on, zeroed
/// (`buf` grows as needed): a packed panel row of [`MR`] values is then
/// one cache line, and no load of the micro-kernel straddles two.
fn aligned(buf: &mut Vec<f64>, len: usize) -> &mut [f64] {
    const LINE: usize = 64 / std::mem::size_of::<f64>();
    buf.clear();
    buf.resize(len + LINE - 1, 0.0);
    let skip = buf.as_ptr().align_offset(64).min(LINE - 1);
    &mut buf[skip..skip + len]
}

/// Packs the `kc x nc` block of `b` into panels of `NR` columns: panel
/// `q`, depth `p`, column `j` at `q * NR * kc + p * NR + j`; columns past
/// `nc` are zero. `dst` holds exactly `ceil(nc / NR) * NR * kc` values,
/// every one written (it may be uninitialised before).
///
/// # Safety
/// Every `b[p * rs + j * cs]` with `p < kc`, `j < nc` is readable.
unsafe fn pack_b(kc: usize, nc: usize, b: *const f64, rs: isize, cs: isize, dst: &mut [MaybeUninit<f64>]) {
    let panels = nc.div_ceil(NR);
    assert_eq!(dst.len(), panels * NR * kc, "pack_b: wrong buffer length");
    for q in 0..panels {
        let cols = NR.min(nc - q * NR);
        let panel = &mut dst[q * NR * kc..(q + 1) * NR * kc];
        // written in order, a row of the panel at a time (column by column,
        // each store would be NR values from the last: measured 1.5x slower
        // on W3's weights)
        let ptrs: [*const f64; NR] =
            std::array::from_fn(|j| if j < cols { b.offset((q * NR + j) as isize * cs) } else { std::ptr::null() });
        for (p, row) in panel.chunks_exact_mut(NR).enumerate() {
            let off = p as isize * rs;
            let (vals, pad) = row.split_at_mut(cols);
            for (d, col) in vals.iter_mut().zip(&ptrs) {
                d.write(*col.offset(off));
            }
            pad.iter_mut().for_each(|d| {
                d.write(0.0);
            });
        }
    }
}

/// [`pack_b`] into a buffer sized to fit.
///
/// # Safety
/// As [`pack_b`].
#[cfg(target_arch = "x86_64")]
unsafe fn pack_b_vec(kc: usize, nc: usize, b: *const f64, rs: isize, cs: isize, dst: &mut Vec<f64>) {
    let len = nc.div_ceil(NR) * NR * kc;
    dst.clear();
    dst.reserve(len);
    pack_b(kc, nc, b, rs, cs, &mut dst.spare_capacity_mut()[..len]);
    // SAFETY: pack_b wrote all `len` values
    dst.set_len(len);
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{pack_a, pack_b_vec, GemmWork, PackedB, KC, MC, MR, NC, NR};
    use std::arch::x86_64::*;

    pub(super) fn available() -> bool {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }

    /// Where the right-hand operand comes from: a strided matrix (packed
    /// block by block as the product goes) or packed beforehand.
    pub(super) enum BSource<'a> {
        Strided(*const f64, [isize; 2]),
        Packed(&'a PackedB),
    }

    /// A micro-kernel: `(kc, a_panel, b_panel, c, rsc, csc, mr, nr, first)`.
    pub(super) type Kernel = unsafe fn(usize, *const f64, *const f64, *mut f64, isize, isize, usize, usize, bool);

    /// `c = a %*% b`, or `c += a %*% b` with `add`, with the AVX-512 kernel
    /// where [`use_avx512()`] says so, else the AVX2/FMA one. Both compute
    /// every element with the same FMAs in the same order, so the choice
    /// changes the speed, never a bit of the result.
    ///
    /// # Safety
    /// AVX2 and FMA present; `a` (m x k), `b` (k x n), `c` (m x n) valid
    /// for the given strides (in elements).
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn gemm(
        m: usize,
        k: usize,
        n: usize,
        a: *const f64,
        sa: [isize; 2],
        b: BSource,
        c: *mut f64,
        sc: [isize; 2],
        work: &mut GemmWork,
        add: bool,
    ) {
        #[cfg(fwdprop_avx512)]
        {
            if avx512::selected() {
                return gemm_loop::<{ avx512::MR16 }>(m, k, n, a, sa, b, c, sc, work, add, avx512::kernel);
            }
        }
        gemm_loop::<MR>(m, k, n, a, sa, b, c, sc, work, add, kernel)
    }

    /// The blocked loops of [`gemm`] around the micro-kernel `kern`, whose
    /// tile has `M` rows (`a` is packed in panels of `M` rows).
    ///
    /// # Safety
    /// As [`gemm`]; the CPU supports `kern`'s instructions.
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn gemm_loop<const M: usize>(
        m: usize,
        k: usize,
        n: usize,
        a: *const f64,
        sa: [isize; 2],
        b: BSource,
        c: *mut f64,
        sc: [isize; 2],
        work: &mut GemmWork,
        add: bool,
        kern: Kernel,
    ) {
        let GemmWork { a: pa, b: pb } = work;
        let mut jc = 0;
        while jc < n {
            let nc = NC.min(n - jc);
            let mut pc = 0;
            while pc < k {
                let kc = KC.min(k - pc);
                let packed_b: &[f64] = match b {
                    BSource::Strided(b, sb) => {
                        pack_b_vec(kc, nc, b.offset(pc as isize * sb[0] + jc as isize * sb[1]), sb[0], sb[1], pb);
                        pb
                    }
                    BSource::Packed(p) => {
                        let off = p.block_offset(jc, pc);
                        &p.data[off..off + nc.div_ceil(NR) * NR * kc]
                    }
                };
                // the first depth block writes `c`, later ones add to it
                let first = pc == 0 && !add;
                let mut ic = 0;
                while ic < m {
                    let mc = MC.min(m - ic);
                    let packed_a = pack_a::<M>(mc, kc, a.offset(ic as isize * sa[0] + pc as isize * sa[1]), sa[0], sa[1], pa);
                    let mut jr = 0;
                    while jr < nc {
                        let nr = NR.min(nc - jr);
                        let bp = packed_b.as_ptr().add(jr * kc);
                        let mut ir = 0;
                        while ir < mc {
                            let mr = M.min(mc - ir);
                            let cp = c.offset((ic + ir) as isize * sc[0] + (jc + jr) as isize * sc[1]);
                            kern(kc, packed_a.as_ptr().add(ir * kc), bp, cp, sc[0], sc[1], mr, nr, first);
                            ir += M;
                        }
                        jr += NR;
                    }
                    ic += MC;
                }
                pc += KC;
            }
            jc += NC;
        }
    }

    /// Writes (`first`) or adds the first `mr` rows and `nr` columns of a
    /// micro-kernel's tile (`M` rows, column after column) to `c`: the edge
    /// tiles and outputs that are not column-major, value by value.
    ///
    /// # Safety
    /// Every `c[i * rsc + j * csc]` with `i < mr <= M`, `j < nr <= NR` is
    /// writable (and readable, unless `first`); `tile` holds `M * NR` values.
    #[inline]
    pub(super) unsafe fn write_tile<const M: usize>(
        tile: &[f64],
        c: *mut f64,
        rsc: isize,
        csc: isize,
        mr: usize,
        nr: usize,
        first: bool,
    ) {
        for j in 0..nr {
            for i in 0..mr {
                let p = c.offset(i as isize * rsc + j as isize * csc);
                let v = tile[j * M + i];
                *p = if first { v } else { *p + v };
            }
        }
    }

    /// The 8x6 tile `c (=|+=) a_panel %*% b_panel` over depth `kc`; only
    /// the first `mr` rows and `nr` columns of the tile are written.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA; `a` points to a packed panel of
    /// `MR x kc` values and `b` to one of `kc x NR` (as [`pack_a`] and
    /// [`pack_b`] lay them out), both readable in full; every
    /// `c[i * rsc + j * csc]` with `i < mr <= MR`, `j < nr <= NR` is
    /// writable (and readable, unless `first`).
    #[allow(clippy::too_many_arguments)]
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn kernel(
        kc: usize,
        a: *const f64,
        b: *const f64,
        c: *mut f64,
        rsc: isize,
        csc: isize,
        mr: usize,
        nr: usize,
        first: bool,
    ) {
        let mut c00 = _mm256_setzero_pd();
        let mut c01 = _mm256_setzero_pd();
        let mut c10 = _mm256_setzero_pd();
        let mut c11 = _mm256_setzero_pd();
        let mut c20 = _mm256_setzero_pd();
        let mut c21 = _mm256_setzero_pd();
        let mut c30 = _mm256_setzero_pd();
        let mut c31 = _mm256_setzero_pd();
        let mut c40 = _mm256_setzero_pd();
        let mut c41 = _mm256_setzero_pd();
        let mut c50 = _mm256_setzero_pd();
        let mut c51 = _mm256_setzero_pd();
        if rsc == 1 {
            // the tile's columns (8 values each, at most two cache lines)
            // are read or written only after the loop: ask for them now,
            // so that a miss overlaps the loop instead of following it
            // (with a deep product `c` is out of cache between KC blocks)
            for j in 0..nr {
                let p = c.offset(j as isize * csc) as *const i8;
                _mm_prefetch::<_MM_HINT_T0>(p);
                // (the column's last value; wrapping: with fewer than 8
                // rows left this may point past the matrix, harmless for
                // a prefetch but not for `add`)
                _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(7 * 8));
            }
        }
        let (mut a, mut b) = (a, b);
        macro_rules! step {
            () => {{
                let a0 = _mm256_loadu_pd(a);
                let a1 = _mm256_loadu_pd(a.add(4));
                let b0 = _mm256_broadcast_sd(&*b);
                c00 = _mm256_fmadd_pd(a0, b0, c00);
                c01 = _mm256_fmadd_pd(a1, b0, c01);
                let b1 = _mm256_broadcast_sd(&*b.add(1));
                c10 = _mm256_fmadd_pd(a0, b1, c10);
                c11 = _mm256_fmadd_pd(a1, b1, c11);
                let b2 = _mm256_broadcast_sd(&*b.add(2));
                c20 = _mm256_fmadd_pd(a0, b2, c20);
                c21 = _mm256_fmadd_pd(a1, b2, c21);
                let b3 = _mm256_broadcast_sd(&*b.add(3));
                c30 = _mm256_fmadd_pd(a0, b3, c30);
                c31 = _mm256_fmadd_pd(a1, b3, c31);
                let b4 = _mm256_broadcast_sd(&*b.add(4));
                c40 = _mm256_fmadd_pd(a0, b4, c40);
                c41 = _mm256_fmadd_pd(a1, b4, c41);
                let b5 = _mm256_broadcast_sd(&*b.add(5));
                c50 = _mm256_fmadd_pd(a0, b5, c50);
                c51 = _mm256_fmadd_pd(a1, b5, c51);
                a = a.add(MR);
                b = b.add(NR);
            }};
        }
        for _ in 0..kc / 4 {
            step!();
            step!();
            step!();
            step!();
        }
        for _ in 0..kc % 4 {
            step!();
        }
        let acc = [[c00, c01], [c10, c11], [c20, c21], [c30, c31], [c40, c41], [c50, c51]];
        if mr == MR && rsc == 1 {
            for (j, col) in acc.iter().enumerate().take(nr) {
                let p = c.offset(j as isize * csc);
                if first {
                    _mm256_storeu_pd(p, col[0]);
                    _mm256_storeu_pd(p.add(4), col[1]);
                } else {
                    _mm256_storeu_pd(p, _mm256_add_pd(_mm256_loadu_pd(p), col[0]));
                    _mm256_storeu_pd(p.add(4), _mm256_add_pd(_mm256_loadu_pd(p.add(4)), col[1]));
                }
            }
            return;
        }
        let mut tile = [0.0f64; MR * NR];
        for (j, col) in acc.iter().enumerate() {
            _mm256_storeu_pd(tile.as_mut_ptr().add(j * MR), col[0]);
            _mm256_storeu_pd(tile.as_mut_ptr().add(j * MR + 4), col[1]);
        }
        write_tile::<MR>(&tile, c, rsc, csc, mr, nr, first);
    }

    // keep the block sizes consistent with the kernel
    const _: () = assert!(NC % NR == 0 && MC % MR == 0 && KC > 0);

    /// The AVX-512 micro-kernel (16 x 6: twelve 512-bit accumulators, two
    /// FMA pipes with a latency of 4 cycles kept busy) and the choice of
    /// kernel. Compiled with rustc >= 1.89 (`build.rs`).
    #[cfg(fwdprop_avx512)]
    #[clippy::msrv = "1.89"]
    pub(super) mod avx512 {
        use super::NR;
        use std::arch::x86_64::*;
        use std::sync::OnceLock;

        /// Rows of the AVX-512 kernel's tile (two vectors of 8 doubles).
        pub const MR16: usize = 16;

        static CHOICE: OnceLock<bool> = OnceLock::new();

        /// Whether [`super::gemm`] runs this kernel: on CPUs with AVX-512F,
        /// when it multiplies a block faster than the AVX2 kernel (timed
        /// once per session, both on the same 64 x 256 x 96 product, best
        /// of 5 runs each; it must be at least 10% faster). Where 512-bit
        /// operations are split into two 256-bit halves (AMD Zen 4) or the
        /// CPU lowers its clock for them, the AVX2 kernel stays.
        /// `FWDPROP_GEMM_KERNEL=avx2` or `avx512` decides instead (for
        /// benchmarks). Either choice gives the same bits.
        pub fn selected() -> bool {
            *CHOICE.get_or_init(|| {
                if !std::arch::is_x86_feature_detected!("avx512f") {
                    return false;
                }
                match std::env::var("FWDPROP_GEMM_KERNEL").as_deref() {
                    Ok("avx2") => false,
                    Ok("avx512") => true,
                    _ => faster(),
                }
            })
        }

        /// Times both kernels on one product (see [`selected`]): each run
        /// once untimed first (the first 512-bit instructions of a thread
        /// run slowly while the core powers their units up), then 7 timed
        /// runs of each, alternating; the best of each is compared.
        fn faster() -> bool {
            let (m, k, n) = (64usize, 256usize, 96usize);
            let a: Vec<f64> = (0..m * k).map(|i| (i % 17) as f64 * 0.25 - 2.0).collect();
            let b: Vec<f64> = (0..k * n).map(|i| (i % 13) as f64 * 0.5 - 3.0).collect();
            let mut c = vec![0.0; m * n];
            let mut work = super::GemmWork::new();
            let mut run = |wide: bool| -> std::time::Duration {
                let t = std::time::Instant::now();
                // SAFETY: the CPU has AVX2, FMA (checked by the caller of
                // gemm) and AVX-512F (checked by `selected`); the buffers
                // hold m x k, k x n and m x n values.
                unsafe {
                    let src = super::BSource::Strided(b.as_ptr(), [n as isize, 1]);
                    let (pa, pc) = (a.as_ptr(), c.as_mut_ptr());
                    if wide {
                        super::gemm_loop::<MR16>(
                            m,
                            k,
                            n,
                            pa,
                            [k as isize, 1],
                            src,
                            pc,
                            [n as isize, 1],
                            &mut work,
                            false,
                            kernel,
                        );
                    } else {
                        super::gemm_loop::<{ super::MR }>(
                            m,
                            k,
                            n,
                            pa,
                            [k as isize, 1],
                            src,
                            pc,
                            [n as isize, 1],
                            &mut work,
                            false,
                            super::kernel,
                        );
                    }
                }
                t.elapsed()
            };
            run(true);
            run(false);
            let (mut t512, mut t256) = (std::time::Duration::MAX, std::time::Duration::MAX);
            for _ in 0..7 {
                t512 = t512.min(run(true));
                t256 = t256.min(run(false));
            }
            t512.as_nanos() * 10 < t256.as_nanos() * 9
        }

        /// The 16 x 6 tile `c (=|+=) a_panel %*% b_panel` over depth `kc`,
        /// each element accumulated by FMA in order of depth from 0, as the
        /// AVX2 kernel does (the same bits); only the first `mr` rows and
        /// `nr` columns are written.
        ///
        /// # Safety
        /// The CPU must support AVX-512F; `a` points to a packed panel of
        /// `MR16 x kc` values and `b` to one of `kc x NR`, both readable in
        /// full; every `c[i * rsc + j * csc]` with `i < mr <= MR16`,
        /// `j < nr <= NR` is writable (and readable, unless `first`).
        #[allow(clippy::too_many_arguments)]
        #[target_feature(enable = "avx512f")]
        pub unsafe fn kernel(
            kc: usize,
            a: *const f64,
            b: *const f64,
            c: *mut f64,
            rsc: isize,
            csc: isize,
            mr: usize,
            nr: usize,
            first: bool,
        ) {
            let mut acc = [[_mm512_setzero_pd(); 2]; NR];
            let (mut a, mut b) = (a, b);
            for _ in 0..kc {
                let a0 = _mm512_loadu_pd(a);
                let a1 = _mm512_loadu_pd(a.add(8));
                for (j, col) in acc.iter_mut().enumerate() {
                    let bj = _mm512_set1_pd(*b.add(j));
                    col[0] = _mm512_fmadd_pd(a0, bj, col[0]);
                    col[1] = _mm512_fmadd_pd(a1, bj, col[1]);
                }
                a = a.add(MR16);
                b = b.add(NR);
            }
            if mr == MR16 && rsc == 1 {
                for (j, col) in acc.iter().enumerate().take(nr) {
                    let p = c.offset(j as isize * csc);
                    if first {
                        _mm512_storeu_pd(p, col[0]);
                        _mm512_storeu_pd(p.add(8), col[1]);
                    } else {
                        _mm512_storeu_pd(p, _mm512_add_pd(_mm512_loadu_pd(p), col[0]));
                        _mm512_storeu_pd(p.add(8), _mm512_add_pd(_mm512_loadu_pd(p.add(8)), col[1]));
                    }
                }
                return;
            }
            let mut tile = [0.0f64; MR16 * NR];
            for (j, col) in acc.iter().enumerate() {
                _mm512_storeu_pd(tile.as_mut_ptr().add(j * MR16), col[0]);
                _mm512_storeu_pd(tile.as_mut_ptr().add(j * MR16 + 8), col[1]);
            }
            super::write_tile::<MR16>(&tile, c, rsc, csc, mr, nr, first);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{naive, random};
    use ndarray::{s, Array2, ShapeBuilder};

    fn check(a: ArrayView2<f64>, b: ArrayView2<f64>, out_col_major: bool, work: &mut GemmWork) {
        let (m, k, n) = (a.nrows(), a.ncols(), b.ncols());
        let mut out =
            if out_col_major { Array2::from_elem((m, n).f(), f64::NAN) } else { Array2::from_elem((m, n), f64::NAN) };
        gemm_packed_into(a, b, out.view_mut(), work);
        let want = naive(&a, &b);
        for ((idx, g), w) in out.indexed_iter().zip(want.iter()) {
            let tol = 4.0 * f64::EPSILON * (k.max(1) as f64) * w.abs().max(1.0);
            assert!((g - w).abs() <= tol, "{m}x{k}x{n} at {idx:?}: got {g}, want {w}");
        }
    }

    /// The AVX-512 kernel against the AVX2 kernel (the same bits) and the
    /// naive product, on odd sizes and block edges, writing and adding, into
    /// row- and column-major outputs. Skipped, with a message, on CPUs
    /// without AVX-512F or with rustc < 1.89.
    #[test]
    fn avx512_kernel_gives_the_avx2_kernels_bits() {
        #[cfg(fwdprop_avx512)]
        {
            if !(x86::available() && std::arch::is_x86_feature_detected!("avx512f")) {
                eprintln!("skipped: this CPU has no AVX-512F (the AVX-512 kernel is not tested here)");
                return;
            }
            use x86::avx512::MR16;
            let mut work = GemmWork::new();
            let ms = [1, 7, MR16 - 1, MR16, MR16 + 1, MC - 1, MC, MC + 1, 2 * MC + 3];
            let ks = [1, 5, KC - 1, KC, KC + 1, 2 * KC + 7]; // (an empty depth never reaches the loops)
            let ns = [1, 5, NR, NR + 1, 13];
            for (q, &m) in ms.iter().enumerate() {
                for &k in &ks {
                    for &n in &ns {
                        let a = random(m, k, 3 + q as u64 + k as u64, true);
                        let b = random(k, n, 11 + n as u64, false);
                        let want = naive(&a.view(), &b.view());
                        for col_major in [false, true] {
                            for add in [false, true] {
                                let start = random(m, n, 5, col_major);
                                let mut outs = Vec::new();
                                for wide in [false, true] {
                                    let mut c = start.clone();
                                    let (sa, sb, sc) = (a.strides(), b.strides(), c.strides());
                                    let (sa, sb, sc) = ([sa[0], sa[1]], [sb[0], sb[1]], [sc[0], sc[1]]);
                                    let src = x86::BSource::Strided(b.as_ptr(), sb);
                                    // SAFETY: AVX2, FMA and AVX-512F are present;
                                    // the arrays have the shapes given.
                                    unsafe {
                                        if wide {
                                            x86::gemm_loop::<MR16>(
                                                m,
                                                k,
                                                n,
                                                a.as_ptr(),
                                                sa,
                                                src,
                                                c.as_mut_ptr(),
                                                sc,
                                                &mut work,
                                                add,
                                                x86::avx512::kernel,
                                            );
                                        } else {
                                            x86::gemm_loop::<MR>(
                                                m,
                                                k,
                                                n,
                                                a.as_ptr(),
                                                sa,
                                                src,
                                                c.as_mut_ptr(),
                                                sc,
                                                &mut work,
                                                add,
                                                x86::kernel,
                                            );
                                        }
                                    }
                                    outs.push(c);
                                }
                                let label = format!("{m}x{k}x{n}, col-major {col_major}, add {add}");
                                for (x, y) in outs[0].iter().zip(outs[1].iter()) {
                                    assert_eq!(x.to_bits(), y.to_bits(), "{label}: the kernels differ");
                                }
                                for ((g, w), s0) in outs[1].iter().zip(want.iter()).zip(start.iter()) {
                                    let w = if add { w + s0 } else { *w };
                                    let tol = 4.0 * f64::EPSILON * (k.max(1) as f64) * w.abs().max(1.0);
                                    assert!((g - w).abs() <= tol, "{label}: got {g}, want {w}");
                                }
                            }
                        }
                    }
                }
            }
        }
        #[cfg(not(fwdprop_avx512))]
        eprintln!("skipped: the AVX-512 kernel needs rustc 1.89 or later on x86_64");
    }

    #[test]
    fn odd_sizes_and_block_edges_match_naive() {
        let mut work = GemmWork::new();
        let ms = [1, 7, MR, MR + 1, MC - 1, MC, MC + 1, 2 * MC + 3];
        let ks = [1, 5, KC - 1, KC, KC + 1, 2 * KC + 7];
        let ns = [1, 5, NR, NR + 1, 13];
        for (s, &m) in ms.iter().enumerate() {
            for &k in &ks {
                for &n in &ns {
                    let a = random(m, k, 1 + s as u64 + k as u64, true);
                    let b = random(k, n, 7 + n as u64, true);
                    check(a.view(), b.view(), true, &mut work);
                }
            }
        }
        // columns across NC
        let a = random(9, 3, 5, true);
        let b = random(3, NC + NR + 1, 6, true);
        check(a.view(), b.view(), true, &mut work);
    }

    #[test]
    fn any_strides() {
        let mut work = GemmWork::new();
        let a = random(37, 29, 3, false); // row-major
        let b = random(29, 19, 4, false);
        check(a.view(), b.view(), false, &mut work);
        check(a.view(), b.view(), true, &mut work);
        let big = random(80, 60, 8, true);
        let a = big.slice(s![..;2, 1..;3]); // 40 x 20, strided
        let b = random(20, 11, 9, true);
        check(a, b.view(), true, &mut work);
        let bt = random(11, 20, 10, true);
        check(a, bt.t(), false, &mut work);
    }

    #[test]
    fn empty_and_zero_depth() {
        let mut work = GemmWork::new();
        let a = Array2::<f64>::zeros((3, 0).f());
        let b = Array2::<f64>::zeros((0, 2).f());
        let mut out = Array2::from_elem((3, 2).f(), f64::NAN);
        gemm_packed_into(a.view(), b.view(), out.view_mut(), &mut work);
        assert_eq!(out, Array2::<f64>::zeros((3, 2)));
        let a = Array2::<f64>::zeros((0, 4).f());
        let b = random(4, 3, 1, true);
        let mut out = Array2::<f64>::zeros((0, 3).f());
        gemm_packed_into(a.view(), b.view(), out.view_mut(), &mut work);
    }

    #[test]
    fn integer_valued_inputs_are_exact_and_agree_with_matrixmultiply() {
        let a = Array2::from_shape_fn((131, 300).f(), |(i, j)| ((i * 7 + j * 3) % 11) as f64 - 5.0);
        let b = Array2::from_shape_fn((300, 23).f(), |(i, j)| ((i * 5 + j) % 13) as f64 - 6.0);
        let mut out = Array2::zeros((131, 23).f());
        gemm_packed_into(a.view(), b.view(), out.view_mut(), &mut GemmWork::new());
        assert_eq!(out, naive(&a.view(), &b.view()));
        let mut mm = Array2::zeros((131, 23).f());
        crate::matmul::gemm_into(a.view(), b.view(), mm.view_mut());
        assert_eq!(out, mm);
    }

    #[test]
    fn prepacked_gives_the_same_bits() {
        let mut work = GemmWork::new();
        for &(m, k, n) in &[(1, 1, 2), (9, 3, 7), (70, KC + 3, 13), (33, 2 * KC + 1, NC + NR + 5), (130, 17, 2 * NC + 1)] {
            let a = random(m, k, 3 + m as u64, true);
            let b = random(k, n, 4 + n as u64, k % 2 == 0);
            let mut want = Array2::zeros((m, n).f());
            gemm_packed_into(a.view(), b.view(), want.view_mut(), &mut work);
            for threads in [1, 2, 3] {
                let Some(packed) = PackedB::new(b.view(), threads) else {
                    return; // no packed kernel on this CPU
                };
                assert_eq!((packed.nrows(), packed.ncols()), (k, n));
                let mut got = Array2::from_elem((m, n).f(), f64::NAN);
                gemm_prepacked_into(a.view(), &packed, got.view_mut(), &mut work);
                assert!(
                    got.iter().zip(&want).all(|(g, w)| g.to_bits() == w.to_bits()),
                    "{m}x{k}x{n}, {threads} threads"
                );
                // a block of rows, strided output
                let mut part = Array2::from_elem((m / 2, n), f64::NAN);
                gemm_prepacked_into(a.slice(s![m - m / 2.., ..]), &packed, part.view_mut(), &mut work);
                assert_eq!(part, want.slice(s![m - m / 2.., ..]));
            }
        }
    }

    #[test]
    fn rows_do_not_depend_on_their_block() {
        // the same row computed in different row blocks gives the same bits
        let a = random(300, 70, 11, true);
        let b = random(70, 17, 12, true);
        let mut work = GemmWork::new();
        let mut whole = Array2::zeros((300, 17).f());
        gemm_packed_into(a.view(), b.view(), whole.view_mut(), &mut work);
        for (lo, hi) in [(0, 1), (5, 77), (129, 300)] {
            let mut part = Array2::zeros((hi - lo, 17).f());
            gemm_packed_into(a.slice(s![lo..hi, ..]), b.view(), part.view_mut(), &mut work);
            assert_eq!(part, whole.slice(s![lo..hi, ..]));
        }
    }
}
