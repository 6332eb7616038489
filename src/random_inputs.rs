//! Random-input tests of the readers of a stranger's model files: the pickle machine, the
//! safetensors reader and `config.json`. Each case must end in a value or an error within the
//! time limit, never a panic, a hang or an allocation past the budget. A bounded number of
//! cases a run (proptest's default 256, set by `PROPTEST_CASES`), seeded anew each run; the
//! fuzz targets in `fuzz/` run the same readers for as long as one likes.

use std::time::{Duration, Instant};

use proptest::prelude::*;

use crate::fuzzing;

/// Far more than any case takes: a hang or a runaway allocation shows as a failure.
const LIMIT: Duration = Duration::from_secs(1);

/// Bytes drawn mostly from the opcodes the machine knows, with their arguments, so that cases
/// get past the first byte.
fn pickle_bytes() -> impl Strategy<Value = Vec<u8>> {
    let fixed = prop::sample::select(vec![
        vec![0x80, 2],
        b"(".to_vec(),
        b")".to_vec(),
        b"]".to_vec(),
        b"}".to_vec(),
        b"N".to_vec(),
        b"t".to_vec(),
        vec![0x85],
        vec![0x86],
        vec![0x87],
        b"a".to_vec(),
        b"e".to_vec(),
        b"s".to_vec(),
        b"u".to_vec(),
        b"R".to_vec(),
        b"Q".to_vec(),
        b"b".to_vec(),
        vec![0x94],
        b"ccollections\nOrderedDict\n".to_vec(),
        b"ctorch._utils\n_rebuild_tensor_v2\n".to_vec(),
        b"ctorch\nFloatStorage\n".to_vec(),
    ]);
    let opcode = prop_oneof![
        4 => fixed,
        1 => any::<u8>().prop_map(|k| vec![b'q', k % 8]),
        1 => any::<u8>().prop_map(|k| vec![b'h', k % 8]),
        1 => any::<u8>().prop_map(|v| vec![b'K', v]),
        1 => "[a-z0-9]{0,6}".prop_map(|s| {
            let mut v = vec![0x8c, s.len() as u8];
            v.extend(s.bytes());
            v
        }),
        1 => any::<u8>().prop_map(|b| vec![b]),
    ];
    prop::collection::vec(opcode, 0..300).prop_map(|parts| {
        let mut bytes = parts.concat();
        bytes.push(b'.');
        bytes
    })
}

/// A safetensors header (8-byte length, then JSON) over some data, with random offsets,
/// shapes and dtypes, and sometimes a lying length.
fn safetensors_bytes() -> impl Strategy<Value = Vec<u8>> {
    let tensor = (
        prop_oneof![
            Just("F32"),
            Just("F16"),
            Just("I64"),
            Just("BOOL"),
            Just("X")
        ],
        prop::collection::vec(0u64..1 << 40, 0..4),
        0u64..1 << 62,
        0u64..1 << 62,
    );
    (
        prop::collection::vec(tensor, 0..4),
        0usize..256,
        any::<Option<u64>>(),
    )
        .prop_map(|(tensors, data, claimed)| {
            let entries: Vec<String> = tensors
                .iter()
                .enumerate()
                .map(|(i, (dtype, shape, start, end))| {
                    format!(
                        r#""t{i}":{{"dtype":"{dtype}","shape":{shape:?},"data_offsets":[{start},{end}]}}"#
                    )
                })
                .collect();
            let header = format!("{{{}}}", entries.join(","));
            let length = claimed.unwrap_or(header.len() as u64);
            let mut bytes = length.to_le_bytes().to_vec();
            bytes.extend(header.bytes());
            bytes.extend(std::iter::repeat_n(0u8, data));
            bytes
        })
}

/// A BERT-like `config.json` with random sizes (of any sign and magnitude) and ids.
fn config_bytes() -> impl Strategy<Value = Vec<u8>> {
    let size = prop_oneof![-3i64..4, 1i64..2048, any::<i64>()];
    (
        prop_oneof![
            Just("bert"),
            Just("roberta"),
            Just("distilbert"),
            Just("albert")
        ],
        prop::collection::vec(size, 8),
        1usize..4,
    )
        .prop_map(|(model_type, v, labels)| {
            let id2label: Vec<String> = (0..labels).map(|i| format!(r#""{i}":"l{i}""#)).collect();
            format!(
                r#"{{"model_type":"{model_type}","id2label":{{{}}},"vocab_size":{},
                "max_position_embeddings":{},"hidden_size":{},"num_attention_heads":{},
                "intermediate_size":{},"num_hidden_layers":{},"pad_token_id":{},
                "type_vocab_size":{},"dim":{},"n_heads":{},"hidden_dim":{},"n_layers":{}}}"#,
                id2label.join(","),
                v[0],
                v[1],
                v[2],
                v[3],
                v[4],
                v[5],
                v[6],
                v[7],
                v[2],
                v[3],
                v[4],
                v[5]
            )
            .into_bytes()
        })
}

/// Runs `read` and fails the case if it took past [`LIMIT`].
fn timed<T>(read: impl FnOnce() -> T) -> Result<T, TestCaseError> {
    let begun = Instant::now();
    let value = read();
    prop_assert!(begun.elapsed() < LIMIT, "took {:?}", begun.elapsed());
    Ok(value)
}

proptest! {
    #[test]
    fn the_pickle_machine_ends_on_any_opcodes(bytes in pickle_bytes()) {
        timed(|| fuzzing::pickle(&bytes))?.ok();
    }

    #[test]
    fn the_pickle_machine_ends_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        timed(|| fuzzing::pickle(&bytes))?.ok();
        timed(|| fuzzing::torch_archive(&bytes))?.ok();
    }

    #[test]
    fn the_safetensors_reader_ends_on_any_header(bytes in safetensors_bytes()) {
        if let Ok(count) = timed(|| fuzzing::safetensors(&bytes))? {
            // Whatever it accepts lies inside the file.
            prop_assert!(count <= 4);
        }
    }

    #[test]
    fn the_config_reader_ends_on_any_sizes(bytes in config_bytes()) {
        if let Ok(labels) = timed(|| fuzzing::config(&bytes))? {
            prop_assert!(!labels.is_empty());
        }
    }
}
