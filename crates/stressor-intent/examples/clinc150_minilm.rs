//! The sentence-embedding classifier (all-MiniLM-L6-v2 + a softmax head) on CLINC150, measured
//! as `examples/clinc150.rs` measures the n-gram classifier: trains the head on the in-scope
//! training queries, prints the in-scope test accuracy and the out-of-scope recall with the
//! max-softmax (and centroid-distance) threshold chosen on the validation set (Larson et al.
//! 2019, "oos-threshold"), the training time and the encoding throughput.
//!
//! Usage (after `cargo xtask fetch-minilm`):
//! `cargo run --release -p stressor-intent --features minilm --example clinc150_minilm --
//! [--model DIR (target/minilm)] [--seed 0] [--epochs 10] [--l2 1e-5] [--learning-rate 2.0]
//! [--batch-size 32]`
//!
//! With `--embed FILE --out FILE [--repeat N]`, it only encodes FILE's lines (one sentence
//! each; N times, printing the fastest), writes the embeddings to `--out` as little-endian
//! `f32`s (one row per line, in order) and prints the throughput: the bench in `bench/minilm-vs-sentence-transformers` runs it that way. Threads:
//! candle's CPU kernels use `RAYON_NUM_THREADS` (all cores when unset).
#![expect(clippy::print_stdout, reason = "an example reports on stdout")]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use stressor_core::Seed;
use stressor_intent::minilm::{EmbeddingClassifier, HeadConfig, SentenceEncoder};
use stressor_intent::{Query, Reply, clinc150};

#[path = "common/protocol.rs"]
mod protocol;
use protocol::{Score, Scored, best_threshold, joint_accuracy};

struct Options {
    model: PathBuf,
    head: HeadConfig,
    seed: Seed,
    batch_size: usize,
    embed: Option<(PathBuf, PathBuf)>,
    repeat: u32,
}

fn main() -> Result<(), String> {
    let options = parse_options()?;
    let start = Instant::now();
    let encoder = SentenceEncoder::load(&options.model)
        .map_err(|err| format!("{err} (run `cargo xtask fetch-minilm` first)"))?
        .with_batch_size(options.batch_size);
    println!(
        "loaded {} ({}-d, {} layers, max {} tokens) in {:.2} s",
        options.model.display(),
        encoder.dim(),
        encoder.config().num_hidden_layers,
        encoder.max_tokens(),
        start.elapsed().as_secs_f64()
    );
    if let Some((input, output)) = &options.embed {
        return embed(&encoder, input, output, options.repeat);
    }
    let encoder = Arc::new(encoder);
    let corpus = clinc150().map_err(|err| err.to_string())?;
    let start = Instant::now();
    let model = EmbeddingClassifier::train(
        Arc::clone(&encoder),
        &corpus.train,
        &corpus.intents,
        &options.head,
        options.seed,
    )
    .map_err(|err| err.to_string())?;
    println!(
        "encoded {} in-scope training queries and trained the head ({} intents) in {:.2} s ({:?}, seed {})",
        corpus.train.len(),
        corpus.intents.len(),
        start.elapsed().as_secs_f64(),
        options.head,
        options.seed.value()
    );
    let (test, seconds) = score(&model, &corpus.test)?;
    println!(
        "encoded {} test queries in {seconds:.3} s ({:.0} sentences/s, batch size {})",
        test.len(),
        test.len() as f64 / seconds,
        options.batch_size
    );
    let (oos_test, _) = score(&model, &corpus.oos_test)?;
    let (val, _) = score(&model, &corpus.val)?;
    let (oos_val, _) = score(&model, &corpus.oos_val)?;
    println!("in-scope test accuracy (argmax, no threshold): {:.1} %", 100.0 * test.accuracy(None));
    for (name, score) in
        [("max softmax", Score::Confidence), ("centroid distance", Score::Distance)]
    {
        let threshold = best_threshold(&val, &oos_val, score);
        println!(
            "{name}: threshold {threshold:.4} (chosen on val, accuracy {:.1} % over 151 classes): \
             in-scope test accuracy {:.1} %, out-of-scope test recall {:.1} %",
            100.0 * joint_accuracy(&val, &oos_val, score, threshold),
            100.0 * test.accuracy(Some((score, threshold))),
            100.0 * oos_test.oos_recall(score, threshold),
        );
    }
    println!(
        "n-gram classifier (examples/clinc150.rs): 91.9 / 61.3; paper (Table 2, oos-threshold, \
         Full), in-scope accuracy / OOS recall: MLP 93.4 / 49.1, BERT 96.2 / 52.3"
    );
    Ok(())
}

