//! Running a padded batch without its padding: only real tokens go through the linear layers.
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

use tch::{Kind, Tensor};

use crate::error::Result;

/// Where a right-padded batch's real tokens are.
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
    /// The layout of a right-padded `mask` (`[batch, length]`, 1 on real tokens).
    pub(super) fn new(mask: &Tensor) -> Result<Self> {
        let (batch, length) = mask.size2()?;
        let lengths = mask.f_sum_dim_intlist(1, false, Kind::Int64)?;
        // Exclusive prefix sum of the lengths: where each text starts among the real tokens.
        let firsts = lengths.f_cumsum(0, Kind::Int64)?.f_sub(&lengths)?;
        let flat = mask.f_reshape([-1])?;
        let real = flat.f_nonzero()?.f_reshape([-1])?;
        let padded = real.size().first().copied() != Some(batch * length);
        let padding = if padded {
            // Real tokens up to and including each slot, minus one: a real token's own row, and
            // for padding (right of its text's tokens) its text's last real token.
            let spread = flat
                .f_cumsum(0, Kind::Int64)?
                .f_sub_scalar(1)?
                .f_clamp_min(0)?;
            Some(Gathers { real, spread })
        } else {
            None
        };
        Ok(Self {
            batch,
            length,
            padding,
            firsts,
        })
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
    use tch::Device;

    use super::*;

    fn mask(rows: &[&[i64]]) -> Tensor {
        let flat: Vec<i64> = rows.iter().flat_map(|r| r.iter().copied()).collect();
        Tensor::from_slice(&flat).view([rows.len() as i64, -1])
    }

    #[test]
    fn packs_real_tokens_in_order_and_unpacks_padding_as_its_texts_last_token() {
        let layout = TokenLayout::new(&mask(&[&[1, 1, 1], &[1, 0, 0], &[1, 1, 0]])).unwrap();
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
        let layout = TokenLayout::new(&mask(&[&[1, 1], &[1, 1]])).unwrap();
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
