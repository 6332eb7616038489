//! Configuring and building an [`EmotionClassifier`].

use std::time::Duration;

use crate::batch::BatchLimits;
use crate::config::ScoreFunction;
use crate::device::Device;
use crate::error::{Error, Result};
use crate::long_texts::{LongTexts, TruncationSide};
use crate::precision::Precision;
use crate::scores::Thresholds;
use crate::source::ModelSource;
use crate::worker::Batching;

use super::EmotionClassifier;

/// The most workers [`EmotionClassifierBuilder::workers`] accepts.
const MAX_WORKERS: usize = 256;

/// The workers a classifier gets without [`EmotionClassifierBuilder::workers`], for `threads`
/// intra-op threads: two when there are two threads to share, else one.
fn default_workers(threads: i32) -> usize {
    if threads >= 2 {
        2
    } else {
        1
    }
}

/// The result cache's default size, in texts.
pub const DEFAULT_CACHE_CAPACITY: usize = 10_000;

/// The result cache's default bound on memory: 64 MiB, texts and scores together.
pub const DEFAULT_CACHE_BYTES: usize = 64 << 20;

/// Builds an [`EmotionClassifier`]; options are checked in [`build`](Self::build).
///
/// ```no_run
/// use emotion_classifier::{EmotionClassifier, ModelSource, Precision};
/// let classifier = EmotionClassifier::builder()
///     .model(ModelSource::dir("models/emotion-minilm-ekman"))
///     .max_batch_size(32)
///     .cache_capacity(50_000)
///     .precision(Precision::F32)
///     .build()?;
/// # Ok::<(), emotion_classifier::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct EmotionClassifierBuilder {
    source: Option<ModelSource>,
    max_batch_size: Option<usize>,
    max_batch_tokens: Option<usize>,
    threads: Option<usize>,
    workers: Option<usize>,
    cache_capacity: Option<usize>,
    cache_bytes: Option<usize>,
    dynamic_batching: Option<bool>,
    max_wait: Option<Duration>,
    precision: Precision,
    tune_malloc: bool,
    pack_weights: Option<bool>,
    small_passes: Option<bool>,
    max_queued: Option<usize>,
    long_texts: LongTexts,
    truncation_side: TruncationSide,
    score_function: Option<ScoreFunction>,
    thresholds: Option<Thresholds>,
    device: Device,
}

/// Checked options, as the classifier uses them.
pub(super) struct Settings {
    pub(super) source: ModelSource,
    pub(super) batching: Batching,
    pub(super) cache_capacity: usize,
    pub(super) cache_bytes: usize,
    pub(super) precision: Precision,
    pub(super) long_texts: LongTexts,
    pub(super) truncation_side: TruncationSide,
    pub(super) score_function: Option<ScoreFunction>,
    pub(super) thresholds: Option<Thresholds>,
    pub(super) device: Device,
    pub(super) pack_weights: bool,
    pub(super) small_passes: bool,
    pub(super) workers: usize,
    /// The most texts waiting in the workers' queue.
    pub(super) max_queued: usize,
    /// Intra-op threads for the whole pool: a lone pass uses them all, overlapping ones share.
    pub(super) threads: i32,
}

impl EmotionClassifierBuilder {
    /// Starts with no model and default options.
    pub fn new() -> Self {
        Self::default()
    }

