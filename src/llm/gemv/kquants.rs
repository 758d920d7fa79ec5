//! The K-quants' side of the products: activations quantized to Q8_K (what Q4_K and Q6_K weights
//! multiply, see [`super::tiles`]) and the decoding of ggml's packed block fields.

use half::f16;

use super::ActBlock;

const QK_K: usize = 256;

/// 256 activations as Q8_K, as candle's `BlockQ8K::from_float` makes them: `x = d * q` with
/// `d = max / -127`, `max` the value of largest magnitude (the first on ties) and `d` kept in f32,
/// and the sum of each 16 quants.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct Q8KAct {
    pub(super) d: f32,
    pub(super) qs: [i8; QK_K],
    pub(super) bsums: [i16; QK_K / 16],
}

impl Q8KAct {
    /// With the sums of each 16 quants filled in.
    fn summed(mut self) -> Self {
        for (s, qs) in self.bsums.iter_mut().zip(self.qs.chunks_exact(16)) {
            *s = qs.iter().map(|&q| i16::from(q)).sum();
        }
        self
    }
}

impl ActBlock for Q8KAct {
    const WIDTH: usize = QK_K;
    const ZERO: Self = Q8KAct {
        d: 0.0,
        qs: [0; QK_K],
        bsums: [0; QK_K / 16],
    };

    fn quantize(xs: &[f32]) -> Self {
        let mut out = Self::ZERO;
        let (mut max, mut amax) = (0f32, 0f32);
        for &x in xs {
            if amax < x.abs() {
                amax = x.abs();
                max = x;
            }
        }
        if amax == 0.0 {
            return out;
        }
        let iscale = -127.0 / max;
        for (q, &x) in out.qs.iter_mut().zip(xs) {
            *q = (iscale * x).round().clamp(-128.0, 127.0) as i8;
        }
        out.d = 1.0 / iscale;
        out.summed()
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn quantize_avx2(xs: &[f32]) -> Self {
        let amax = super::avx2::max_abs(xs);
        let mut out = Self::ZERO;
        if amax == 0.0 {
            return out;
        }
        // The first value of that magnitude, with its sign.
        let max = xs.iter().copied().find(|x| x.abs() == amax).unwrap_or(amax);
        let iscale = -127.0 / max;
        for (qs, xs) in out.qs.chunks_exact_mut(32).zip(xs.chunks_exact(32)) {
            let q = super::avx2::quantize32(xs.as_ptr(), iscale);
            std::arch::x86_64::_mm256_storeu_si256(qs.as_mut_ptr() as *mut _, q);
        }
        out.d = 1.0 / iscale;
        out.summed()
    }
}

/// Sub-block `j`'s scale and min from ggml's twelve packed bytes (`get_scale_min_k4`).
pub(super) fn scale_min(j: usize, s: &[u8]) -> (u8, u8) {
    if j < 4 {
        (s[j] & 63, s[j + 4] & 63)
    } else {
        (
            (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4),
            (s[j + 4] >> 4) | ((s[j] >> 6) << 4),
        )
    }
}

pub(super) fn f16_at(src: &[u8], at: usize) -> f32 {
    f16::from_le_bytes([src[at], src[at + 1]]).to_f32()
}
