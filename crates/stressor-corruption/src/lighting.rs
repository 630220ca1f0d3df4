//! The [`Lighting`] shifts: colour temperature, exposure, vignetting and cast shadows, each
//! with a continuous dial, computed in linear light.

use rand::Rng as _;
use stressor_core::{Batch, Seed};

use crate::CorruptionError;
use crate::image::{Geometry, LUMA_709, check, map_samples};

/// A change of illumination with a continuous dial.
///
/// All four work in linear light: values are decoded with the sRGB transfer function, scaled,
/// re-encoded and clipped into `[0, 1]` (in `f64`, so an identity setting returns the input to
/// within 1e-7). Batches are `[n, c, h, w]` with c = 1 or 3, as for [`Corruption`](crate::Corruption).
///
/// # Example
/// ```
/// use stressor_core::{Batch, Seed};
/// use stressor_corruption::Lighting;
/// let images = Batch::new(vec![0.5; 3 * 8 * 8], vec![1, 3, 8, 8]).unwrap();
/// for lighting in Lighting::ALL {
///     let (min, max) = lighting.valid_range();
///     let shifted = lighting.apply(&images, (min + max) / 2.0, Seed::new(1)).unwrap();
///     assert_eq!(shifted.shape(), images.shape());
///     assert_eq!(Lighting::from_name(lighting.name()), Some(lighting));
/// }
/// ```
///
/// # References
/// - IEC 61966-2-1:1999 (sRGB transfer function and primaries).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lighting {
    /// White balance shifted to a black-body illuminant of T kelvin.
    ///
    /// # What it does
    /// Computes the chromaticity of a black body at T by integrating Planck's law
    /// `B(λ, T) ∝ λ⁻⁵ / (exp(c₂/λT) − 1)` (c₂ = 1.4388·10⁷ nm·K) against the CIE 1931
    /// colour-matching functions (Wyman, Sloan & Shirley's multi-lobe fit) over 360–830 nm in
    /// 1 nm steps, converts that white (Y = 1) to linear sRGB, and divides by the same for
    /// 6500 K so that 6500 K is the identity. The per-channel gains (negative ones set to 0,
    /// which happens below about 1900 K for blue) are normalised to keep the luminance
    /// `0.2126·R + 0.7152·G + 0.0722·B` of white, so only chromaticity changes — brightness is
    /// [`Lighting::Exposure`]'s dial. Pixels are scaled by the gains in linear light.
    /// Lower T makes images warmer (R/B up), higher T cooler.
    ///
    /// A one-channel image is treated as RGB with R = G = B; the result's luminance is taken in
    /// linear light and re-encoded. With luminance-preserving gains this is the identity except
    /// in highlights, where a channel clips: a monochrome image has no chromaticity to shift.
    ///
    /// # Why it matters
    /// Indoor tungsten (2700–3200 K), daylight (5500–6500 K) and shade or overcast sky
    /// (7000–10 000 K) tint images differently; a model trained under one light meets the
    /// others in deployment.
    ///
    /// # Parameters
    /// The dial `kelvin`, 1000–40 000.
    ///
    /// # Example
    /// ```
    /// # use stressor_core::{Batch, Seed}; use stressor_corruption::Lighting;
    /// let gray = Batch::new(vec![0.5; 3], vec![1, 3, 1, 1]).unwrap();
    /// let warm = Lighting::ColourTemperature.apply(&gray, 3000.0, Seed::new(0)).unwrap();
    /// assert!(warm.as_slice()[0] > warm.as_slice()[2]);
    /// ```
    ///
    /// # References
    /// - Wyman, Sloan, Shirley, *Simple Analytic Approximations to the CIE XYZ Color Matching
    ///   Functions*, JCGT 2(2), 2013.
    /// - Wyszecki, Stiles, *Color Science*, 2nd ed., 1982 (Planckian locus).
    ColourTemperature,
    /// Exposure change in stops.
    ///
    /// # What it does
    /// Multiplies linear light by `2^EV`, then re-encodes and clips: +1 EV doubles the light,
    /// −1 halves it.
    ///
    /// # Why it matters
    /// Auto-exposure errors, under-lit scenes, sensors of different sensitivity.
    ///
    /// # Parameters
    /// The dial `ev`, −5 to +5.
    ///
    /// # Example
    /// ```
    /// # use stressor_core::{Batch, Seed}; use stressor_corruption::Lighting;
    /// let images = Batch::new(vec![0.5; 4], vec![1, 1, 2, 2]).unwrap();
    /// let darker = Lighting::Exposure.apply(&images, -1.0, Seed::new(0)).unwrap();
    /// assert!(darker.as_slice().iter().all(|&v| v < 0.5));
    /// ```
    ///
    /// # References
    /// ISO 2720:1974 (exposure value).
    Exposure,
    /// Radial darkening towards the corners.
    ///
    /// # What it does
    /// Multiplies linear light by `1 − k·(1 − cos⁴θ)`, k the strength, where θ is the angle
    /// of a lens whose half-field at the image corner is 60°: with `r` the distance from the
    /// centre (1 at the corners, coordinates as fractions of each side), `tan θ = r·tan 60°`,
    /// so `cos⁴θ = 1/(1 + 3r²)²`. At strength 1 the corners receive 1/16 of the light (−4 EV).
    ///
    /// # Why it matters
    /// Wide-angle and cheap lenses darken the periphery; models that look at borders notice.
    ///
    /// # Parameters
    /// The dial `strength`, 0–1.
    ///
    /// # Example
    /// ```
    /// # use stressor_core::{Batch, Seed}; use stressor_corruption::Lighting;
    /// let images = Batch::new(vec![1.0; 9], vec![1, 1, 3, 3]).unwrap();
    /// let out = Lighting::Vignette.apply(&images, 1.0, Seed::new(0)).unwrap();
    /// assert!(out.as_slice()[0] < out.as_slice()[4]);
    /// ```
    ///
    /// # References
    /// Ray, *Applied Photographic Optics*, 3rd ed., 2002 (cos⁴ law of illumination).
    Vignette,
    /// A soft-edged cast shadow over a random half of the image.
    ///
    /// # What it does
    /// Draws per sample a line with a uniform direction passing within a quarter of the
    /// image from its centre (coordinates as fractions of each side), and multiplies linear
    /// light by `1 − k·m`, k the strength and m a smoothstep from 0 to 1 across a band of
    /// ±0.08 around the line: one side is in shadow, the other lit, with a soft penumbra.
    ///
    /// # Why it matters
    /// Shadows from people, structures or the camera itself cover part of the object; the
    /// model should not read the shadow edge as a feature.
    ///
    /// # Parameters
    /// The dial `strength`, 0–1 (1 is a black shadow). The line comes from the seed.
    ///
    /// # Example
    /// ```
    /// # use stressor_core::{Batch, Seed}; use stressor_corruption::Lighting;
    /// let images = Batch::new(vec![0.8; 3 * 16 * 16], vec![1, 3, 16, 16]).unwrap();
    /// let out = Lighting::Shadow.apply(&images, 0.9, Seed::new(4)).unwrap();
    /// assert!(out.as_slice().iter().any(|&v| v < 0.5));
    /// assert!(out.as_slice().iter().any(|&v| (v - 0.8).abs() < 1e-6));
    /// ```
    ///
    /// # References
    /// Sun et al., *Shadow Attack*, CVPR 2021 (shadows as a natural perturbation).
    Shadow,
}

