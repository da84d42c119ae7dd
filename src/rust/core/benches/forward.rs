//! Timings of the forward pass on the workloads of issue #5 (plain
//! harness, medians of repeated runs, GFLOP/s counting 2 flops per
//! multiply-add of the products only):
//!
//!     cargo bench -p fwdprop-core --bench forward            # all
//!     cargo bench -p fwdprop-core --bench forward -- W2 W3   # some
//!     cargo bench -p fwdprop-core --bench forward -- G S     # kernels
//!     FWDPROP_BENCH_QUICK=1 cargo bench -p fwdprop-core --bench forward -- W2   # 2 threads only
//!     cargo bench -p fwdprop-core --bench forward -- G2  # W3's product alone, 2 threads
//!
//! Each run writes into freshly allocated output memory, as an R call
//! does (so first-touch page faults are included), except G2, which
//! reuses its output as a BLAS benchmark does.

use std::hint::black_box;
use std::time::{Duration, Instant};

use fwdprop_core::activation::Activation;
use fwdprop_core::forward::{forward_into, forward_into_with_block, forward_small_into, forward_trace, SmallLayer};
use fwdprop_core::init::{init_weights, InitMethod};
use fwdprop_core::network::{Layer, Network};
use ndarray::{Array2, ShapeBuilder};

fn median_time(min_reps: usize, budget: Duration, mut f: impl FnMut()) -> Duration {
    f(); // warm-up
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < min_reps || (start.elapsed() < budget && times.len() < 10_000) {
        let t = Instant::now();
        f();
        times.push(t.elapsed());
    }
    times.sort();
    times[times.len() / 2]
}

fn fmt(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 1e-3 {
        format!("{:8.2} us", s * 1e6)
    } else {
        format!("{:8.2} ms", s * 1e3)
    }
}

struct Workload {
    name: &'static str,
    x: Array2<f64>,
    weights: Vec<Array2<f64>>,
}

impl Workload {
    fn new(name: &'static str, n: usize, sizes: &[usize]) -> Self {
        let x = init_weights(n, sizes[0], InitMethod::Normal, 1);
        let weights = sizes
            .windows(2)
            .enumerate()
            .map(|(l, s)| {
                // runif weights, scaled so the sigmoids do not all saturate
                init_weights(s[0], s[1], InitMethod::Uniform, 10 + l as u64) * (4.0 / s[0] as f64)
            })
            .collect();
        Workload { name, x, weights }
    }

    fn net(&self) -> Network<'_> {
        Network::new(
            self.weights
                .iter()
                .map(|w| Layer { weights: w.view(), bias: None, activation: Activation::Sigmoid })
                .collect(),
        )
        .expect("shapes chain")
    }

    fn flops(&self) -> f64 {
        let n = self.x.nrows() as f64;
        self.weights.iter().map(|w| 2.0 * n * (w.nrows() * w.ncols()) as f64).sum()
    }

    /// `block` 0: forward_into's own choice.
    fn fused(&self, threads: usize, block: usize) -> Duration {
        let net = self.net();
        let (n, d) = (self.x.nrows(), net.n_outputs());
        median_time(5, Duration::from_secs(2), || {
            let mut out = Array2::<f64>::zeros((n, d).f());
            if block == 0 {
                forward_into(self.x.view(), &net, out.view_mut(), threads).expect("fits");
            } else {
                forward_into_with_block(self.x.view(), &net, out.view_mut(), threads, block).expect("fits");
            }
            black_box(&out);
        })
    }

    fn unfused(&self) -> Duration {
        let net = self.net();
        median_time(3, Duration::from_secs(2), || {
            black_box(forward_trace(self.x.view(), &net).expect("fits"));
        })
    }

    fn report(&self, label: &str, t: Duration) {
        println!(
            "{:3} {:28} {}  {:6.1} GFLOP/s",
            self.name,
            label,
            fmt(t),
            self.flops() / t.as_secs_f64() / 1e9
        );
    }
}

