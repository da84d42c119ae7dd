//! Timings of the training workloads (plain harness, medians):
//!
//!     cargo bench -p fwdprop-core --bench train            # all
//!     cargo bench -p fwdprop-core --bench train -- G2 E2   # some
//!     FWDPROP_BENCH_THREADS=1,2,4,8,16 cargo bench ...       # scaling
//!
//! Each workload runs on 1 and 2 threads, or on the thread counts of
//! `FWDPROP_BENCH_THREADS` that this machine has the cores for; the
//! median and the slowest of 5 runs are shown.
//!
//! * F2: W2's forward pass alone (100,000 x 100 -> 256 -> 128 -> 1), for
//!   comparison;
//! * G2: the full-batch gradient of the mean binary cross-entropy of W2's
//!   network (sigmoid layers), 30 GFLOP;
//! * E2: one epoch of minibatch SGD (batch 128, 782 steps) on the same
//!   data and network.
//!
//! GFLOP/s count 2 flops per multiply-add of the products only.

use std::hint::black_box;
use std::time::{Duration, Instant};

use fwdprop_core::activation::Activation;
use fwdprop_core::backward::gradient_into;
use fwdprop_core::forward::forward_into;
use fwdprop_core::init::{init_weights, InitMethod};
use fwdprop_core::loss::Loss;
use fwdprop_core::network::{Layer, Network, ParamLayout};
use fwdprop_core::optim::{Optimizer, Settings, Trainer};
use ndarray::{Array2, ShapeBuilder};

fn times(reps: usize, mut f: impl FnMut()) -> Vec<Duration> {
    f(); // warm-up
    let mut t: Vec<Duration> = (0..reps)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed()
        })
        .collect();
    t.sort();
    t
}

fn report(name: &str, label: &str, t: &[Duration], flops: f64) {
    let med = t[t.len() / 2].as_secs_f64();
    let max = t[t.len() - 1].as_secs_f64();
    println!(
        "{name:3} {label:24} median {:9.3} ms  max {:9.3} ms  {:6.1} GFLOP/s",
        med * 1e3,
        max * 1e3,
        flops / med / 1e9
    );
}

/// The thread counts to run: `FWDPROP_BENCH_THREADS` (a comma-separated
/// list; 1 and 2 by default), those the machine has the cores for.
fn thread_counts() -> Vec<usize> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let asked = std::env::var("FWDPROP_BENCH_THREADS").unwrap_or_else(|_| "1,2".into());
    let counts: Vec<usize> = asked.split(',').filter_map(|v| v.trim().parse().ok()).filter(|&t| t >= 1 && t <= cores).collect();
    if counts.is_empty() {
        vec![1]
    } else {
        counts
    }
}

fn main() {
    let wanted: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let run = |name: &str| wanted.is_empty() || wanted.iter().any(|w| w == name);
    let n = 100_000;
    let sizes = [100usize, 256, 128, 1];
    let x = init_weights(n, sizes[0], InitMethod::Normal, 1);
    let y = Array2::from_shape_fn((n, 1).f(), |(i, _)| if x[(i, 0)] + x[(i, 1)] > 0.0 { 1.0 } else { 0.0 });
    let weights: Vec<Array2<f64>> = sizes
        .windows(2)
        .enumerate()
        .map(|(l, s)| init_weights(s[0], s[1], InitMethod::Xavier, 10 + l as u64))
        .collect();
    let biases: Vec<Vec<f64>> = sizes[1..].iter().map(|&d| vec![0.0; d]).collect();
    let net = Network::new(
        weights
            .iter()
            .zip(&biases)
            .map(|(w, b)| Layer { weights: w.view(), bias: Some(b), activation: Activation::Sigmoid })
            .collect(),
    )
    .expect("shapes chain");
    let mults: f64 = sizes.windows(2).map(|s| (s[0] * s[1]) as f64).sum();
    let back_mults: f64 = mults + sizes[1..].windows(2).map(|s| (s[0] * s[1]) as f64).sum::<f64>();
    let layout = ParamLayout::of(&net);
    if run("P2") {
        // the parts of one E2 step, on one thread: repacking the weights,
        // one 64-row block's gradient, adding two gradient buffers
        use fwdprop_core::backward::{block_gradient, Objective, Plan, BlockScratch};
        let mut plan = Plan::new(&net, 128, 64, 1, true);
        let t = times(200, || plan.repack(&net));
        report("P2", "repack W1 W2 W2t W3t", &t, 0.0);
        let xb = x.slice(ndarray::s![0..64, ..]).to_owned();
        let yb = y.slice(ndarray::s![0..64, ..]).to_owned();
        let mut scratch = BlockScratch::new(&net, &plan);
        let mut g = vec![0.0; layout.len];
        let obj = Objective { loss: Loss::Bce, mean_over: 128.0 };
        let t = times(200, || {
            black_box(block_gradient(xb.view(), yb.view(), &net, &plan, obj, &mut g, false, &mut scratch));
        });
        report("P2", "block gradient, 64 rows", &t, 2.0 * 64.0 * (mults + back_mults));
        let g2 = vec![1.0; layout.len];
        let t = times(200, || {
            g.iter_mut().zip(&g2).for_each(|(a, b)| *a += b);
            black_box(&g);
        });
        report("P2", "add two gradients", &t, 0.0);
    }
    for threads in thread_counts() {
        if run("F2") {
            let t = times(5, || {
                let mut out = Array2::<f64>::zeros((n, 1).f());
                forward_into(x.view(), &net, out.view_mut(), threads).expect("fits");
                black_box(&out);
            });
            report("F2", &format!("forward, {threads} thread(s)"), &t, 2.0 * n as f64 * mults);
        }
        if run("G2") {
            let mut g = vec![0.0; layout.len];
            let t = times(5, || {
                black_box(gradient_into(x.view(), y.view(), &net, Loss::Bce, &mut g, threads).expect("fits"));
            });
            report("G2", &format!("gradient, {threads} thread(s)"), &t, 2.0 * n as f64 * (mults + back_mults));
        }
        if run("E2") {
            let mut params = vec![0.0; layout.len];
            layout.gather(&net, &mut params);
            let settings = Settings {
                loss: Loss::Bce,
                optimizer: Optimizer::Sgd { momentum: 0.0 },
                learn_rate: 0.01,
                weight_decay: 0.0,
                l1: 0.0,
                clip_norm: 0.0,
                dropout: 0.0,
                batch_size: 128,
                threads,
            };
            let mut trainer = Trainer::new(
                layout.clone(),
                vec![Activation::Sigmoid; 3],
                params,
                x.view(),
                y.view(),
                0,
                settings,
                1,
            )
            .expect("fits");
            let t = times(5, || {
                black_box(trainer.epoch(&mut || false).expect("epoch"));
            });
            report("E2", &format!("epoch, {threads} thread(s)"), &t, 2.0 * n as f64 * (mults + back_mults));
        }
    }
}