impl Lighting {
    /// Every lighting shift.
    pub const ALL: [Lighting; 4] =
        [Lighting::ColourTemperature, Lighting::Exposure, Lighting::Vignette, Lighting::Shadow];

    /// The kebab-case name (`"colour-temperature"`, `"exposure"`, `"vignette"`, `"shadow"`).
    ///
    /// # Examples
    /// ```
    /// assert_eq!(stressor_corruption::Lighting::ColourTemperature.name(), "colour-temperature");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Lighting::ColourTemperature => "colour-temperature",
            Lighting::Exposure => "exposure",
            Lighting::Vignette => "vignette",
            Lighting::Shadow => "shadow",
        }
    }

    /// The shift called `name`, or `None`.
    ///
    /// # Examples
    /// ```
    /// use stressor_corruption::Lighting;
    /// assert_eq!(Lighting::from_name("vignette"), Some(Lighting::Vignette));
    /// assert_eq!(Lighting::from_name("Vignette"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Lighting> {
        Lighting::ALL.into_iter().find(|lighting| lighting.name() == name)
    }

    /// The name of the dial: `"kelvin"`, `"ev"` or `"strength"`.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(stressor_corruption::Lighting::Exposure.dial(), "ev");
    /// ```
    pub fn dial(self) -> &'static str {
        match self {
            Lighting::ColourTemperature => "kelvin",
            Lighting::Exposure => "ev",
            Lighting::Vignette | Lighting::Shadow => "strength",
        }
    }

    /// The inclusive range of valid dial values: kelvin 1000–40 000, EV −5 to 5, strength 0–1.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(stressor_corruption::Lighting::Vignette.valid_range(), (0.0, 1.0));
    /// ```
    pub fn valid_range(self) -> (f64, f64) {
        match self {
            Lighting::ColourTemperature => (1000.0, 40_000.0),
            Lighting::Exposure => (-5.0, 5.0),
            Lighting::Vignette | Lighting::Shadow => (0.0, 1.0),
        }
    }

    /// Applies the shift with its dial at `value` to every image of `inputs`.
    ///
    /// # Errors
    /// [`CorruptionError::Value`] when `value` is not finite or outside
    /// [`Lighting::valid_range`], [`CorruptionError::Shape`] unless the batch is
    /// `[n, 1 | 3, h, w]` with `h, w > 0`, [`CorruptionError::NonFinite`] for a NaN or infinite
    /// input.
    ///
    /// # Examples
    /// ```
    /// use stressor_core::{Batch, Seed};
    /// use stressor_corruption::Lighting;
    /// let images = Batch::new(vec![0.5; 4], vec![1, 1, 2, 2]).unwrap();
    /// assert!(Lighting::Exposure.apply(&images, f64::NAN, Seed::new(0)).is_err());
    /// assert!(Lighting::Exposure.apply(&images, 6.0, Seed::new(0)).is_err());
    /// ```
    pub fn apply(self, inputs: &Batch, value: f64, seed: Seed) -> Result<Batch, CorruptionError> {
        let (min, max) = self.valid_range();
        if !value.is_finite() || value < min || value > max {
            return Err(CorruptionError::Value {
                lighting: self.name(),
                dial: self.dial(),
                value,
                min,
                max,
            });
        }
        let geometry = check(inputs)?;
        match self {
            Lighting::ColourTemperature => {
                let gains = white_balance_gains(value);
                map_samples(inputs, geometry, seed, |geometry, sample, _| {
                    white_balance(sample, geometry, gains);
                    Ok(())
                })
            }
            Lighting::Exposure => {
                let gain = value.exp2();
                map_samples(inputs, geometry, seed, |geometry, sample, _| {
                    scale_linear(sample, geometry, |_, _| gain);
                    Ok(())
                })
            }
            Lighting::Vignette => map_samples(inputs, geometry, seed, |geometry, sample, _| {
                let (height, width) = (geometry.height as f64, geometry.width as f64);
                scale_linear(sample, geometry, |y, x| {
                    let dy = (y as f64 + 0.5) / height - 0.5;
                    let dx = (x as f64 + 0.5) / width - 0.5;
                    let r_squared = (dy * dy + dx * dx) / 0.5;
                    let falloff = 1.0 / (1.0 + 3.0 * r_squared).powi(2);
                    1.0 - value * (1.0 - falloff)
                });
                Ok(())
            }),
            Lighting::Shadow => map_samples(inputs, geometry, seed, |geometry, sample, rng| {
                let angle = rng.random_range(0.0..std::f64::consts::TAU);
                let offset = rng.random_range(-0.25..=0.25);
                let (normal_y, normal_x) = angle.sin_cos();
                let (height, width) = (geometry.height as f64, geometry.width as f64);
                scale_linear(sample, geometry, |y, x| {
                    let py = (y as f64 + 0.5) / height - 0.5;
                    let px = (x as f64 + 0.5) / width - 0.5;
                    let distance = py * normal_y + px * normal_x - offset;
                    1.0 - value * smoothstep((distance + SHADOW_PENUMBRA) / (2.0 * SHADOW_PENUMBRA))
                });
                Ok(())
            }),
        }
    }
}