fn main() {
    let wanted: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let run = |name: &str| wanted.is_empty() || wanted.iter().any(|w| w == name);
    // FWDPROP_BENCH_QUICK set: only the default fused pass on 2 threads
    // (for comparing builds quickly on a noisy machine)
    let quick = std::env::var_os("FWDPROP_BENCH_QUICK").is_some();
    let workloads = [
        ("W0", 3, vec![2, 3, 1]),
        ("W1", 10_000, vec![20, 64, 1]),
        ("W2", 100_000, vec![100, 256, 128, 1]),
        ("W3", 2000, vec![2000, 2000]),
    ];
    for (name, n, sizes) in workloads {
        if !run(name) {
            continue;
        }
        let w = Workload::new(name, n, &sizes);
        if quick {
            w.report("fused, 2 thread(s)", w.fused(2, 0));
            continue;
        }
        for threads in [1, 2] {
            w.report(&format!("fused, {threads} thread(s)"), w.fused(threads, 0));
        }
        if name == "W2" || name == "W3" || name == "W1" {
            for block in [64, 128, 256, 512, 1024] {
                w.report(&format!("fused, 2 threads, block {block}"), w.fused(2, block));
            }
        }
        w.report("unfused (trace), 1 thread", w.unfused());
        if name == "W0" {
            small_path(&w, n);
        }
    }
    if run("G") {
        gemms();
    }
    if run("G2") {
        gemm_two_threads();
    }
    if run("P") {
        packing();
    }
    if run("S") {
        sigmoids();
    }
}

/// W0 through the allocation-free small path, and through forward_into
/// with a Network built per call.
fn small_path(w: &Workload, n: usize) {
    // the allocation-free path of the R fast path (per call, timed
    // over batches of 1000 calls), and the same with forward_into
    // and a Network built per call, as the R call did before
    let xs: Vec<f64> = w.x.t().iter().copied().collect(); // column-major
    let ws: Vec<Vec<f64>> = w.weights.iter().map(|m| m.t().iter().copied().collect()).collect();
    let layers: Vec<SmallLayer> = ws
        .iter()
        .zip(&w.weights)
        .map(|(v, m)| SmallLayer {
            weights: v,
            d_in: m.nrows(),
            d_out: m.ncols(),
            bias: None,
            activation: Activation::Sigmoid,
        })
        .collect();
    let d = w.weights.last().expect("layers").ncols();
    let mut out = vec![0.0; n * d];
    let t = median_time(50, Duration::from_millis(500), || {
        for _ in 0..1000 {
            assert!(forward_small_into(black_box(&xs), n, black_box(&layers), &mut out));
        }
        black_box(&out);
    });
    w.report("forward_small_into, per call", t / 1000);
    let t = median_time(50, Duration::from_millis(500), || {
        for _ in 0..1000 {
            let net = w.net();
            let mut o = Array2::<f64>::zeros((n, d).f());
            forward_into(black_box(w.x.view()), &net, o.view_mut(), 1).expect("fits");
            black_box(&o);
        }
    });
    w.report("Network+forward_into per call", t / 1000);
}

/// The GEMMs alone (G).
fn gemms() {
    // the GEMMs alone, one thread, on the products of W3 (half the rows,
    // as each of two threads does), of W2's layers for 512 rows (the
    // fused pass runs blocks of 128) and one in-cache product; fresh
    // output for W3's, as in an R call
    for (m, k, n) in [(1000, 2000, 2000), (512, 100, 256), (512, 256, 128), (64, 256, 48)] {
        let a = init_weights(m, k, InitMethod::Uniform, 1);
        let b = init_weights(k, n, InitMethod::Uniform, 2);
        let flops = 2.0 * (m * k * n) as f64;
        let fresh = m >= 1000;
        let mut out = Array2::<f64>::zeros((m, n).f());
        let t = median_time(5, Duration::from_secs(2), || {
            if fresh {
                out = Array2::<f64>::zeros((m, n).f());
            }
            fwdprop_core::matmul::gemm_into(a.view(), b.view(), out.view_mut());
            black_box(&out);
        });
        println!("G   {m}x{k}x{n} matrixmultiply       {}  {:6.1} GFLOP/s", fmt(t), flops / t.as_secs_f64() / 1e9);
        let mut work = fwdprop_core::gemm::GemmWork::new();
        let t = median_time(5, Duration::from_secs(2), || {
            if fresh {
                out = Array2::<f64>::zeros((m, n).f());
            }
            fwdprop_core::gemm::gemm_packed_into(a.view(), b.view(), out.view_mut(), &mut work);
            black_box(&out);
        });
        println!("G   {m}x{k}x{n} packed 8x6 kernel    {}  {:6.1} GFLOP/s", fmt(t), flops / t.as_secs_f64() / 1e9);
        if let Some(pb) = fwdprop_core::gemm::PackedB::new(b.view(), 1) {
            let t = median_time(5, Duration::from_secs(2), || {
                if fresh {
                    out = Array2::<f64>::zeros((m, n).f());
                }
                fwdprop_core::gemm::gemm_prepacked_into(a.view(), &pb, out.view_mut(), &mut work);
                black_box(&out);
            });
            println!("G   {m}x{k}x{n} prepacked b          {}  {:6.1} GFLOP/s", fmt(t), flops / t.as_secs_f64() / 1e9);
        }
    }
}

