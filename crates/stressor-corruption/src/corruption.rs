//! The [`Corruption`] catalogue: names, severities and dispatch.

use stressor_core::{Batch, Seed};

use crate::CorruptionError;
use crate::image::{check, map_samples};
use crate::{blur, digital, noise, occlusion, photometric, weather};

/// An ImageNet-C style image corruption with five severities.
///
/// Every corruption takes a batch `[n, c, h, w]` (c = 1 or 3, values in `[0, 1]`; values
/// outside are clipped first) and returns a batch of the same shape clipped into `[0, 1]`.
/// Randomness for sample `i` comes from `seed.derive_index(i)`, so a sample's corruption does
/// not depend on the rest of the batch, and the same seed gives bit-identical output.
///
/// Constants per severity are those of ImageNet-C as implemented by the `imagecorruptions`
/// package 1.1.2. They assume 224×224 images: lengths in pixels (blur radii and σ) are
/// multiplied by `s = sqrt(h·w) / 224`; corruptions whose sizes are already relative to the
/// image (pixelate, elastic, fog, occlusion) keep them relative; frost crops its overlay so it
/// covers what it covers on a 224×224 image. One-channel images go through colour operations
/// as RGB with R = G = B, and the result's Rec. 709 luma is kept.
///
/// # Example
/// ```
/// use stressor_core::{Batch, Seed};
/// use stressor_corruption::Corruption;
/// let images = Batch::new(vec![0.5; 2 * 3 * 32 * 32], vec![2, 3, 32, 32]).unwrap();
/// for corruption in Corruption::ALL {
///     let corrupted = corruption.apply(&images, 3, Seed::new(7)).unwrap();
///     assert_eq!(corrupted.shape(), images.shape());
///     assert_eq!(Corruption::from_name(corruption.name()), Some(corruption));
/// }
/// ```
///
/// # References
/// - Hendrycks, Dietterich, *Benchmarking Neural Network Robustness to Common Corruptions and
///   Perturbations*, ICLR 2019.
/// - Michaelis et al., *Benchmarking Robustness in Object Detection*, 2019 (the
///   `imagecorruptions` package).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Corruption {
    /// Additive Gaussian noise.
    ///
    /// # What it does
    /// `x' = clip(x + σ·N(0, 1))` per value, σ = 0.08, 0.12, 0.18, 0.26, 0.38.
    ///
    /// # Why it matters
    /// Sensor read noise in low light; the classic first robustness probe.
    ///
    /// # Parameters
    /// Severity 1–5 picks σ (no pixel scaling: noise is per value).
    ///
    /// # Example
    /// ```
    /// # use stressor_core::{Batch, Seed}; use stressor_corruption::Corruption;
    /// let images = Batch::new(vec![0.5; 64], vec![1, 1, 8, 8]).unwrap();
    /// let noisy = Corruption::GaussianNoise.apply(&images, 5, Seed::new(1)).unwrap();
    /// assert!(noisy.as_slice().iter().any(|&v| v != 0.5));
    /// ```
    ///
    /// # References
    /// Hendrycks & Dietterich 2019; `imagecorruptions.gaussian_noise`.
    GaussianNoise,
    /// Shot (Poisson) noise.
    ///
    /// # What it does
    /// `x' = clip(Poisson(λ·x) / λ)` per value, λ = 60, 25, 12, 5, 3 photons at full scale.
    ///
    /// # Why it matters
    /// Photon counting noise: signal-dependent, strongest relative to dark pixels.
    ///
    /// # Parameters
    /// Severity 1–5 picks λ.
    ///
    /// # Example
    /// ```
    /// # use stressor_core::{Batch, Seed}; use stressor_corruption::Corruption;
    /// let black = Batch::new(vec![0.0; 64], vec![1, 1, 8, 8]).unwrap();
    /// // No light, no photons: black stays black.
    /// assert_eq!(Corruption::ShotNoise.apply(&black, 5, Seed::new(1)).unwrap(), black);
    /// ```
    ///
    /// # References
    /// Hendrycks & Dietterich 2019; `imagecorruptions.shot_noise`.
    ShotNoise,
    /// Impulse (salt-and-pepper) noise.
    ///
    /// # What it does
    /// Each value independently becomes 0 or 1 (equally likely) with probability
    /// p = 0.03, 0.06, 0.09, 0.17, 0.27 (scikit-image `random_noise(mode="s&p")`).
    ///
    /// # Why it matters
    /// Bit errors and dead or hot pixels in transmission and sensors.
    ///
    /// # Parameters
    /// Severity 1–5 picks p.
    ///
    /// # Example
    /// ```
    /// # use stressor_core::{Batch, Seed}; use stressor_corruption::Corruption;
    /// let images = Batch::new(vec![0.5; 1024], vec![1, 1, 32, 32]).unwrap();
    /// let out = Corruption::ImpulseNoise.apply(&images, 5, Seed::new(1)).unwrap();
    /// assert!(out.as_slice().iter().all(|&v| v == 0.0 || v == 0.5 || v == 1.0));
    /// ```
    ///
    /// # References
    /// Hendrycks & Dietterich 2019; `imagecorruptions.impulse_noise`.
    ImpulseNoise,
    /// Defocus blur: convolution with an anti-aliased disk.
    ///
    /// # What it does
    /// Convolves each channel (mirrored border, OpenCV `REFLECT_101`) with a disk of radius
    /// `r·s` pixels, r = 3, 4, 6, 8, 10 (disk weights are pixel coverage from 4×4
    /// supersampling), smoothed by a Gaussian of σ = 0.1, 0.5, 0.5, 0.5, 0.5 pixels (3 taps,
    /// 5 beyond radius 8) and normalised. The anti-alias σ is not scaled: it acts on the pixel
    /// grid, and on small images it carries the blur, as in CIFAR-10-C.
    ///
    /// # Why it matters
    /// An out-of-focus lens; removes high frequencies that many models lean on.
    ///
    /// # Parameters
    /// Severity 1–5 picks (r, σ); r is scaled by `s = sqrt(h·w)/224`.
    ///
    /// # Example
    /// ```
    /// # use stressor_core::{Batch, Seed}; use stressor_corruption::Corruption;
    /// let flat = Batch::new(vec![0.3; 3 * 64 * 64], vec![1, 3, 64, 64]).unwrap();
    /// let out = Corruption::DefocusBlur.apply(&flat, 5, Seed::new(0)).unwrap();
    /// assert!(out.as_slice().iter().all(|&v| (v - 0.3).abs() < 1e-5));
    /// ```
    ///
    /// # References
    /// Hendrycks & Dietterich 2019; `imagecorruptions.defocus_blur`.
    DefocusBlur,
    /// Motion blur along a random direction.
    ///
    /// # What it does
    /// `x' = Σᵢ kᵢ · shift(x, i·(cos θ, sin θ))` for `i = 0..2·round(r·s)+1`, whole-pixel
    /// shifts (rounded as ImageNet-C does) with edge pixels repeated, θ uniform in ±45° per
    /// sample, and `kᵢ ∝ exp(−i²/2(σ·s)²)` normalised; (r, σ) = (10, 3), (15, 5), (15, 8),
    /// (15, 12), (20, 15).
    ///
    /// # Why it matters
    /// Camera shake or a moving object during exposure.
    ///
    /// # Parameters
    /// Severity 1–5 picks (r, σ); both scale with `s = sqrt(h·w)/224`.
    ///
    /// # Example
    /// ```
    /// # use stressor_core::{Batch, Seed}; use stressor_corruption::Corruption;
    /// let flat = Batch::new(vec![0.7; 64 * 64], vec![1, 1, 64, 64]).unwrap();
    /// let out = Corruption::MotionBlur.apply(&flat, 3, Seed::new(0)).unwrap();
    /// assert!(out.as_slice().iter().all(|&v| (v - 0.7).abs() < 1e-5));
    /// ```
    ///
    /// # References
    /// Hendrycks & Dietterich 2019; `imagecorruptions.motion_blur` (the NumPy
    /// reimplementation of ImageNet-C's ImageMagick motion blur).
    MotionBlur,
    /// Gaussian blur.
    ///
    /// # What it does
    /// Separable Gaussian convolution of σ·s pixels, σ = 1, 2, 3, 4, 6, truncated at 4σ, edge
    /// pixels repeated (scikit-image `gaussian` defaults).
    ///
    /// # Why it matters
    /// Soft optics, upscaled low-resolution sources, smoothing in preprocessing.
    ///
    /// # Parameters
    /// Severity 1–5 picks σ, scaled by `s = sqrt(h·w)/224`.
    ///
    /// # Example
    /// ```
    /// # use stressor_core::{Batch, Seed}; use stressor_corruption::Corruption;
    /// let mut data = vec![0.0; 64 * 64];
    /// data[32 * 64 + 32] = 1.0;
    /// let dot = Batch::new(data, vec![1, 1, 64, 64]).unwrap();
    /// let out = Corruption::GaussianBlur.apply(&dot, 5, Seed::new(0)).unwrap();
    /// assert!(out.as_slice()[32 * 64 + 32] < 0.5);
    /// ```
    ///
    /// # References
    /// Hendrycks & Dietterich 2019 (validation corruption); `imagecorruptions.gaussian_blur`.
    GaussianBlur,
    /// Brightness increase in HSV value.
    ///
    /// # What it does
    /// HSV `V' = clip(V + c)`, c = 0.1, 0.2, 0.3, 0.4, 0.5, hue and saturation kept (so RGB
    /// scales by `V'/V`; black becomes gray `c`). On one channel, `x' = clip(x + c)`.
    ///
    /// # Why it matters
    /// Over-bright scenes and auto-exposure errors.
    ///
    /// # Parameters
    /// Severity 1–5 picks c.
    ///
    /// # Example
    /// ```
    /// # use stressor_core::{Batch, Seed}; use stressor_corruption::Corruption;
    /// let gray = Batch::new(vec![0.25; 3 * 4], vec![1, 3, 2, 2]).unwrap();
    /// let out = Corruption::Brightness.apply(&gray, 3, Seed::new(0)).unwrap();
    /// assert!(out.as_slice().iter().all(|&v| (v - 0.55).abs() < 1e-6));
    /// ```
    ///
    /// # References
    /// Hendrycks & Dietterich 2019; `imagecorruptions.brightness`.
    Brightness,
    /// Contrast reduction.
    ///
    /// # What it does
    /// `x' = (x − μ)·c + μ`, μ the per-channel mean over the image, c = 0.4, 0.3, 0.2, 0.1,
    /// 0.05.
    ///
    /// # Why it matters
    /// Haze, glare and flat lighting compress the dynamic range.
    ///
    /// # Parameters
    /// Severity 1–5 picks c.
    ///
    /// # Example
    /// ```
    /// # use stressor_core::{Batch, Seed}; use stressor_corruption::Corruption;
    /// let images = Batch::new(vec![0.0, 1.0], vec![1, 1, 1, 2]).unwrap();
    /// let out = Corruption::Contrast.apply(&images, 1, Seed::new(0)).unwrap();
    /// assert!((out.as_slice()[0] - 0.3).abs() < 1e-6 && (out.as_slice()[1] - 0.7).abs() < 1e-6);
    /// ```
    ///
    /// # References
    /// Hendrycks & Dietterich 2019; `imagecorruptions.contrast`.
    Contrast,
    /// Saturation change in HSV.
    ///
    /// # What it does
    /// HSV `S' = clip(S·a + b)` with (a, b) = (0.3, 0), (0.1, 0), (2, 0), (5, 0.1), (20, 0.2):
    /// severities 1–2 desaturate, 3–5 oversaturate. Gray pixels have hue 0 (red), as in
    /// scikit-image, so the offset b tints them red. One channel: replicated to RGB, saturated,
    /// Rec. 709 luma kept, which is the identity for severities 1–3 and darkens by
    /// `1 − 0.7874·b` (7.9 %, 15.7 %) at 4–5.
    ///
    /// # Why it matters
    /// Camera colour processing, filters and display profiles.
    ///
    /// # Parameters
    /// Severity 1–5 picks (a, b). Damage is not monotone in severity (see the crate tests).
    ///
    /// # Example
    /// ```
    /// # use stressor_core::{Batch, Seed}; use stressor_corruption::Corruption;
    /// let red = Batch::new(vec![0.8, 0.4, 0.4], vec![1, 3, 1, 1]).unwrap();
    /// let out = Corruption::Saturate.apply(&red, 2, Seed::new(0)).unwrap();
    /// // S drops from 0.5 to 0.05: nearly gray at V = 0.8.
    /// assert!((out.as_slice()[2] - 0.76).abs() < 1e-5);
    /// ```
    ///
    /// # References
    /// Hendrycks & Dietterich 2019 (validation corruption); `imagecorruptions.saturate`.
    Saturate,
    /// JPEG compression artefacts from a real codec.
    ///
    /// # What it does
    /// Quantises to 8 bits, encodes baseline JPEG at quality q = 25, 18, 15, 10, 7 (IJG
    /// quality scaling; RGB with 4:2:0 chroma subsampling like PIL's default, one channel as
    /// grayscale JPEG) and decodes back.
    ///
    /// # Why it matters
    /// Almost every deployed image has been through a lossy codec; block and ringing artefacts
    /// are a frequent silent distribution shift.
    ///
    /// # Parameters
    /// Severity 1–5 picks q.
    ///
    /// # Example
    /// ```
    /// # use stressor_core::{Batch, Seed}; use stressor_corruption::Corruption;
    /// let images = Batch::new((0..256).map(|i| (i % 16) as f32 / 15.0).collect(), vec![1, 1, 16, 16]).unwrap();
    /// let out = Corruption::JpegCompression.apply(&images, 5, Seed::new(0)).unwrap();
    /// assert_ne!(out, images);
    /// ```
    ///
    /// # References
    /// Hendrycks & Dietterich 2019; `imagecorruptions.jpeg_compression`; ITU-T T.81.
    JpegCompression,
    /// Pixelation: box-filter down, nearest-neighbour up.
    ///
    /// # What it does
    /// Shrinks each side to `floor(side·c)` pixels (at least 1), c = 0.6, 0.5, 0.4, 0.3, 0.25,
    /// averaging the pixels whose centres fall in each cell (PIL `BOX`), then scales back with
    /// nearest-neighbour sampling (PIL `NEAREST`).
    ///
    /// # Why it matters
    /// Low-resolution sources upscaled for the model; aggressive downsampling in pipelines.
    ///
    /// # Parameters
    /// Severity 1–5 picks c; relative to the image size, so no scaling is needed.
    ///
    /// # Example
    /// ```
    /// # use stressor_core::{Batch, Seed}; use stressor_corruption::Corruption;
    /// let images = Batch::new(vec![0.0, 1.0, 0.0, 1.0], vec![1, 1, 1, 4]).unwrap();
    /// let out = Corruption::Pixelate.apply(&images, 2, Seed::new(0)).unwrap();
    /// assert_eq!(out.as_slice(), &[0.5, 0.5, 0.5, 0.5]);
    /// ```
    ///
    /// # References
    /// Hendrycks & Dietterich 2019; `imagecorruptions.pixelate`.
    Pixelate,
    /// Elastic transform: resampling along a smooth random displacement field.
    ///
    /// # What it does
    /// `x'(p) = x(p + d(p))`, bilinear with a mirrored border; each component of `d` is
    /// `α · G_σ * U(−m, m)`: per-pixel uniform noise with `m = 0.005·h`, smoothed by a Gaussian
    /// of σ = 1 % of the side along each axis (truncated at 3σ), times
    /// α = 12.5, 16.25, 21.25, 25, 30 (the `imagecorruptions` 1.1.2 form, not the original
    /// ImageNet-C one with an affine part).
    ///
    /// # Why it matters
    /// Local geometric distortion: lens warping, rolling shutter, non-rigid objects.
    ///
    /// # Parameters
    /// Severity 1–5 picks α. m and σ are fractions of the image side; on small images
    /// (σ under a pixel) the field decorrelates towards per-pixel jitter, as in the reference.
    ///
    /// # Example
    /// ```
    /// # use stressor_core::{Batch, Seed}; use stressor_corruption::Corruption;
    /// let flat = Batch::new(vec![0.4; 3 * 32 * 32], vec![1, 3, 32, 32]).unwrap();
    /// let out = Corruption::ElasticTransform.apply(&flat, 5, Seed::new(0)).unwrap();
    /// assert!(out.as_slice().iter().all(|&v| (v - 0.4).abs() < 1e-5));
    /// ```
    ///
    /// # References
    /// Simard, Steinkraus, Platt, *Best Practices for Convolutional Neural Networks Applied to
    /// Visual Document Analysis*, ICDAR 2003; `imagecorruptions.elastic_transform`.
    ElasticTransform,
    /// Fog: a plasma fractal haze.
    ///
    /// # What it does
    /// `x' = (x + c·F) · max(x) / (max(x) + c)`, F a diamond-square fractal in `[0, 1]` over
    /// the next power of two at or above the longer side (so its structure is relative to the
    /// image), with (c, roughness decay) = (1.5, 2), (2, 2), (2.5, 1.7), (2.5, 1.5), (3, 1.4).
    ///
    /// # Why it matters
    /// Atmospheric scattering lowers contrast unevenly across the image.
    ///
    /// # Parameters
    /// Severity 1–5 picks (c, decay).
    ///
    /// # Example
    /// ```
    /// # use stressor_core::{Batch, Seed}; use stressor_corruption::Corruption;
    /// let images = Batch::new(vec![0.9; 32 * 32], vec![1, 1, 32, 32]).unwrap();
    /// let out = Corruption::Fog.apply(&images, 3, Seed::new(0)).unwrap();
    /// assert!(out.as_slice().iter().any(|&v| (v - 0.9).abs() > 0.05));
    /// ```
    ///
    /// # References
    /// Hendrycks & Dietterich 2019; Fournier, Fussell, Carpenter, *Computer Rendering of
    /// Stochastic Models*, CACM 1982 (diamond-square).
    Fog,
    /// Frost: an ice-crystal overlay blended over the image.
    ///
    /// # What it does
    /// `x' = clip(c₀·x + c₁·F)`, (c₀, c₁) = (1, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7),
    /// (0.6, 0.75), F a random crop of one of two vendored ImageNet-C frost overlays, resized
    /// bilinearly to the image. The crop covers the overlay area ImageNet-C's crop covers on a
    /// 224×224 image (the overlay enlarged 1.1×), so the ice texture keeps its relative scale.
    /// One channel: F is the overlay's Rec. 709 luma.
    ///
    /// The overlays are vendored rather than generated because frost's look (branching
    /// crystals, bluish tint) is what makes this corruption comparable with ImageNet-C
    /// results; two 128×128 crops (64 kB, Apache-2.0, `assets/NOTICE`) keep the crate small.
    ///
    /// # Why it matters
    /// Ice or condensation on a lens or window; occludes and tints at once.
    ///
    /// # Parameters
    /// Severity 1–5 picks (c₀, c₁).
    ///
    /// # Example
    /// ```
    /// # use stressor_core::{Batch, Seed}; use stressor_corruption::Corruption;
    /// let black = Batch::new(vec![0.0; 3 * 32 * 32], vec![1, 3, 32, 32]).unwrap();
    /// let out = Corruption::Frost.apply(&black, 5, Seed::new(0)).unwrap();
    /// assert!(out.as_slice().iter().sum::<f32>() > 0.0);
    /// ```
    ///
    /// # References
    /// Hendrycks & Dietterich 2019; `imagecorruptions.frost`.
    Frost,
    /// Occlusion: a mid-gray rectangle at a random position (not part of ImageNet-C).
    ///
    /// # What it does
    /// Fills a rectangle of `round(f·h) × round(f·w)` pixels, f = 0.2, 0.3, 0.4, 0.5, 0.6
    /// (4 %–36 % of the area), placed uniformly where it fits, with 0.5 in every channel.
    ///
    /// # Why it matters
    /// Objects partly hidden by others, stickers, dirt; tests whether the model relies on
    /// one region.
    ///
    /// # Parameters
    /// Severity 1–5 picks f; relative to the image, so no scaling is needed.
    ///
    /// # Example
    /// ```
    /// # use stressor_core::{Batch, Seed}; use stressor_corruption::Corruption;
    /// let images = Batch::new(vec![0.0; 100], vec![1, 1, 10, 10]).unwrap();
    /// let out = Corruption::Occlusion.apply(&images, 1, Seed::new(0)).unwrap();
    /// assert_eq!(out.as_slice().iter().filter(|&&v| v == 0.5).count(), 4);
    /// ```
    ///
    /// # References
    /// DeVries, Taylor, *Improved Regularization of Convolutional Neural Networks with
    /// Cutout*, 2017; Zhong et al., *Random Erasing Data Augmentation*, AAAI 2020.
    Occlusion,
}

