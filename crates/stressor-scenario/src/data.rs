//! The data a model is measured on: `[data]` planned into a [`DataPlan`] (the embedded
//! Fashion-MNIST and CIFAR-10 samples, IDX, CIFAR-10 binary, NPY/NPZ, image folders, CSV) and
//! loaded as the evaluated samples plus a disjoint calibration split.

use std::ops::Range;
use std::path::PathBuf;

use stressor_core::{Dataset, Seed};
use toml::Spanned;

use crate::EngineError;
use crate::options::DataOptions;
use crate::planner::Planner;

/// The layout of an array of images in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArrayLayout {
    /// Channels first.
    Nchw,
    /// Channels last.
    Nhwc,
}

/// How stored values map to [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueScale {
    /// Bytes are divided by 255; floats must lie in [0, 1].
    Auto,
    /// Values already lie in [0, 1].
    Unit,
    /// Values lie in [0, 255].
    Byte,
}

/// Where the data comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct DataPlan {
    /// The source.
    pub source: DataSource,
    /// How many samples to draw; all when `None`.
    pub samples: Option<usize>,
}

/// The data sources.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum DataSource {
    /// The embedded Fashion-MNIST.
    FashionMnist {
        /// `true` for the test split.
        test_split: bool,
    },
    /// IDX files.
    Idx {
        /// Images file.
        images: PathBuf,
        /// Labels file.
        labels: PathBuf,
        /// Class names, when given.
        class_names: Option<Vec<String>>,
    },
    /// The 20 real CIFAR-10 test images shipped with stressor.
    Cifar10Samples,
    /// CIFAR-10 binary batch files.
    Cifar10 {
        /// The batch files.
        files: Vec<PathBuf>,
        /// Class names, when given.
        class_names: Option<Vec<String>>,
    },
    /// A pair of NPY files.
    Npy {
        /// Images file.
        images: PathBuf,
        /// Labels file.
        labels: PathBuf,
        /// Their layout.
        layout: ArrayLayout,
        /// Their scale.
        scale: ValueScale,
        /// Class names, when given.
        class_names: Option<Vec<String>>,
    },
    /// An NPZ archive.
    Npz {
        /// The archive.
        path: PathBuf,
        /// The images array's name.
        images_key: String,
        /// The labels array's name.
        labels_key: String,
        /// The layout.
        layout: ArrayLayout,
        /// The scale.
        scale: ValueScale,
        /// Class names, when given.
        class_names: Option<Vec<String>>,
    },
    /// One folder per class of PNG/JPEG files.
    Folder {
        /// The root folder.
        path: PathBuf,
        /// 1 or 3.
        channels: u8,
        /// Resize to `(height, width)`.
        size: Option<(u32, u32)>,
    },
    /// A CSV file of numeric features and a label column.
    Csv {
        /// The file.
        path: PathBuf,
        /// `first`, `last` or a header name.
        label_column: String,
        /// The shape of one sample.
        shape: Option<Vec<usize>>,
        /// The scale.
        scale: ValueScale,
        /// Whether there is a header row; detected when `None`.
        header: Option<bool>,
    },
}

