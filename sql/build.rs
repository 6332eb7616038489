//! Lets the binary find libtorch at run time without LD_LIBRARY_PATH: embed an rpath to the
//! folder torch-sys linked against. And export emotion-classifier's MKL vendor check, so that
//! libtorch's MKL takes its fast kernels on AMD CPUs too.
fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }
    println!("cargo:rustc-link-arg=-Wl,--export-dynamic-symbol=mkl_serv_intel_cpu_true");
}
