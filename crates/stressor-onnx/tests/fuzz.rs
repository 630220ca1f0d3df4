//! A user's ONNX file is outside input: the committed fixtures with bytes flipped, cut or
//! inserted load or fail with an `OnnxError`, and a model that loads predicts or fails, never
//! panics.

use std::path::PathBuf;

use proptest::prelude::*;
use stressor_core::Batch;
use stressor_model::Model as _;
use stressor_onnx::{InputSpec, OnnxModel};

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .expect("tests/fixtures")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "onnx"))
        // Keep the cases fast: the large torch blocks load for seconds.
        .filter(|path| std::fs::metadata(path).is_ok_and(|m| m.len() < 200_000))
        .map(|path| (path.display().to_string(), std::fs::read(&path).expect("readable")))
        .collect();
    out.sort();
    out
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, byte: u8 },
    Cut { at: usize },
    Insert { at: usize, bytes: Vec<u8> },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Flip { at, byte }),
        any::<usize>().prop_map(|at| Mutation::Cut { at }),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
    ]
}

fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    match mutation {
        Mutation::Flip { at, byte } => {
            let i = at % bytes.len();
            bytes[i] ^= byte | 1;
        }
        Mutation::Cut { at } => bytes.truncate(at % bytes.len()),
        Mutation::Insert { at, bytes: new } => {
            let i = at % bytes.len();
            bytes.splice(i..i, new.iter().copied());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn mutated_models_load_or_fail_with_an_error(
        which in any::<usize>(),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let fixtures = fixtures();
        let (name, original) = &fixtures[which % fixtures.len()];
        let mut bytes = original.clone();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        if let Ok(model) = OnnxModel::from_bytes(name, &bytes, InputSpec::default(), None) {
            let shape = model.info().input_shape.clone();
            let _ = model.predict(&Batch::zeros(2, &shape));
        }
    }
}