impl Planner<'_> {
    /// The data described by `options` (`[data]`).
    pub fn data(&mut self, options: &DataOptions) -> DataPlan {
        let samples = options.samples.as_ref().and_then(|samples| {
            if *samples.get_ref() == 0 {
                self.problem(samples.span(), "data.samples", "must be at least 1".into(), None);
                None
            } else {
                usize::try_from(*samples.get_ref()).ok()
            }
        });
        let source = options.source.get_ref().as_str();
        const SOURCES: &str = "builtin, idx, cifar10, npy, npz, folder, csv";
        // Which keys each source takes; every other given key is a problem.
        let takes: &[&str] = match source {
            "builtin" => &["dataset", "split"],
            "idx" => &["images", "labels", "class_names"],
            "cifar10" => &["files", "class_names"],
            "npy" => &["images", "labels", "layout", "scale", "class_names"],
            "npz" => &["path", "images_key", "labels_key", "layout", "scale", "class_names"],
            "folder" => &["path", "channels", "size"],
            "csv" => &["path", "label_column", "shape", "scale", "header"],
            other => {
                self.problem(
                    options.source.span(),
                    "data.source",
                    format!("unknown data source `{other}`"),
                    Some(format!("known sources: {SOURCES}")),
                );
                return DataPlan { source: DataSource::FashionMnist { test_split: true }, samples };
            }
        };
        let span_or_source = |span: Option<Range<usize>>| span.unwrap_or(options.source.span());
        let given: [(&str, Option<Range<usize>>, bool); 16] = [
            ("dataset", options.dataset.as_ref().map(Spanned::span), options.dataset.is_some()),
            ("split", options.split.as_ref().map(Spanned::span), options.split.is_some()),
            ("images", options.images.as_ref().map(Spanned::span), options.images.is_some()),
            ("labels", options.labels.as_ref().map(Spanned::span), options.labels.is_some()),
            ("files", options.files.as_ref().map(Spanned::span), options.files.is_some()),
            ("path", options.path.as_ref().map(Spanned::span), options.path.is_some()),
            ("images_key", None, options.images_key.is_some()),
            ("labels_key", None, options.labels_key.is_some()),
            ("layout", options.layout.as_ref().map(Spanned::span), options.layout.is_some()),
            ("scale", options.scale.as_ref().map(Spanned::span), options.scale.is_some()),
            ("channels", options.channels.as_ref().map(Spanned::span), options.channels.is_some()),
            ("size", options.size.as_ref().map(Spanned::span), options.size.is_some()),
            ("label_column", None, options.label_column.is_some()),
            ("shape", options.shape.as_ref().map(Spanned::span), options.shape.is_some()),
            ("header", None, options.header.is_some()),
            ("class_names", None, options.class_names.is_some()),
        ];
        for (key, span, present) in given {
            if present && !takes.contains(&key) {
                self.problem(
                    span_or_source(span),
                    &format!("data.{key}"),
                    format!("`{key}` does not apply to `source = \"{source}\"`"),
                    Some(format!("`source = \"{source}\"` takes: {}", takes.join(", "))),
                );
            }
        }
        let mut file = |key: &str, value: &Option<Spanned<String>>| match value {
            Some(value) => self.relative(value.get_ref()),
            None => {
                self.problem(
                    options.source.span(),
                    &format!("data.{key}"),
                    format!("`source = \"{source}\"` needs `{key}`"),
                    None,
                );
                PathBuf::new()
            }
        };
        let class_names = options.class_names.clone();
        let source = match source {
            "builtin" => {
                let dataset = options.dataset.as_ref().map(|d| (d.get_ref().as_str(), d.span()));
                match dataset {
                    None | Some(("fashion-mnist", _)) => {
                        let test_split = match options
                            .split
                            .as_ref()
                            .map(|s| (s.get_ref().as_str(), s.span()))
                        {
                            None | Some(("test", _)) => true,
                            Some(("train", _)) => false,
                            Some((other, span)) => {
                                self.problem(
                                    span,
                                    "data.split",
                                    format!("unknown split `{other}`"),
                                    Some("use `test` or `train`".into()),
                                );
                                true
                            }
                        };
                        DataSource::FashionMnist { test_split }
                    }
                    Some(("cifar10-samples", _)) => {
                        if let Some(split) = &options.split {
                            self.problem(
                                split.span(),
                                "data.split",
                                "`cifar10-samples` has one split".into(),
                                None,
                            );
                        }
                        DataSource::Cifar10Samples
                    }
                    Some((other, span)) => {
                        self.problem(
                            span,
                            "data.dataset",
                            format!("unknown built-in data set `{other}`"),
                            Some("known data sets: fashion-mnist, cifar10-samples".into()),
                        );
                        DataSource::FashionMnist { test_split: true }
                    }
                }
            }
            "idx" => {
                let images = file("images", &options.images);
                let labels = file("labels", &options.labels);
                DataSource::Idx { images, labels, class_names }
            }
            "cifar10" => {
                let files = match &options.files {
                    Some(files) if !files.get_ref().is_empty() => {
                        files.get_ref().iter().map(|f| self.relative(f)).collect()
                    }
                    Some(files) => {
                        self.problem(files.span(), "data.files", "the list is empty".into(), None);
                        Vec::new()
                    }
                    None => {
                        self.problem(
                            options.source.span(),
                            "data.files",
                            "`source = \"cifar10\"` needs `files`".into(),
                            Some("files = [\"cifar-10-batches-bin/test_batch.bin\"]".into()),
                        );
                        Vec::new()
                    }
                };
                DataSource::Cifar10 { files, class_names }
            }
            "npy" => {
                let images = file("images", &options.images);
                let labels = file("labels", &options.labels);
                let layout = self.layout(options.layout.as_ref());
                let scale = self.scale(options.scale.as_ref());
                DataSource::Npy { images, labels, layout, scale, class_names }
            }
            "npz" => {
                let path = file("path", &options.path);
                let layout = self.layout(options.layout.as_ref());
                let scale = self.scale(options.scale.as_ref());
                DataSource::Npz {
                    path,
                    images_key: options.images_key.clone().unwrap_or_else(|| "images".into()),
                    labels_key: options.labels_key.clone().unwrap_or_else(|| "labels".into()),
                    layout,
                    scale,
                    class_names,
                }
            }
            "folder" => {
                let path = file("path", &options.path);
                let channels = match &options.channels {
                    None => 3,
                    Some(c) if matches!(c.get_ref(), 1 | 3) => *c.get_ref(),
                    Some(c) => {
                        self.problem(c.span(), "data.channels", "must be 1 or 3".into(), None);
                        3
                    }
                };
                let size = match options.size.as_ref().map(|s| (s.get_ref().as_slice(), s.span())) {
                    None => None,
                    Some((&[h, w], _)) if h > 0 && w > 0 && h <= 4096 && w <= 4096 => Some((h, w)),
                    Some((_, span)) => {
                        self.problem(
                            span,
                            "data.size",
                            "must be [height, width], each 1 to 4096".into(),
                            None,
                        );
                        None
                    }
                };
                DataSource::Folder { path, channels, size }
            }
            _ => {
                let path = file("path", &options.path);
                let scale = self.scale(options.scale.as_ref());
                let shape = options.shape.as_ref().map(|s| s.get_ref().clone());
                if let Some(shape) = &options.shape
                    && (shape.get_ref().is_empty() || shape.get_ref().contains(&0))
                {
                    self.problem(
                        shape.span(),
                        "data.shape",
                        "every dimension must be at least 1".into(),
                        None,
                    );
                }
                DataSource::Csv {
                    path,
                    label_column: options.label_column.clone().unwrap_or_else(|| "last".into()),
                    shape,
                    scale,
                    header: options.header,
                }
            }
        };
        DataPlan { source, samples }
    }

    fn layout(&mut self, layout: Option<&Spanned<String>>) -> ArrayLayout {
        match layout.map(|l| (l.get_ref().as_str(), l.span())) {
            None | Some(("nchw", _)) => ArrayLayout::Nchw,
            Some(("nhwc", _)) => ArrayLayout::Nhwc,
            Some((other, span)) => {
                self.problem(
                    span,
                    "data.layout",
                    format!("unknown layout `{other}`"),
                    Some("use nchw or nhwc".into()),
                );
                ArrayLayout::Nchw
            }
        }
    }

    fn scale(&mut self, scale: Option<&Spanned<String>>) -> ValueScale {
        match scale.map(|s| (s.get_ref().as_str(), s.span())) {
            None | Some(("auto", _)) => ValueScale::Auto,
            Some(("unit", _)) => ValueScale::Unit,
            Some(("byte", _)) => ValueScale::Byte,
            Some((other, span)) => {
                self.problem(
                    span,
                    "data.scale",
                    format!("unknown scale `{other}`"),
                    Some("use auto, unit or byte".into()),
                );
                ValueScale::Auto
            }
        }
    }
}

