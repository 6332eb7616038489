//! Why a product of the crate's own (slice-level) kernels did not run to the end: shared by
//! the packed f32 matrices, the int8 matrices and the kernels of a small pass.

use super::team::HelperPanicked;

/// Why a product (or another split kernel) did not run to the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProductError {
    /// An input or the output holds fewer values than the rows asked for (nothing written).
    TooShort,
    /// More rows than one library GEMM call takes (`c_int`).
    TooManyRows,
    /// A helper thread's share panicked (the output is partly written).
    HelperPanicked,
}

impl ProductError {
    /// `Ok` if `x` holds `rows` rows of `inputs` values and `out` `rows` rows of `outputs`
    /// (an overflowing size holds nothing); [`TooShort`](Self::TooShort) otherwise.
    pub(crate) fn check_lengths(
        x: &[f32],
        out: &[f32],
        rows: usize,
        inputs: usize,
        outputs: usize,
    ) -> Result<(), Self> {
        let holds = |values: &[f32], width: usize| {
            rows.checked_mul(width)
                .is_some_and(|needed| values.len() >= needed)
        };
        if holds(x, inputs) && holds(out, outputs) {
            Ok(())
        } else {
            Err(Self::TooShort)
        }
    }

    /// What went wrong, for an error message.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Self::TooShort => "fewer values than its rows",
            Self::TooManyRows => "too many rows for one GEMM",
            Self::HelperPanicked => "a helper thread's product panicked",
        }
    }
}

impl From<HelperPanicked> for ProductError {
    fn from(_: HelperPanicked) -> Self {
        Self::HelperPanicked
    }
}
