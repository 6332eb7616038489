//! Linear layers on MKL's packed GEMM: each weight matrix is packed once, at load.
//!
//! `F.linear` (libtorch's `addmm`) hands MKL a plain weight matrix on every call. MKL then
//! either re-packs it (6% of a batch's time here) or, for the few rows of a single text, runs a
//! "no-copy" kernel that reads it unpacked, at a third of the packed kernel's rate (68% of a
//! single text's time went to that kernel). `cblas_sgemm_pack` does the packing once;
//! `cblas_sgemm_compute` then multiplies any number of rows by the packed matrix.
//!
//! The three functions live in libtorch's bundled MKL (`libtorch_cpu.so` on x86_64). They are
//! looked up at run time, so a libtorch built without MKL still works: [`PackedMatrix::pack`]
//! returns `None` and the caller keeps the plain matrix.
//!
//! Cost: a few milliseconds per matrix at load, and memory: MKL asks for a buffer of 8-20 MB per
//! matrix whatever its size, of which it writes about twice the matrix. The plain weight is
//! dropped. Measured on MiniLM-L6 (24 matrices, 42 MB in f32): 55 MiB more resident after load.

use std::os::raw::c_int;
use std::sync::OnceLock;

use tch::{Device, Kind, Tensor};

use crate::cpu::few_rows::{self, FewRowsMatrix, FEW_ROWS};
use crate::cpu::product::SliceProduct;
#[cfg(test)]
use crate::cpu::product::Start;
use crate::cpu::product_error::ProductError;
use crate::cpu::team::{split, Session, SplitOut};
use crate::error::{Error, Result};

// MKL's CBLAS constants (mkl_cblas.h).
const ROW_MAJOR: c_int = 101;
const NO_TRANS: c_int = 111;
const TRANS: c_int = 112;
const PACKED: c_int = 151;
const B_MATRIX: c_int = 162;

type PackGetSize = unsafe extern "C" fn(c_int, c_int, c_int, c_int) -> usize;
type Pack = unsafe extern "C" fn(
    c_int,
    c_int,
    c_int,
    c_int,
    c_int,
    c_int,
    f32,
    *const f32,
    c_int,
    *mut f32,
);
type Compute = unsafe extern "C" fn(
    c_int,
    c_int,
    c_int,
    c_int,
    c_int,
    c_int,
    *const f32,
    c_int,
    *const f32,
    c_int,
    f32,
    *mut f32,
    c_int,
);

/// MKL's packed-GEMM entry points, if this process's libtorch has them.
struct PackedGemm {
    get_size: PackGetSize,
    pack: Pack,
    compute: Compute,
}

fn packed_gemm() -> Option<&'static PackedGemm> {
    static API: OnceLock<Option<PackedGemm>> = OnceLock::new();
    API.get_or_init(find_packed_gemm).as_ref()
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn find_packed_gemm() -> Option<PackedGemm> {
    let get_size = super::dynamic_symbol(c"cblas_sgemm_pack_get_size")?;
    let pack = super::dynamic_symbol(c"cblas_sgemm_pack")?;
    let compute = super::dynamic_symbol(c"cblas_sgemm_compute")?;
    // SAFETY: these are MKL's CBLAS functions (LP64 interface: 32-bit ints), whose C
    // signatures the three types spell out.
    unsafe {
        Some(PackedGemm {
            get_size: std::mem::transmute::<*mut libc::c_void, PackGetSize>(get_size),
            pack: std::mem::transmute::<*mut libc::c_void, Pack>(pack),
            compute: std::mem::transmute::<*mut libc::c_void, Compute>(compute),
        })
    }
}

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
fn find_packed_gemm() -> Option<PackedGemm> {
    None
}

/// Whether this process's libtorch has MKL's packed GEMM (x86_64 builds do), so that
/// [`pack_weights`](crate::EmotionClassifierBuilder::pack_weights) takes effect. Cheap after the
/// first call (three symbol lookups, once).
pub fn mkl_packed_gemm_available() -> bool {
    packed_gemm().is_some()
}