impl Corruption {
    /// Every corruption, in ImageNet-C's order (noise, blur, weather, digital) with the
    /// validation and extra ones last.
    pub const ALL: [Corruption; 15] = [
        Corruption::GaussianNoise,
        Corruption::ShotNoise,
        Corruption::ImpulseNoise,
        Corruption::DefocusBlur,
        Corruption::MotionBlur,
        Corruption::GaussianBlur,
        Corruption::Brightness,
        Corruption::Contrast,
        Corruption::Saturate,
        Corruption::JpegCompression,
        Corruption::Pixelate,
        Corruption::ElasticTransform,
        Corruption::Fog,
        Corruption::Frost,
        Corruption::Occlusion,
    ];

    /// The kebab-case name used in scenarios and reports (`"gaussian-noise"`).
    ///
    /// # Examples
    /// ```
    /// assert_eq!(stressor_corruption::Corruption::JpegCompression.name(), "jpeg-compression");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Corruption::GaussianNoise => "gaussian-noise",
            Corruption::ShotNoise => "shot-noise",
            Corruption::ImpulseNoise => "impulse-noise",
            Corruption::DefocusBlur => "defocus-blur",
            Corruption::MotionBlur => "motion-blur",
            Corruption::GaussianBlur => "gaussian-blur",
            Corruption::Brightness => "brightness",
            Corruption::Contrast => "contrast",
            Corruption::Saturate => "saturate",
            Corruption::JpegCompression => "jpeg-compression",
            Corruption::Pixelate => "pixelate",
            Corruption::ElasticTransform => "elastic-transform",
            Corruption::Fog => "fog",
            Corruption::Frost => "frost",
            Corruption::Occlusion => "occlusion",
        }
    }

    /// The corruption called `name` (see [`Corruption::name`]), or `None`.
    ///
    /// # Examples
    /// ```
    /// use stressor_corruption::Corruption;
    /// assert_eq!(Corruption::from_name("fog"), Some(Corruption::Fog));
    /// assert_eq!(Corruption::from_name("snow"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Corruption> {
        Corruption::ALL.into_iter().find(|corruption| corruption.name() == name)
    }

    /// Corrupts every image of `inputs` at `severity` (1–5).
    ///
    /// # Errors
    /// [`CorruptionError::Severity`] outside 1–5, [`CorruptionError::Shape`] unless the batch
    /// is `[n, 1 | 3, h, w]` with `h, w > 0`, [`CorruptionError::NonFinite`] for a NaN or
    /// infinite value, [`CorruptionError::Codec`] if the JPEG codec rejects the image.
    ///
    /// # Examples
    /// ```
    /// use stressor_core::{Batch, Seed};
    /// use stressor_corruption::Corruption;
    /// let images = Batch::new(vec![0.5; 3 * 16 * 16], vec![1, 3, 16, 16]).unwrap();
    /// let a = Corruption::ShotNoise.apply(&images, 2, Seed::new(3)).unwrap();
    /// let b = Corruption::ShotNoise.apply(&images, 2, Seed::new(3)).unwrap();
    /// assert_eq!(a, b);
    /// assert!(Corruption::ShotNoise.apply(&images, 6, Seed::new(3)).is_err());
    /// ```
    pub fn apply(self, inputs: &Batch, severity: u8, seed: Seed) -> Result<Batch, CorruptionError> {
        if !(1..=5).contains(&severity) {
            return Err(CorruptionError::Severity { corruption: self.name(), severity });
        }
        let geometry = check(inputs)?;
        let level = usize::from(severity - 1);
        let scale = geometry.scale();
        match self {
            Corruption::GaussianNoise => {
                let sigma = noise::GAUSSIAN_SIGMA[level];
                map_samples(inputs, geometry, seed, |_, sample, rng| {
                    noise::gaussian(sample, rng, sigma);
                    Ok(())
                })
            }
            Corruption::ShotNoise => {
                let photons = noise::SHOT_PHOTONS[level];
                map_samples(inputs, geometry, seed, |_, sample, rng| {
                    noise::shot(sample, rng, photons);
                    Ok(())
                })
            }
            Corruption::ImpulseNoise => {
                let amount = noise::IMPULSE_AMOUNT[level];
                map_samples(inputs, geometry, seed, |_, sample, rng| {
                    noise::impulse(sample, rng, amount);
                    Ok(())
                })
            }
            Corruption::DefocusBlur => {
                let (radius, alias_sigma) = blur::DEFOCUS[level];
                let (kernel, size) = blur::defocus_kernel(radius * scale, alias_sigma);
                map_samples(inputs, geometry, seed, |geometry, sample, _| {
                    blur::defocus(sample, geometry, &kernel, size);
                    Ok(())
                })
            }
            Corruption::MotionBlur => {
                let (radius, sigma) = blur::MOTION[level];
                let kernel = blur::motion_kernel(radius * scale, sigma * scale);
                map_samples(inputs, geometry, seed, |geometry, sample, rng| {
                    blur::motion(sample, geometry, rng, &kernel);
                    Ok(())
                })
            }
            Corruption::GaussianBlur => {
                let kernel = blur::gaussian_blur_kernel(blur::GAUSSIAN_SIGMA[level] * scale);
                map_samples(inputs, geometry, seed, |geometry, sample, _| {
                    blur::gaussian(sample, geometry, &kernel);
                    Ok(())
                })
            }
            Corruption::Brightness => {
                let delta = photometric::BRIGHTNESS[level];
                map_samples(inputs, geometry, seed, |geometry, sample, _| {
                    photometric::brightness(sample, geometry, delta);
                    Ok(())
                })
            }
            Corruption::Contrast => {
                let factor = photometric::CONTRAST[level];
                map_samples(inputs, geometry, seed, |geometry, sample, _| {
                    photometric::contrast(sample, geometry, factor);
                    Ok(())
                })
            }
            Corruption::Saturate => {
                let (factor, offset) = photometric::SATURATE[level];
                map_samples(inputs, geometry, seed, |geometry, sample, _| {
                    photometric::saturate(sample, geometry, factor, offset);
                    Ok(())
                })
            }
            Corruption::JpegCompression => {
                let quality = digital::JPEG_QUALITY[level];
                map_samples(inputs, geometry, seed, |geometry, sample, _| {
                    digital::jpeg(sample, geometry, quality)
                })
            }
            Corruption::Pixelate => {
                let factor = digital::PIXELATE[level];
                map_samples(inputs, geometry, seed, |geometry, sample, _| {
                    digital::pixelate(sample, geometry, factor);
                    Ok(())
                })
            }
            Corruption::ElasticTransform => {
                let alpha = digital::ELASTIC_ALPHA[level];
                map_samples(inputs, geometry, seed, |geometry, sample, rng| {
                    digital::elastic(sample, geometry, rng, alpha);
                    Ok(())
                })
            }
            Corruption::Fog => {
                let (gain, decay) = weather::FOG[level];
                map_samples(inputs, geometry, seed, |geometry, sample, rng| {
                    weather::fog(sample, geometry, rng, gain, decay);
                    Ok(())
                })
            }
            Corruption::Frost => {
                let (image_weight, frost_weight) = weather::FROST[level];
                map_samples(inputs, geometry, seed, |geometry, sample, rng| {
                    weather::frost(sample, geometry, rng, image_weight, frost_weight);
                    Ok(())
                })
            }
            Corruption::Occlusion => {
                let fraction = occlusion::SIDE_FRACTION[level];
                map_samples(inputs, geometry, seed, |geometry, sample, rng| {
                    occlusion::occlude(sample, geometry, rng, fraction);
                    Ok(())
                })
            }
        }
    }
}