/// Half-width of the shadow's penumbra, as a fraction of the image side.
const SHADOW_PENUMBRA: f64 = 0.08;

/// `3t² − 2t³` on `t` clipped into `[0, 1]`.
fn smoothstep(t: f64) -> f64 {
    let t = t.clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

fn srgb_to_linear(value: f64) -> f64 {
    if value <= 0.040_45 { value / 12.92 } else { ((value + 0.055) / 1.055).powf(2.4) }
}

fn linear_to_srgb(value: f64) -> f64 {
    let value = value.clamp(0.0, 1.0);
    if value <= 0.003_130_8 { value * 12.92 } else { 1.055 * value.powf(1.0 / 2.4) - 0.055 }
}

/// Multiplies the linear light of every pixel `(y, x)` by `gain(y, x)`, all channels alike.
fn scale_linear(sample: &mut [f32], geometry: Geometry, gain: impl Fn(usize, usize) -> f64) {
    let Geometry { height, width, .. } = geometry;
    let gains: Vec<f64> =
        (0..height * width).map(|index| gain(index / width, index % width)).collect();
    for plane in sample.chunks_exact_mut(geometry.plane_len()) {
        for (value, &gain) in plane.iter_mut().zip(&gains) {
            *value = linear_to_srgb(srgb_to_linear(f64::from(*value)) * gain) as f32;
        }
    }
}

/// Scales linear R, G, B by `gains`; one channel keeps the linear luminance of the result.
fn white_balance(sample: &mut [f32], geometry: Geometry, gains: [f64; 3]) {
    let plane_len = geometry.plane_len();
    if geometry.channels == 3 {
        for (channel, plane) in sample.chunks_exact_mut(plane_len).enumerate() {
            for value in plane {
                *value = linear_to_srgb(srgb_to_linear(f64::from(*value)) * gains[channel]) as f32;
            }
        }
    } else {
        for value in sample {
            let linear = srgb_to_linear(f64::from(*value));
            let luminance: f64 = gains
                .iter()
                .zip(LUMA_709)
                .map(|(gain, weight)| f64::from(weight) * (linear * gain).min(1.0))
                .sum();
            *value = linear_to_srgb(luminance) as f32;
        }
    }
}

/// Linear-sRGB channel gains that move the white point from 6500 K to `kelvin`, keeping the
/// luminance of white.
pub(crate) fn white_balance_gains(kelvin: f64) -> [f64; 3] {
    let target = planckian_linear_srgb(kelvin);
    let reference = planckian_linear_srgb(6500.0);
    let mut gains: [f64; 3] = std::array::from_fn(|c| (target[c] / reference[c]).max(0.0));
    let luminance: f64 =
        gains.iter().zip(LUMA_709).map(|(gain, weight)| gain * f64::from(weight)).sum();
    if luminance > 0.0 {
        gains.iter_mut().for_each(|gain| *gain /= luminance);
    }
    gains
}

/// Linear sRGB of a black body at `kelvin`, scaled to luminance Y = 1.
fn planckian_linear_srgb(kelvin: f64) -> [f64; 3] {
    const C2_NM_K: f64 = 1.4388e7;
    let (mut x, mut y, mut z) = (0.0, 0.0, 0.0);
    for nanometres in 360..=830 {
        let lambda = f64::from(nanometres);
        let radiance = lambda.powi(-5) / ((C2_NM_K / (lambda * kelvin)).exp() - 1.0);
        let [x_bar, y_bar, z_bar] = cie_1931_cmf(lambda);
        x += radiance * x_bar;
        y += radiance * y_bar;
        z += radiance * z_bar;
    }
    let (x, z) = (x / y, z / y);
    [
        3.2406 * x - 1.5372 - 0.4986 * z,
        -0.9689 * x + 1.8758 + 0.0415 * z,
        0.0557 * x - 0.2040 + 1.0570 * z,
    ]
}

/// The CIE 1931 2° colour-matching functions, Wyman–Sloan–Shirley multi-lobe fit.
fn cie_1931_cmf(lambda: f64) -> [f64; 3] {
    let lobe = |mean: f64, below: f64, above: f64| {
        let t = (lambda - mean) / if lambda < mean { below } else { above };
        (-0.5 * t * t).exp()
    };
    [
        1.056 * lobe(599.8, 37.9, 31.0) + 0.362 * lobe(442.0, 16.0, 26.7)
            - 0.065 * lobe(501.1, 20.4, 26.2),
        0.821 * lobe(568.8, 46.9, 40.5) + 0.286 * lobe(530.9, 16.3, 31.1),
        1.217 * lobe(437.0, 11.8, 36.0) + 0.681 * lobe(459.0, 26.0, 13.8),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planckian_white_points_match_the_locus() {
        // CIE 1931 (x, y) of black bodies (Wyszecki & Stiles): 2856 K is illuminant A.
        for (kelvin, expected_x, expected_y) in [(2856.0, 0.4476, 0.4074), (6500.0, 0.3135, 0.3237)]
        {
            let (mut x, mut y, mut z) = (0.0, 0.0, 0.0);
            for nm in 360..=830 {
                let lambda = f64::from(nm);
                let radiance = lambda.powi(-5) / ((1.4388e7 / (lambda * kelvin)).exp() - 1.0);
                let [a, b, c] = cie_1931_cmf(lambda);
                (x, y, z) = (x + radiance * a, y + radiance * b, z + radiance * c);
            }
            let total = x + y + z;
            assert!((x / total - expected_x).abs() < 0.003, "{kelvin}: x {}", x / total);
            assert!((y / total - expected_y).abs() < 0.003, "{kelvin}: y {}", y / total);
        }
    }

    #[test]
    fn gains_are_identity_at_6500_and_warm_below() {
        assert_eq!(white_balance_gains(6500.0), [1.0, 1.0, 1.0]);
        let warm = white_balance_gains(3000.0);
        assert!(warm[0] > 1.0 && warm[2] < 1.0, "{warm:?}");
        let cool = white_balance_gains(12_000.0);
        assert!(cool[0] < 1.0 && cool[2] > 1.0, "{cool:?}");
        let extreme = white_balance_gains(1000.0);
        assert!(extreme.iter().all(|gain| gain.is_finite() && *gain >= 0.0), "{extreme:?}");
    }
}