/// A weight matrix `[outputs, inputs]` packed for `x @ weightᵀ`, on the CPU in f32, as
/// column blocks (groups of outputs) that can be multiplied at once on several cores.
pub(crate) struct PackedMatrix {
    parts: Vec<Part>,
    outputs: c_int,
    inputs: c_int,
    /// The functions that packed it, and that multiply by it.
    api: &'static PackedGemm,
    /// The same weights for the crate's own kernel, which runs products of a few rows (where
    /// the CPU has AVX-512; see [`crate::cpu::few_rows`]).
    few_rows: Option<FewRowsMatrix>,
}

/// Outputs `first..first + outputs` of a [`PackedMatrix`], packed on their own.
struct Part {
    /// MKL's packed buffer. libtorch never moves a tensor's storage, as MKL requires.
    buffer: Tensor,
    first: c_int,
    outputs: c_int,
}

/// The narrowest column block worth a part of its own: splitting below it costs more in
/// calls than a core saves.
const MIN_PART_OUTPUTS: c_int = 64;

impl PackedMatrix {
    /// Packs `weight` (`[outputs, inputs]`, f32, CPU) as up to `parts` column blocks of
    /// nearly equal width (multiples of 16 outputs, at least 64 wide), or `None` when MKL's
    /// packed GEMM is not in this libtorch or the matrix is not f32 on the CPU.
    pub(crate) fn pack(weight: &Tensor, parts: usize) -> Result<Option<Self>> {
        let Some(api) = packed_gemm() else {
            return Ok(None);
        };
        if weight.kind() != Kind::Float || weight.device() != Device::Cpu {
            return Ok(None);
        }
        let (outputs, inputs) = weight.size2()?;
        let (Ok(outputs), Ok(inputs)) = (c_int::try_from(outputs), c_int::try_from(inputs)) else {
            return Ok(None);
        };
        if outputs == 0 || inputs == 0 {
            return Ok(None);
        }
        let weight = weight.f_contiguous()?;
        let few_rows = if few_rows::available() {
            let values = Vec::<f32>::try_from(&weight.f_view([-1])?)?;
            FewRowsMatrix::new(&values, outputs as usize, inputs as usize)
        } else {
            None
        };
        let parts = part_bounds(outputs, parts)
            .into_iter()
            .map(|(first, width)| {
                let block = weight.f_narrow(0, i64::from(first), i64::from(width))?;
                Ok(Part {
                    buffer: pack_block(api, &block, width, inputs)?,
                    first,
                    outputs: width,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(Self {
            parts,
            outputs,
            inputs,
            api,
            few_rows,
        }))
    }

    /// Another handle on the same packed buffers, for another worker thread: MKL only reads
    /// them.
    pub(crate) fn share(&self) -> Self {
        Self {
            parts: self
                .parts
                .iter()
                .map(|part| Part {
                    buffer: part.buffer.shallow_clone(),
                    first: part.first,
                    outputs: part.outputs,
                })
                .collect(),
            outputs: self.outputs,
            inputs: self.inputs,
            api: self.api,
            few_rows: self.few_rows.clone(),
        }
    }

    /// How many column blocks it is packed as.
    #[cfg(test)]
    pub(crate) fn parts(&self) -> usize {
        self.parts.len()
    }

    /// `x @ weightᵀ + bias` for `x` of shape `[..., inputs]` (f32, CPU): what `x.linear(weight,
    /// bias)` computes, with the same summation (bias added to the product once, at the end).
    #[cfg(test)]
    pub(crate) fn linear(
        &self,
        x: &Tensor,
        bias: &Tensor,
        team: Option<&Session>,
    ) -> Result<Tensor> {
        self.product_onto(x, Start::Bias(bias), team)
    }
}

impl SliceProduct for PackedMatrix {
    fn outputs(&self) -> usize {
        self.outputs as usize
    }

    fn inputs(&self) -> usize {
        self.inputs as usize
    }

    /// `out (+)= x @ weightᵀ` on slices: `x` is `[rows, inputs]`, `out` `[rows, outputs]`,
    /// added to when `accumulate`, else overwritten. The crate's few-row kernel takes up to
    /// [`FEW_ROWS`] rows where the CPU has AVX-512, MKL's packed GEMM the rest; with a `team`,
    /// the column groups or blocks run at once on its threads.
    ///
    /// # Errors
    /// [`ProductError`]: a slice too short for `rows` (nothing written), more rows than MKL
    /// takes, or a helper's share panicked.
    fn product_rows(
        &self,
        x: &[f32],
        rows: usize,
        out: &mut [f32],
        accumulate: bool,
        team: Option<&Session>,
    ) -> Result<(), ProductError> {
        let (outputs, inputs) = (self.outputs as usize, self.inputs as usize);
        ProductError::check_lengths(x, out, rows, inputs, outputs)?;
        if rows == 0 {
            return Ok(());
        }
        let out_ptr = SplitOut::new(out);
        if let Some(few) = self.few_rows.as_ref().filter(|_| rows <= FEW_ROWS) {
            let run = |first, end| {
                // SAFETY: `x` holds `[rows, inputs]` and `out` `[rows, outputs]` (checked),
                // borrowed for the split; `split` hands each thread its own groups, so no
                // column is written twice.
                unsafe { few.product(x, rows, out_ptr.at(0), accumulate, first, end) };
            };
            return Ok(split(team, few.groups(), run)?);
        }
        let rows = c_int::try_from(rows).map_err(|_| ProductError::TooManyRows)?;
        let products: Vec<BlockProduct> = self
            .parts
            .iter()
            .map(|part| BlockProduct {
                compute: self.api.compute,
                rows,
                outputs: part.outputs,
                inputs: self.inputs,
                x: x.as_ptr(),
                packed: part.buffer.data_ptr() as *const f32,
                beta: if accumulate { 1.0 } else { 0.0 },
                // SAFETY (of the offset): `part.first < self.outputs`, inside row 0 of `out`.
                out: out_ptr.at(part.first as usize),
                ldc: self.outputs,
            })
            .collect();
        // One block per thread of the team (all on this thread without one).
        Ok(split(team, products.len(), |first, end| {
            products[first..end].iter().for_each(BlockProduct::run);
        })?)
    }
}

/// One column block's GEMM, `x @ blockᵀ` onto its columns of `out`, ready to run on any
/// thread.
struct BlockProduct {
    compute: Compute,
    rows: c_int,
    outputs: c_int,
    inputs: c_int,
    x: *const f32,
    packed: *const f32,
    beta: f32,
    out: *mut f32,
    ldc: c_int,
}

// SAFETY: the pointers are into tensors `product_onto` keeps alive until every block has run
// (`Session::run` returns only then); blocks write disjoint columns of `out` and only read
// `x` and their own packed buffer.
unsafe impl Sync for BlockProduct {}

impl BlockProduct {
    fn run(&self) {
        // SAFETY: `x` is contiguous f32 `[rows, inputs]` (lda = inputs); `out` points at this
        // block's first column of a contiguous f32 `[rows, ldc]` tensor that aliases nothing
        // else (freshly allocated), of which the block writes columns `0..outputs` of each row;
        // `packed` was packed for `[inputs, outputs]`. With beta = 0 MKL does not read C.
        unsafe {
            (self.compute)(
                ROW_MAJOR,
                NO_TRANS,
                PACKED,
                self.rows,
                self.outputs,
                self.inputs,
                self.x,
                self.inputs,
                self.packed,
                self.inputs,
                self.beta,
                self.out,
                self.ldc,
            );
        }
    }
}

/// The column blocks (first output, width) for `outputs` split in up to `parts`: equal widths
/// rounded to multiples of 16 (MKL's kernels work in 16-float columns), none narrower than
/// [`MIN_PART_OUTPUTS`] unless the matrix is; together exactly `0..outputs`.
fn part_bounds(outputs: c_int, parts: usize) -> Vec<(c_int, c_int)> {
    let most = usize::try_from(outputs / MIN_PART_OUTPUTS).unwrap_or(0);
    let parts = c_int::try_from(parts.min(most).max(1)).unwrap_or(1);
    let mut bounds = Vec::new();
    let mut first = 0;
    for index in 0..parts {
        let left = parts - index;
        let width = if left == 1 {
            outputs - first
        } else {
            (((outputs - first) / left + 15) / 16 * 16).min(outputs - first)
        };
        if width > 0 {
            bounds.push((first, width));
        }
        first += width;
    }
    bounds
}

/// `block` (`[outputs, inputs]`, contiguous f32 rows of the weight) packed by MKL.
fn pack_block(api: &PackedGemm, block: &Tensor, outputs: c_int, inputs: c_int) -> Result<Tensor> {
    let block = block.f_contiguous()?;
    // SAFETY: a pure size query.
    let bytes = unsafe { (api.get_size)(B_MATRIX, 1, outputs, inputs) };
    let floats = bytes.div_ceil(std::mem::size_of::<f32>());
    let buffer = Tensor::f_empty([to_i64(floats)?], (Kind::Float, Device::Cpu))?;
    // SAFETY: `block` is a contiguous f32 `[outputs, inputs]` matrix (row-major, leading
    // dimension `inputs`), read as op(B) = blockᵀ; `buffer` holds the `bytes` MKL asked for.
    // Both live through the call.
    unsafe {
        (api.pack)(
            ROW_MAJOR,
            B_MATRIX,
            TRANS,
            1,
            outputs,
            inputs,
            1.0,
            block.data_ptr() as *const f32,
            inputs,
            buffer.data_ptr() as *mut f32,
        );
    }
    Ok(buffer)
}

fn to_i64(n: usize) -> Result<i64> {
    i64::try_from(n).map_err(|_| Error::PackedBufferSize { floats: n })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Largest difference from libtorch's result, relative to its largest value. MKL's packed
    /// and unpacked kernels sum in different orders: a few f32 ulps apart, up to about 1e-6
    /// over 384-1536 terms (each test seeds libtorch's generator, holding it: `crate::torch_rng`).
    /// A wrong row, column or bias is off by far more.
    const TOLERANCE: f64 = 5e-6;

    fn max_relative_difference(a: &Tensor, b: &Tensor) -> f64 {
        let scale = b.abs().max().double_value(&[]).max(1.0);
        (a - b).abs().max().double_value(&[]) / scale
    }

    #[test]
    fn packed_linear_computes_what_linear_does_for_any_row_count() {
        let _generator = crate::torch_rng::hold();
        assert!(
            mkl_packed_gemm_available(),
            "libtorch's MKL lacks cblas_sgemm_pack"
        );
        tch::manual_seed(7);
        for (outputs, inputs) in [(1152, 384), (384, 1536), (7, 384), (5, 3)] {
            let weight = Tensor::randn([outputs, inputs], (Kind::Float, Device::Cpu));
            let bias = Tensor::randn([outputs], (Kind::Float, Device::Cpu));
            let packed = PackedMatrix::pack(&weight, 1).unwrap().unwrap();
            for rows in [1, 3, 20, 64, 333] {
                let x = Tensor::randn([rows, inputs], (Kind::Float, Device::Cpu));
                let expected = x.linear(&weight, Some(&bias));
                let got = packed.linear(&x, &bias, None).unwrap();
                assert_eq!(got.size(), [rows, outputs]);
                let difference = max_relative_difference(&got, &expected);
                assert!(
                    difference < TOLERANCE,
                    "[{outputs}, {inputs}] x {rows} rows: relative difference {difference}"
                );
            }
        }
    }

    #[test]
    fn a_residual_start_adds_it_and_no_start_gives_the_bare_product() {
        let _generator = crate::torch_rng::hold();
        tch::manual_seed(11);
        let (outputs, inputs) = (384, 1536);
        let weight = Tensor::randn([outputs, inputs], (Kind::Float, Device::Cpu));
        let bias = Tensor::randn([outputs], (Kind::Float, Device::Cpu));
        let packed = PackedMatrix::pack(&weight, 1).unwrap().unwrap();
        for rows in [1, 20, 333] {
            let x = Tensor::randn([rows, inputs], (Kind::Float, Device::Cpu));
            let residual = Tensor::randn([rows, outputs], (Kind::Float, Device::Cpu));
            let kept = residual.copy();
            let plus = packed
                .product_onto(&x, Start::BiasPlus(&bias, &residual), None)
                .unwrap();
            let expected = x.linear(&weight, Some(&bias)) + &residual;
            assert!(
                max_relative_difference(&plus, &expected) < TOLERANCE,
                "{rows} rows"
            );
            assert!(residual.equal(&kept), "the GEMM wrote into the residual");
            let bare = packed.product_onto(&x, Start::Nothing, None).unwrap();
            let expected = x.matmul(&weight.tr());
            assert!(
                max_relative_difference(&bare, &expected) < TOLERANCE,
                "{rows} rows"
            );
        }
        // A residual that does not match the output is refused, not read out of bounds.
        let x = Tensor::randn([3, inputs], (Kind::Float, Device::Cpu));
        for wrong in [[3, outputs - 1], [4, outputs]] {
            let residual = Tensor::zeros(wrong, (Kind::Float, Device::Cpu));
            let refused = packed.product_onto(&x, Start::BiasPlus(&bias, &residual), None);
            assert!(
                matches!(refused, Err(Error::PackedLinearInput { .. })),
                "{wrong:?}"
            );
        }
    }

    #[test]
    fn one_row_gets_its_own_output_and_leaves_the_bias_alone() {
        let _generator = crate::torch_rng::hold();
        tch::manual_seed(9);
        let weight = Tensor::randn([8, 4], (Kind::Float, Device::Cpu));
        let bias = Tensor::randn([8], (Kind::Float, Device::Cpu));
        let original = bias.copy();
        let packed = PackedMatrix::pack(&weight, 1).unwrap().unwrap();
        let x = Tensor::randn([1, 4], (Kind::Float, Device::Cpu));
        let first = packed.linear(&x, &bias, None).unwrap();
        assert!(bias.equal(&original), "the GEMM wrote into the bias");
        let second = packed.linear(&x, &bias, None).unwrap();
        assert!(first.equal(&second));
        assert!(max_relative_difference(&first, &x.linear(&weight, Some(&original))) < TOLERANCE);
    }

    #[test]
    fn packed_linear_keeps_leading_dimensions_and_reads_strided_input() {
        let _generator = crate::torch_rng::hold();
        tch::manual_seed(8);
        let weight = Tensor::randn([48, 32], (Kind::Float, Device::Cpu));
        let bias = Tensor::randn([48], (Kind::Float, Device::Cpu));
        let packed = PackedMatrix::pack(&weight, 1).unwrap().unwrap();
        // A transposed (non-contiguous) [2, 5, 32] input.
        let x = Tensor::randn([2, 32, 5], (Kind::Float, Device::Cpu)).transpose(1, 2);
        let got = packed.linear(&x, &bias, None).unwrap();
        assert_eq!(got.size(), [2, 5, 48]);
        assert!(max_relative_difference(&got, &x.linear(&weight, Some(&bias))) < TOLERANCE);
        let empty = Tensor::zeros([0, 5, 32], (Kind::Float, Device::Cpu));
        assert_eq!(
            packed.linear(&empty, &bias, None).unwrap().size(),
            [0, 5, 48]
        );
    }

    #[test]
    fn packed_linear_refuses_inputs_it_was_not_packed_for() {
        let weight = Tensor::ones([4, 3], (Kind::Float, Device::Cpu));
        let bias = Tensor::zeros([4], (Kind::Float, Device::Cpu));
        let packed = PackedMatrix::pack(&weight, 1).unwrap().unwrap();
        let wrong_width = Tensor::ones([2, 5], (Kind::Float, Device::Cpu));
        let wrong_kind = Tensor::ones([2, 3], (Kind::BFloat16, Device::Cpu));
        let wrong_bias = Tensor::zeros([3], (Kind::Float, Device::Cpu));
        for (x, bias) in [
            (&wrong_width, &bias),
            (&wrong_kind, &bias),
            (&weight, &wrong_bias),
        ] {
            assert!(matches!(
                packed.linear(x, bias, None),
                Err(Error::PackedLinearInput { .. })
            ));
        }
    }

    #[test]
    fn only_f32_cpu_matrices_are_packed() {
        let bf16 = Tensor::ones([4, 3], (Kind::BFloat16, Device::Cpu));
        assert!(PackedMatrix::pack(&bf16, 2).unwrap().is_none());
        let empty = Tensor::ones([0, 3], (Kind::Float, Device::Cpu));
        assert!(PackedMatrix::pack(&empty, 2).unwrap().is_none());
    }

    #[test]
    fn column_blocks_cover_every_output_once_in_multiples_of_sixteen() {
        for outputs in [1, 5, 63, 64, 127, 128, 384, 385, 1152, 1536] {
            for parts in [1, 2, 3, 4, 8] {
                let bounds = part_bounds(outputs, parts);
                let mut next = 0;
                for (index, &(first, width)) in bounds.iter().enumerate() {
                    assert_eq!(first, next, "{outputs} in {parts}: gap or overlap");
                    assert!(width > 0);
                    if index + 1 < bounds.len() {
                        assert_eq!(width % 16, 0, "{outputs} in {parts}: {bounds:?}");
                        assert!(
                            width >= MIN_PART_OUTPUTS,
                            "{outputs} in {parts}: {bounds:?}"
                        );
                    }
                    next = first + width;
                }
                assert_eq!(next, outputs, "{outputs} in {parts}: {bounds:?}");
                assert!(bounds.len() <= parts.max(1));
                // Narrow matrices stay whole; wide ones get every part asked for.
                let expected = parts.min((outputs / MIN_PART_OUTPUTS).max(1) as usize);
                assert_eq!(bounds.len(), expected, "{outputs} in {parts}: {bounds:?}");
            }
        }
        assert_eq!(part_bounds(1152, 2), [(0, 576), (576, 576)]);
        assert_eq!(part_bounds(384, 3), [(0, 128), (128, 128), (256, 128)]);
    }

    #[test]
    fn column_blocks_give_the_whole_products_on_one_thread_or_on_a_team() {
        let _generator = crate::torch_rng::hold();
        use crate::cpu::team::Team;
        use std::sync::atomic::AtomicUsize;
        tch::manual_seed(12);
        let team = Team::new(2, || tch::set_num_threads(1)).unwrap();
        let passes = AtomicUsize::new(1);
        let session = team.try_begin(&passes).unwrap();
        for (outputs, inputs) in [(1152, 384), (384, 1536), (200, 48)] {
            let weight = Tensor::randn([outputs, inputs], (Kind::Float, Device::Cpu));
            let bias = Tensor::randn([outputs], (Kind::Float, Device::Cpu));
            let whole = PackedMatrix::pack(&weight, 1).unwrap().unwrap();
            for parts in [2, 3] {
                let split = PackedMatrix::pack(&weight, parts).unwrap().unwrap();
                assert_eq!(split.parts(), parts);
                assert_eq!(split.share().parts(), parts);
                for rows in [1, 19, 130] {
                    let x = Tensor::randn([rows, inputs], (Kind::Float, Device::Cpu));
                    let residual = Tensor::randn([rows, outputs], (Kind::Float, Device::Cpu));
                    let start = Start::BiasPlus(&bias, &residual);
                    let expected = whole.product_onto(&x, start, None).unwrap();
                    for team in [None, Some(&session)] {
                        let got = split.product_onto(&x, start, team).unwrap();
                        let difference = max_relative_difference(&got, &expected);
                        assert!(
                            difference < TOLERANCE,
                            "[{outputs}, {inputs}] in {parts} parts x {rows} rows, team {}: \
                             {difference}",
                            team.is_some()
                        );
                    }
                }
            }
        }
    }
}
