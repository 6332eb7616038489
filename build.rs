//! Embeds libtorch's location (found by torch-sys) as an rpath in this package's binaries, tests
//! and examples, so they run without `LD_LIBRARY_PATH`; and exports the crate's MKL vendor check
//! from them, so libtorch's MKL uses its fast kernels on AMD CPUs too (src/cpu/mkl/vendor.rs).

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg=-Wl,--export-dynamic-symbol=mkl_serv_intel_cpu_true");
    }
}