/// The evaluated samples and, when `calibration_samples` is above 0, a disjoint calibration
/// split drawn first (so the evaluated samples never include it).
///
/// # Errors
/// [`EngineError::Data`] when the files cannot be read, [`EngineError::Calibration`] when the
/// data set is too small to split.
pub fn load_data(
    plan: &DataPlan,
    calibration_samples: usize,
    seed: Seed,
) -> Result<(Dataset, Option<Dataset>), EngineError> {
    let data = match &plan.source {
        DataSource::FashionMnist { test_split } => {
            let split = if *test_split {
                stressor_data::fashion_mnist::Split::Test
            } else {
                stressor_data::fashion_mnist::Split::Train
            };
            stressor_data::fashion_mnist::load(split, None)?
        }
        DataSource::Idx { images, labels, class_names } => {
            let name = images
                .file_name()
                .map_or_else(|| "idx".to_string(), |n| n.to_string_lossy().into_owned());
            stressor_data::load_idx_files(images, labels, class_names.clone(), &name)?
        }
        DataSource::Cifar10Samples => stressor_data::cifar10_samples()?,
        DataSource::Cifar10 { files, class_names } => {
            stressor_data::load_cifar10_binary(files, class_names.clone(), None)?
        }
        DataSource::Npy { images, labels, layout, scale, class_names } => {
            let data = stressor_data::load_npy(
                images,
                labels,
                data_layout(*layout),
                data_scale(*scale),
                None,
            )?;
            with_class_names(data, class_names.as_ref())?
        }
        DataSource::Npz { path, images_key, labels_key, layout, scale, class_names } => {
            let data = stressor_data::load_npz(
                path,
                images_key,
                labels_key,
                data_layout(*layout),
                data_scale(*scale),
                None,
            )?;
            with_class_names(data, class_names.as_ref())?
        }
        DataSource::Folder { path, channels, size } => {
            stressor_data::load_image_folder(path, *channels, *size, None)?
        }
        DataSource::Csv { path, label_column, shape, scale, header } => {
            use stressor_data::csv::{Header, LabelColumn};
            let label_column = match label_column.as_str() {
                "first" => LabelColumn::First,
                "last" => LabelColumn::Last,
                name => LabelColumn::Named(name.to_string()),
            };
            let header = match header {
                Some(true) => Header::Present,
                Some(false) => Header::Absent,
                None => Header::Auto,
            };
            stressor_data::load_csv(
                path,
                label_column,
                shape.clone(),
                data_scale(*scale),
                header,
                None,
            )?
        }
    };
    let n_eval = plan.samples.unwrap_or(data.len()).min(data.len());
    let n_calibration = calibration_samples;
    if n_calibration == 0 {
        let eval = stressor_data::sample(&data, n_eval, seed.derive("data/sample"));
        return Ok((eval, None));
    }
    // The calibration split comes out of the data set first, so the evaluated samples never
    // include it; when the data set is too small for both, the evaluated samples shrink.
    if data.len() < 2 {
        return Err(EngineError::Calibration {
            reason: format!(
                "data set `{}` has {} sample(s): too few to split off a calibration set \
                 (set `calibration.samples = 0` to run without one)",
                data.name,
                data.len()
            ),
        });
    }
    let n_calibration = n_calibration.min(data.len() / 2);
    let calibration_indices =
        stressor_data::sample_indices(&data, n_calibration, seed.derive("data/calibration"));
    let mut is_calibration = vec![false; data.len()];
    for &i in &calibration_indices {
        is_calibration[i] = true;
    }
    let rest: Vec<usize> = (0..data.len()).filter(|&i| !is_calibration[i]).collect();
    let calibration = data.select(&calibration_indices);
    let rest = data.select(&rest);
    let eval = stressor_data::sample(&rest, n_eval.min(rest.len()), seed.derive("data/sample"));
    Ok((eval, Some(calibration)))
}

