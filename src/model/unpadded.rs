//! Running a batch without padding: only real tokens go through the linear layers.
//!
//! Everything in a transformer layer except attention works on each token alone, so the
//! encoder keeps the batch as `[tokens, hidden]`, the real tokens of every text one after the
//! other, and spreads them out to `[batch, length, ...]` only for attention. Sorted batches
//! carry about 5% padding, but a batch of whatever texts concurrent callers sent (dynamic
//! batching) is padded to its longest text: for 8 random GoEmotions texts, about twice the real
//! tokens. The two copies per layer cost less than the GEMM rows they save.
//!
//! Both copies are row gathers (`index_select`), libtorch's fastest way to move rows: spreading
//! out by scattering into a zeroed tensor (`index_copy_`) took 5x as long (1.3 ms against
//! 0.27 ms for 64 texts' query/key/value rows, 2 threads). A padding slot gathers its own
//! text's last real token rather than zeros: attention adds -1e9 to every padding key's
//! score, so it gets a weight of exactly 0 whatever its (finite) values are, and what padding
//! queries attend to is dropped by [`TokenLayout::pack`].

use tch::{Device, Tensor};

use crate::batch::TokenBatch;
use crate::error::Result;

/// Where a batch's real tokens are in its right-padded form (each text padded to the longest).
pub(super) struct TokenLayout {
    batch: i64,
    length: i64,
    /// `None` when there is no padding (every flat index is real).
    padding: Option<Gathers>,
    /// Each text's first token's index among the real tokens.
    firsts: Tensor,
}

/// The two gathers between the padded and the packed layout.
struct Gathers {
    /// Flat indices (`row * length + column`) of the real tokens, in order.
    real: Tensor,
    /// For every flat index, the row among the real tokens it reads: its own for a real token,
    /// its text's last real token for padding.
    spread: Tensor,
}

impl TokenLayout {
    /// The layout of `batch`'s texts padded to the longest, from their lengths (no mask), with
    /// its index tensors on `device`.
    pub(super) fn new(batch: &TokenBatch, device: Device) -> Result<Self> {
        let rows = batch.rows();
        let length = batch.longest();
        let offsets = batch.offsets();
        let index = |i: usize| i64::try_from(i).unwrap_or(i64::MAX);
        let on_device = |values: &[i64]| -> Result<Tensor> {
            Ok(Tensor::f_from_slice(values)?.f_to_device(device)?)
        };
        let firsts: Vec<i64> = offsets[..rows].iter().map(|&o| index(o)).collect();
        let padding = if batch.ids().len() != rows * length {
            // Flat indices (`row * length + column`) of the real tokens, in order.
            let real: Vec<i64> = batch
                .lengths()
                .enumerate()
                .flat_map(|(row, len)| (0..len).map(move |c| index(row * length + c)))
                .collect();
            // For every slot, the real token it reads: its own, or for padding (right of its
            // text's tokens) its text's last real token (the one before, for an empty text).
            let spread: Vec<i64> = batch
                .lengths()
                .enumerate()
                .flat_map(|(row, len)| {
                    let start = offsets[row];
                    (0..length).map(move |c| {
                        index(if c < len {
                            start + c
                        } else {
                            (start + len).saturating_sub(1)
                        })
                    })
                })
                .collect();
            Some(Gathers {
                real: on_device(&real)?,
                spread: on_device(&spread)?,
            })
        } else {
            None
        };
        Ok(Self {
            batch: index(rows),
            length: index(length),
            padding,
            firsts: on_device(&firsts)?,
        })
    }

    /// How many texts.
    pub(super) fn batch(&self) -> i64 {
        self.batch
    }

    /// The longest text's length, which the others are padded to for attention.
    pub(super) fn length(&self) -> i64 {
        self.length
    }

    /// `values` of shape `[batch, length, ...]` for the real tokens only: `[tokens, ...]`.
    pub(super) fn pack(&self, values: &Tensor) -> Result<Tensor> {
        let mut shape = values.size();
        shape.splice(..2, [self.batch * self.length]);
        let flat = values.f_reshape(shape.as_slice())?;
        Ok(match &self.padding {
            Some(gathers) => flat.f_index_select(0, &gathers.real)?,
            None => flat,
        })
    }

    /// Real tokens' `values` (`[tokens, width]`) back in `[batch, length, width]`; a padding
    /// slot holds its text's last real token (see the module docs for why that is exact).
    pub(super) fn unpack(&self, values: &Tensor) -> Result<Tensor> {
        let width = values.size().last().copied().unwrap_or(0);
        let flat = match &self.padding {
            Some(gathers) => values.f_index_select(0, &gathers.spread)?,
            None => values.shallow_clone(),
        };
        Ok(flat.f_view([self.batch, self.length, width])?)
    }

    /// Each text's first token (`[batch, width]`) from the real tokens' `values`.
    pub(super) fn firsts(&self, values: &Tensor) -> Result<Tensor> {
        Ok(values.f_index_select(0, &self.firsts)?)
    }
}

#[cfg(test)]
mod tests {
    use tch::Kind;

    use super::*;

    /// The layout of texts of these lengths.
    fn layout(lengths: &[usize]) -> TokenLayout {
        let texts: Vec<Vec<u32>> = lengths.iter().map(|&n| vec![7; n]).collect();
        TokenLayout::new(&TokenBatch::new(&texts), Device::Cpu).unwrap()
    }

    #[test]
    fn packs_real_tokens_in_order_and_unpacks_padding_as_its_texts_last_token() {
        let layout = layout(&[3, 1, 2]);
        // Value of (row r, column c) = 10 r + c, one channel.
        let values =
            Tensor::from_slice(&[0f32, 1., 2., 10., 11., 12., 20., 21., 22.]).view([3, 3, 1]);
        let packed = layout.pack(&values).unwrap();
        assert_eq!(
            Vec::<f32>::try_from(packed.view([-1])).unwrap(),
            [0., 1., 2., 10., 20., 21.]
        );
        let unpacked = layout.unpack(&packed).unwrap();
        assert_eq!(unpacked.size(), [3, 3, 1]);
        assert_eq!(
            Vec::<f32>::try_from(unpacked.view([-1])).unwrap(),
            [0., 1., 2., 10., 10., 10., 20., 21., 21.]
        );
        let firsts = layout.firsts(&packed).unwrap();
        assert_eq!(
            Vec::<f32>::try_from(firsts.view([-1])).unwrap(),
            [0., 10., 20.]
        );
    }

    #[test]
    fn a_batch_without_padding_is_only_reshaped() {
        let layout = layout(&[2, 2]);
        assert!(layout.padding.is_none());
        let values = Tensor::arange(8, (Kind::Float, Device::Cpu)).view([2, 2, 2]);
        let packed = layout.pack(&values).unwrap();
        assert_eq!(packed.size(), [4, 2]);
        assert!(layout.unpack(&packed).unwrap().equal(&values));
        let firsts = layout.firsts(&packed).unwrap();
        assert_eq!(
            Vec::<f32>::try_from(firsts.view([-1])).unwrap(),
            [0., 1., 4., 5.]
        );
    }
}