/// W3's product alone on 2 threads (G2).
fn gemm_two_threads() {
    // W3's product alone on 2 threads (1000 rows each, weights packed
    // once beforehand, output allocated once and reused: the setting of
    // a BLAS benchmark, to compare with one)
    let (m, k, n) = (2000, 2000, 2000);
    let a = init_weights(m, k, InitMethod::Uniform, 1);
    let b = init_weights(k, n, InitMethod::Uniform, 2);
    let flops = 2.0 * (m * k * n) as f64;
    if let Some(pb) = fwdprop_core::gemm::PackedB::new(b.view(), 2) {
        let mut out = Array2::<f64>::zeros((m, n).f());
        let mut works = [fwdprop_core::gemm::GemmWork::new(), fwdprop_core::gemm::GemmWork::new()];
        let t = median_time(8, Duration::from_secs(3), || {
            let halves = a.axis_chunks_iter(ndarray::Axis(0), m / 2).zip(out.axis_chunks_iter_mut(ndarray::Axis(0), m / 2));
            std::thread::scope(|scope| {
                for ((ah, oh), work) in halves.zip(works.iter_mut()) {
                    let pb = &pb;
                    scope.spawn(move || fwdprop_core::gemm::gemm_prepacked_into(ah, pb, oh, work));
                }
            });
            black_box(&out);
        });
        println!("G2  {m}x{k}x{n} prepacked, 2 threads {}  {:6.1} GFLOP/s", fmt(t), flops / t.as_secs_f64() / 1e9);
    }
}

/// Packing W3's weights (P).
fn packing() {
    // packing W3's weights once per call (shared by the threads)
    let b = init_weights(2000, 2000, InitMethod::Uniform, 2);
    for threads in [1, 2] {
        let t = median_time(5, Duration::from_secs(2), || {
            black_box(fwdprop_core::gemm::PackedB::new(b.view(), threads));
        });
        println!("P   pack 2000x2000 weights, {threads} thread(s) {}", fmt(t));
    }
}

/// The sigmoid over 1e7 values and in cache (S).
fn sigmoids() {
    let x = init_weights(10_000_000, 1, InitMethod::Normal, 3) * 10.0;
    let xs = x.as_slice_memory_order().expect("contiguous");
    let t = median_time(5, Duration::from_secs(2), || {
        let mut out = vec![0.0; xs.len()];
        fwdprop_core::activation::sigmoid_into(xs, &mut out);
        black_box(&out);
    });
    println!("S   sigmoid_into, 1e7 values       {}  {:6.2} ns/value", fmt(t), t.as_secs_f64() / 1e-9 / 1e7);
    let t = median_time(5, Duration::from_secs(2), || {
        let mut out = vec![0.0; xs.len()];
        fwdprop_core::memory::advise_huge_pages(&mut out);
        fwdprop_core::activation::sigmoid_into(xs, &mut out);
        black_box(&out);
    });
    println!("S   same, huge pages advised       {}  {:6.2} ns/value", fmt(t), t.as_secs_f64() / 1e-9 / 1e7);
    // in cache: 4096 values, output reused
    let xs = &xs[..4096];
    let mut out = vec![0.0; xs.len()];
    let t = median_time(1000, Duration::from_millis(500), || {
        fwdprop_core::activation::sigmoid_into(black_box(xs), &mut out);
        black_box(&out);
    });
    println!("S   sigmoid_into, 4096 in cache    {}  {:6.2} ns/value", fmt(t), t.as_secs_f64() / 1e-9 / 4096.0);
    let t = median_time(1000, Duration::from_millis(500), || {
        fwdprop_core::activation::sigmoid_into_scalar(black_box(xs), &mut out);
        black_box(&out);
    });
    println!("S   scalar sigmoid, 4096 in cache  {}  {:6.2} ns/value", fmt(t), t.as_secs_f64() / 1e-9 / 4096.0);
}