fn data_layout(layout: ArrayLayout) -> stressor_data::Layout {
    match layout {
        ArrayLayout::Nchw => stressor_data::Layout::Nchw,
        ArrayLayout::Nhwc => stressor_data::Layout::Nhwc,
    }
}

fn data_scale(scale: ValueScale) -> stressor_data::Scale {
    match scale {
        ValueScale::Auto => stressor_data::Scale::Auto,
        ValueScale::Unit => stressor_data::Scale::Unit,
        ValueScale::Byte => stressor_data::Scale::Byte,
    }
}

/// `data` with the scenario's class names, when it gives any; they must cover every label.
fn with_class_names(
    mut data: Dataset,
    names: Option<&Vec<String>>,
) -> Result<Dataset, EngineError> {
    let Some(names) = names else { return Ok(data) };
    if let Some(max) = data.labels.iter().max()
        && *max as usize >= names.len()
    {
        return Err(EngineError::Mismatch {
            data: data.name.clone(),
            model: "the scenario".into(),
            reason: format!(
                "`data.class_names` names {} classes but the data has label {max}",
                names.len()
            ),
        });
    }
    data.class_names = names.clone();
    Ok(data)
}

/// For people (`stressor check`): `built-in Fashion-MNIST (test split), 500 samples`.
impl std::fmt::Display for DataPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let layout = |layout: &ArrayLayout| match layout {
            ArrayLayout::Nchw => "NCHW",
            ArrayLayout::Nhwc => "NHWC",
        };
        let scale = |scale: &ValueScale| match scale {
            ValueScale::Auto => "auto scale",
            ValueScale::Unit => "values in [0, 1]",
            ValueScale::Byte => "values in [0, 255]",
        };
        match &self.source {
            DataSource::FashionMnist { test_split } => write!(
                f,
                "built-in Fashion-MNIST ({} split)",
                if *test_split { "test" } else { "train" }
            )?,
            DataSource::Cifar10Samples => write!(f, "built-in CIFAR-10 samples (20 images)")?,
            DataSource::Idx { images, labels, .. } => {
                write!(f, "IDX {} and {}", images.display(), labels.display())?;
            }
            DataSource::Cifar10 { files, .. } => {
                let files: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
                write!(f, "CIFAR-10 binary {}", files.join(", "))?;
            }
            DataSource::Npy { images, labels, layout: l, scale: s, .. } => write!(
                f,
                "NPY {} and {} ({}, {})",
                images.display(),
                labels.display(),
                layout(l),
                scale(s)
            )?,
            DataSource::Npz { path, images_key, labels_key, layout: l, scale: s, .. } => write!(
                f,
                "NPZ {} (`{images_key}`, `{labels_key}`; {}, {})",
                path.display(),
                layout(l),
                scale(s)
            )?,
            DataSource::Folder { path, channels, size } => {
                write!(f, "image folder {} ({channels} channel(s)", path.display())?;
                if let Some((height, width)) = size {
                    write!(f, ", resized to {height}×{width}")?;
                }
                write!(f, ")")?;
            }
            DataSource::Csv { path, label_column, shape, scale: s, .. } => {
                write!(f, "CSV {} (label column {label_column}, {}", path.display(), scale(s))?;
                if let Some(shape) = shape {
                    write!(f, ", samples shaped {shape:?}")?;
                }
                write!(f, ")")?;
            }
        }
        match self.samples {
            Some(n) => write!(f, ", {n} samples"),
            None => write!(f, ", all samples"),
        }
    }
}