    /// The model to load: a folder or a hub model. Without one, [`build`](Self::build) uses
    /// [`ModelSource::from_env`]: `EMOTION_MODEL`, else the hub model
    /// [`DEFAULT_HUB_MODEL`](crate::DEFAULT_HUB_MODEL).
    pub fn model(mut self, source: impl Into<ModelSource>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The model chosen with [`model`](Self::model), if any: what a caller that reads the
    /// model's files before building (the SQL functions read its labels) looks at.
    pub fn source(&self) -> Option<&ModelSource> {
        self.source.as_ref()
    }

    /// The most texts in one forward pass (default 64).
    pub fn max_batch_size(mut self, size: usize) -> Self {
        self.max_batch_size = Some(size);
        self
    }

    /// The most padded tokens (texts x longest text) in one forward pass (default 8,192). A
    /// single text longer than this still runs, alone.
    pub fn max_batch_tokens(mut self, tokens: usize) -> Self {
        self.max_batch_tokens = Some(tokens);
        self
    }

    /// libtorch intra-op threads for this classifier's forward passes, all its workers together
    /// (default: libtorch's count when [`build`](Self::build) runs, which is the physical
    /// cores unless the program changed it). A pass that runs while no other worker is busy
    /// uses them all; passes that overlap share them (each at least one). Workers set the count
    /// on their own threads, so classifiers with different counts do not disturb each other.
    /// With the default packed f32 weights of a BERT-family model, a lone pass runs on its
    /// worker's thread plus helper threads that take column blocks of each product (one fewer
    /// than the threads, at most the cores, started with the classifier and parked between
    /// passes).
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads);
        self
    }

    /// How many worker threads run forward passes. Each takes jobs from one shared queue, and
    /// all share one set of weights (each extra worker adds only its activations).
    ///
    /// Default: 2 when there are at least two [`threads`](Self::threads), else 1. Two workers
    /// use two cores better than one worker with both on throughput work (many texts per call,
    /// or many callers): libtorch runs a small op (LayerNorm, softmax, GELU on a short batch) on
    /// one thread while the other waits, and two independent forward passes leave no core idle.
    /// Measured on MiniLM, 2 cores: 15-25% more texts/s in `classify_batch`, and the same
    /// single-text latency, since a pass that starts while no other worker is busy (a lone
    /// caller) takes all the threads.
    /// [`EmotionClassifier::workers`] tells how many a classifier got.
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = Some(workers);
        self
    }

    /// How many texts the result cache keeps (default 10,000); 0 turns it off. Each entry costs
    /// its text plus the scores (about 100 bytes for 7 labels), and the cache as a whole stays
    /// under [`cache_bytes`](Self::cache_bytes).
    pub fn cache_capacity(mut self, texts: usize) -> Self {
        self.cache_capacity = Some(texts);
        self
    }

    /// The most memory the result cache holds, texts and scores counted (default 64 MiB,
    /// [`DEFAULT_CACHE_BYTES`]); 0 turns the cache off. Both bounds hold at once: distinct long
    /// texts evict others instead of growing the process, and a text larger than the cache's
    /// share for it is not kept.
    pub fn cache_bytes(mut self, bytes: usize) -> Self {
        self.cache_bytes = Some(bytes);
        self
    }

    /// Whether concurrent requests share forward passes (default on). Off, each call to
    /// `classify` runs its own forward pass.
    pub fn dynamic_batching(mut self, on: bool) -> Self {
        self.dynamic_batching = Some(on);
        self
    }

    /// With dynamic batching, how long the worker may wait for more requests before it runs a
    /// batch that is not full (default 2 ms). It waits only while it has fewer requests than the
    /// last batch had, since those callers are likely to send again; a lone caller never waits.
    /// Zero runs at once with what is waiting (requests that arrive during a forward pass are
    /// still taken together by the next one).
    pub fn max_wait(mut self, wait: Duration) -> Self {
        self.max_wait = Some(wait);
        self
    }

    /// The precision of the forward pass (default [`Precision::F32`]): `Bf16` where the CPU
    /// has AVX512-BF16 or AMX, `Int8` (int8 layer matrices, fastest with AVX-512 VNNI) where
    /// scores may move by a few hundredths. Both run on the BERT-family architectures only;
    /// others refuse them with [`Error::InvalidOption`] at build.
    pub fn precision(mut self, precision: Precision) -> Self {
        self.precision = precision;
        self
    }

    /// How texts longer than the model's maximum input are handled (default
    /// [`LongTexts::Truncate`]; [`LongTexts::Reject`] fails them with [`Error::TooLong`];
    /// [`LongTexts::chunk`] classifies every window). A stride that leaves no room in a window
    /// is [`Error::InvalidOption`] at build.
    pub fn long_texts(mut self, long_texts: LongTexts) -> Self {
        self.long_texts = long_texts;
        self
    }

    /// Which end of a long text [`LongTexts::Truncate`] cuts (default
    /// [`TruncationSide::Right`]: the end, keeping the start, as transformers does).
    /// [`EmotionScores::truncated`](crate::EmotionScores::truncated) tells which results were
    /// cut.
    pub fn truncation_side(mut self, side: TruncationSide) -> Self {
        self.truncation_side = side;
        self
    }

    /// The function that turns the model's logits into scores, overriding the model's own
    /// (the pipeline's `function_to_apply`). By default the model's:
    /// [`ModelConfig::score_function`](crate::ModelConfig::score_function), which follows
    /// transformers (raw values for a regression, a sigmoid for a multi-label or one-label
    /// model, else a softmax). [`ScoreFunction::Raw`] gives the logits as scores; every
    /// result also carries them ([`EmotionScores::logits`](crate::EmotionScores::logits)).
    pub fn score_function(mut self, function: ScoreFunction) -> Self {
        self.score_function = Some(function);
        self
    }

    /// Per-label decision thresholds for
    /// [`EmotionScores::decided`](crate::EmotionScores::decided). Without this, the loader
    /// reads [`THRESHOLDS_FILE`](crate::THRESHOLDS_FILE) (`thresholds.json`) beside the model
    /// when there is one; labels without a threshold keep 0.5 (0.0 for raw values).
    ///
    /// Checked at [`build`](Self::build): a label the model does not have is
    /// [`Error::UnknownThresholdLabel`], a value outside `0..=1` for probabilities (or not
    /// finite) is [`Error::InvalidThreshold`].
    pub fn thresholds(mut self, thresholds: Thresholds) -> Self {
        self.thresholds = Some(thresholds);
        self
    }

    /// Where the model runs (default [`Device::Cpu`]). On CUDA it runs in f16; libtorch must
    /// be a CUDA build (the PyPI wheel is) and the machine must have a GPU.
    pub fn device(mut self, device: Device) -> Self {
        self.device = device;
        self
    }

    /// Tune glibc's malloc for libtorch (default `false`: a library leaves the host process's
    /// allocator alone unless asked).
    ///
    /// libtorch has no caching allocator on the CPU, so every forward pass mallocs and frees
    /// tens of MB of activations; glibc serves them with fresh `mmap`s and returns them to the
    /// kernel, so every pass page-faults again. Tuning raises glibc's mmap threshold to 32 MiB
    /// and keeps freed memory (trim threshold 1 GiB, top pad 256 MiB) so passes reuse warm
    /// pages: faster passes, and a process that keeps up to about 1 GiB of freed heap instead
    /// of returning it. It is **process-wide** and applied once, at [`build`](Self::build);
    /// the crate's examples, benches and command-line tool turn it on. The gain is measured in
    /// `BENCHMARKS.md`. The same settings without code:
    /// `MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824
    /// MALLOC_TOP_PAD_=268435456`. A no-op off glibc.
    pub fn tune_malloc(mut self, tune: bool) -> Self {
        self.tune_malloc = tune;
        self
    }

    /// The most texts that may wait in the workers' queue, not yet taken for a forward pass
    /// (default [`DEFAULT_MAX_QUEUED`](crate::DEFAULT_MAX_QUEUED), 4,096). Past it,
    /// `classify` and its kin wait for room (backpressure: a flood of callers slows down
    /// instead of piling up memory and latency), and the `try_` calls fail at once with
    /// [`Error::Overloaded`]. A single call with more texts than this still runs: its texts
    /// are fed in as room frees up (a job larger than the whole bound is let in when the queue
    /// is empty). Size it as the latency you accept times the texts/s the model does: at 400
    /// texts/s, 400 queued texts is about a second of waiting. 0 is [`Error::InvalidOption`].
    pub fn max_queued(mut self, texts: usize) -> Self {
        self.max_queued = Some(texts);
        self
    }

    /// Whether to pack weight matrices once, at load, for MKL's packed GEMM (default `true`).
    /// Applies to models in f32 on the CPU; bf16 and GPU models keep their weights as loaded.
    /// [`mkl_packed_gemm_available`](crate::mkl_packed_gemm_available) tells whether this
    /// libtorch can.
    ///
    /// Packing costs a few milliseconds per matrix at load and some memory (MKL's layout is
    /// larger: 55 MiB more resident for MiniLM-L6). It saves the re-packing MKL otherwise does
    /// on every call and, for a single text's few rows, MKL's slow unpacked kernel: single-text
    /// latency drops by a quarter on one thread. Scores agree with the plain path to about
    /// 1e-6. It needs MKL's `cblas_sgemm_pack` in libtorch (x86_64 builds have it); without it,
    /// weights stay plain whatever this says. `false` is the switch back to libtorch's `linear`.
    ///
    /// Packed, each matrix is cut into column blocks (one per core a lone pass runs on), and on
    /// CPUs with AVX-512 a second copy in the crate's own layout serves products of up to 32
    /// rows (a single text), where its kernel beats MKL's: in f16 when the checkpoint's values
    /// are all f16 (21 MB more for the f16 MiniLM-L6, products unchanged), else f32 (42 MB).
    /// [`Precision::Int8`](crate::Precision::Int8) quantizes the matrices instead, whatever this
    /// says.
    ///
    /// The cost of `false` for single texts: every product is libtorch's `linear` on MKL's
    /// unpacked kernel, and the pass neither takes the small path nor splits its products over
    /// the cores; it runs on libtorch's intra-op threads instead, and for one text's few rows a
    /// second thread makes each op slower (fork and join cost more than the split saves).
    /// MiniLM-L6, one text per call, 2 cores (Xeon, AVX-512): default 2.9 ms (p50); `false`
    /// 9.8-10.1 ms on 2 threads, 7.8 ms with [`threads(1)`](Self::threads). Sorted batches
    /// lose 3-5% (621-625 against 637-655 texts/s).
    pub fn pack_weights(mut self, pack: bool) -> Self {
        self.pack_weights = Some(pack);
        self
    }

    /// Whether passes of up to 64 tokens (a single text, or a few from concurrent callers) run
    /// through the layers on the crate's own row kernels (default `true`): attention per text
    /// over its own tokens (no padding), LayerNorm and GELU on f32 rows, split across the
    /// cores like the products, with no libtorch op between the embeddings and the head. On a
    /// single text libtorch's per-op dispatch costs more than these ops compute. It applies to
    /// the fused encoder (BERT, RoBERTa, XLM-RoBERTa, DistilBERT) with packed or int8 weights
    /// and GELU on the CPU; scores agree with the tensor path to about 1e-6. `false` keeps
    /// every pass on libtorch's ops.
    pub fn small_passes(mut self, small: bool) -> Self {
        self.small_passes = Some(small);
        self
    }

    /// Checks the options, loads the model and starts its worker thread.
    ///
    /// Loading reads and checks every file once; it costs about as much as reading the weights
    /// (well under a second for MiniLM).
    ///
    /// # Errors
    /// [`Error::InvalidOption`] for an option that cannot work, any error fetching a hub model,
    /// and any loading error (missing or invalid files, tensors, labels).
    pub fn build(self) -> Result<EmotionClassifier> {
        let defaults = Batching::default();
        let limits = BatchLimits::new(
            self.max_batch_size
                .unwrap_or(defaults.limits.max_batch_size()),
            self.max_batch_tokens
                .unwrap_or(defaults.limits.max_batch_tokens()),
        )?;
        let threads = match self.threads {
            Some(0) => {
                return Err(Error::InvalidOption {
                    option: "threads",
                    reason: "must be at least 1",
                })
            }
            Some(n) => i32::try_from(n).map_err(|_| Error::InvalidOption {
                option: "threads",
                reason: "too large",
            })?,
            None => tch::get_num_threads().max(1),
        };
        let workers = match self.workers {
            Some(0) => {
                return Err(Error::InvalidOption {
                    option: "workers",
                    reason: "must be at least 1",
                })
            }
            Some(n) if n > MAX_WORKERS => {
                return Err(Error::InvalidOption {
                    option: "workers",
                    reason: "more than 256",
                })
            }
            Some(n) => n,
            None => default_workers(threads),
        };
        let max_queued = match self.max_queued {
            Some(0) => {
                return Err(Error::InvalidOption {
                    option: "max_queued",
                    reason: "must be at least 1",
                })
            }
            Some(n) => n,
            None => crate::worker::DEFAULT_MAX_QUEUED,
        };
        let source = match self.source {
            Some(source) => source,
            None => ModelSource::from_env(),
        };
        if self.tune_malloc {
            crate::cpu::allocator::tune_glibc_malloc();
        }
        EmotionClassifier::load(Settings {
            source,
            batching: Batching {
                limits,
                dynamic: self.dynamic_batching.unwrap_or(defaults.dynamic),
                max_wait: self.max_wait.unwrap_or(defaults.max_wait),
            },
            cache_capacity: self.cache_capacity.unwrap_or(DEFAULT_CACHE_CAPACITY),
            cache_bytes: self.cache_bytes.unwrap_or(DEFAULT_CACHE_BYTES),
            precision: self.precision,
            long_texts: self.long_texts,
            truncation_side: self.truncation_side,
            score_function: self.score_function,
            thresholds: self.thresholds,
            device: self.device,
            pack_weights: self.pack_weights.unwrap_or(true),
            small_passes: self.small_passes.unwrap_or(true),
            workers,
            max_queued,
            threads,
        })
    }
}
