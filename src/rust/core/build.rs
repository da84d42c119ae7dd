// Compiles the packed GEMM's AVX-512 micro-kernel (src/gemm.rs) only where
// rustc has AVX-512 intrinsics (1.89 and later) and the target is x86_64:
// sets the cfg `fwdprop_avx512`. Older compilers build the AVX2/FMA kernel
// alone (the package's minimum is rustc 1.77). As matrixmultiply does it.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let ac = match autocfg::AutoCfg::new() {
        Ok(ac) => ac,
        Err(err) => {
            println!("cargo:warning={err}");
            return;
        }
    };
    if ac.probe_rustc_version(1, 80) {
        println!("cargo:rustc-check-cfg=cfg(fwdprop_avx512)");
    }
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if arch == "x86_64" && ac.probe_rustc_version(1, 89) {
        println!("cargo:rustc-cfg=fwdprop_avx512");
    }
}