/// Encodes `input`'s lines `repeat` times (after one untimed warm-up batch), writes the
/// embeddings to `output` and prints the fastest time.
fn embed(
    encoder: &SentenceEncoder,
    input: &PathBuf,
    output: &PathBuf,
    repeat: u32,
) -> Result<(), String> {
    let text =
        std::fs::read_to_string(input).map_err(|err| format!("{}: {err}", input.display()))?;
    let sentences: Vec<&str> = text.lines().collect();
    encoder.encode(&sentences[..sentences.len().min(32)]).map_err(|err| err.to_string())?;
    let mut times = Vec::new();
    let mut embeddings = Vec::new();
    for _ in 0..repeat.max(1) {
        let start = Instant::now();
        embeddings = encoder.encode(&sentences).map_err(|err| err.to_string())?;
        times.push(start.elapsed().as_secs_f64());
    }
    let bytes: Vec<u8> = embeddings.iter().flatten().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(output, bytes).map_err(|err| format!("{}: {err}", output.display()))?;
    let best = times.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "stressor: encoded {} sentences in {best:.3} s: {:.1} sentences/s (fastest of {times:.3?} s)",
        sentences.len(),
        sentences.len() as f64 / best
    );
    Ok(())
}

/// The replies to `queries` (from one batch of embeddings) as protocol rows, with the seconds
/// the encoding took.
fn score(model: &EmbeddingClassifier, queries: &[Query]) -> Result<(Scored, f64), String> {
    let texts: Vec<&str> = queries.iter().map(|query| query.text.as_str()).collect();
    let start = Instant::now();
    let embeddings = model.encoder().encode(&texts).map_err(|err| err.to_string())?;
    let seconds = start.elapsed().as_secs_f64();
    let replies = embeddings
        .iter()
        .map(|embedding| Reply::most_probable(model.scores_of_embedding(embedding)));
    Ok((Scored::from_replies(replies, queries), seconds))
}

fn parse_options() -> Result<Options, String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut options = Options {
        model: root.join("target/minilm"),
        head: HeadConfig::default(),
        seed: Seed::new(0),
        batch_size: stressor_intent::minilm::DEFAULT_BATCH_SIZE,
        embed: None,
        repeat: 1,
    };
    let mut embed_in = None;
    let mut embed_out = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let bad = || format!("bad value {value} for {flag}");
        match flag.as_str() {
            "--model" => options.model = PathBuf::from(&value),
            "--seed" => options.seed = Seed::new(value.parse().map_err(|_| bad())?),
            "--epochs" => options.head.epochs = value.parse().map_err(|_| bad())?,
            "--l2" => options.head.l2 = value.parse().map_err(|_| bad())?,
            "--learning-rate" => options.head.learning_rate = value.parse().map_err(|_| bad())?,
            "--batch-size" => options.batch_size = value.parse().map_err(|_| bad())?,
            "--embed" => embed_in = Some(PathBuf::from(&value)),
            "--out" => embed_out = Some(PathBuf::from(&value)),
            "--repeat" => options.repeat = value.parse().map_err(|_| bad())?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    options.embed = match (embed_in, embed_out) {
        (Some(input), Some(output)) => Some((input, output)),
        (None, None) => None,
        _ => return Err("--embed and --out go together".into()),
    };
    Ok(options)
}
