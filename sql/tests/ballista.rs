//! The emotion functions on Apache DataFusion Ballista (feature `ballista`): in process
//! (standalone), on a real loopback cluster of `emotion-scheduler` and two `emotion-executor`
//! processes, and with an executor killed while a query runs.
#![cfg(feature = "ballista")]

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ballista::prelude::{SessionConfigExt, SessionContextExt};
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use emotion_classifier::EmotionClassifier;
use emotion_classifier_sql::{ballista as cluster, EmotionFunctions};
use support::sql_table;

/// The SQL layer and the cluster are under test, not the model: the tiny RoBERTa.
const MODEL: &str = "tiny-roberta-emotion";

fn reference() -> EmotionClassifier {
    support::uncached_classifier(MODEL)
}

async fn register_table(ctx: &SessionContext, dir: &Path) {
    ctx.register_parquet("t", dir.to_str().unwrap(), ParquetReadOptions::default())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_cluster_scores_equal_classify_batch() {
    let rows = sql_table::rows();
    let dir = tempfile::tempdir().unwrap();
    sql_table::write_parquet(dir.path(), &rows, 4);
    let functions = EmotionFunctions::new(Arc::new(
        EmotionClassifier::builder()
            .model(support::model_dir(MODEL))
            .build()
            .unwrap(),
    ));
    let config = SessionConfig::new_with_ballista().with_target_partitions(4);
    let ctx = cluster::standalone(config, &functions).await.unwrap();
    register_table(&ctx, dir.path()).await;
    let batches = ctx
        .sql(sql_table::QUERY)
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    sql_table::check_scores(&batches, &rows, &reference());
    // The in-process executor ran these very functions: three per row.
    assert_eq!(functions.stats().rows, 3 * rows.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduler_without_the_functions_fails_with_an_explained_error() {
    // Ballista's own standalone cluster, built without the functions; only the client has them.
    let ctx = SessionContext::standalone().await.unwrap();
    emotion_classifier_sql::register(&ctx, &client_functions());
    let error = match ctx
        .sql("SELECT emotion_top(column1) FROM (VALUES ('so glad'))")
        .await
    {
        Err(e) => e,
        Ok(df) => df
            .collect()
            .await
            .expect_err("the scheduler cannot plan it"),
    };
    let raw = error.to_string();
    assert!(
        raw.contains("LogicalExtensionCodec is not provided for scalar function emotion_top"),
        "{raw}"
    );
    let explained = cluster::explain(error).to_string();
    assert!(explained.contains("run `emotion-scheduler`"), "{explained}");
}

/// A port free on 127.0.0.1 a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// One cluster at a time: two on 2 cores would starve each other's heartbeats.
static ONE_CLUSTER: Mutex<()> = Mutex::new(());

/// A scheduler and executors on 127.0.0.1, each process's output in a log file; every process
/// is killed when this is dropped, whatever happened.
struct Cluster {
    _turn: MutexGuard<'static, ()>,
    logs: tempfile::TempDir,
    scheduler_port: u16,
    executors: Vec<Executor>,
    scheduler: Child,
}

struct Executor {
    child: Child,
    log: PathBuf,
    health_port: u16,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in self
            .executors
            .iter_mut()
            .map(|e| &mut e.child)
            .chain([&mut self.scheduler])
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn spawn(program: &str, args: &[String], log: &Path) -> Child {
    let out = std::fs::File::create(log).unwrap();
    Command::new(program)
        .args(args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"))
}

impl Cluster {
    /// Starts a scheduler and `executors` executors with one task slot each, and waits until
    /// every executor has registered. `cache` is each executor's result cache capacity.
    fn start(executors: usize, cache: usize) -> Self {
        let turn = ONE_CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
        let logs = tempfile::tempdir().unwrap();
        let model = support::model_dir(MODEL).display().to_string();
        let scheduler_port = free_port();
        let scheduler = spawn(
            env!("CARGO_BIN_EXE_emotion-scheduler"),
            &[
                "--bind-host=127.0.0.1".into(),
                "--external-host=127.0.0.1".into(),
                format!("--bind-port={scheduler_port}"),
                "--executor-timeout-seconds=6".into(),
                "--expire-dead-executor-interval-seconds=1".into(),
                format!("--model={model}"),
            ],
            &logs.path().join("scheduler.log"),
        );
        let mut cluster = Self {
            _turn: turn,
            scheduler_port,
            executors: Vec::new(),
            scheduler,
            logs,
        };
        cluster.wait_for("the scheduler's port", || {
            TcpStream::connect(("127.0.0.1", scheduler_port)).is_ok()
        });
        for n in 0..executors {
            let log = cluster.logs.path().join(format!("executor-{n}.log"));
            let work = cluster.logs.path().join(format!("work-{n}"));
            std::fs::create_dir_all(&work).unwrap();
            let health_port = free_port();
            let child = spawn(
                env!("CARGO_BIN_EXE_emotion-executor"),
                &[
                    "--bind-host=127.0.0.1".into(),
                    "--external-host=127.0.0.1".into(),
                    format!("--scheduler-port={scheduler_port}"),
                    "--scheduler-host=127.0.0.1".into(),
                    format!("--bind-port={}", free_port()),
                    format!("--bind-grpc-port={}", free_port()),
                    format!("--bind-health-port={health_port}"),
                    format!("--id=executor-{n}"),
                    format!("--work-dir={}", work.display()),
                    "--vcores=1".into(),
                    "--executor-heartbeat-interval-seconds=1".into(),
                    "--report-seconds=1".into(),
                    format!("--cache-capacity={cache}"),
                    format!("--model={model}"),
                ],
                &log,
            );
            cluster.executors.push(Executor {
                child,
                log,
                health_port,
            });
        }
        for n in 0..executors {
            let port = cluster.executors[n].health_port;
            cluster.wait_for(&format!("executor {n} to register"), || {
                http_status(port, "/readyz") == Some(200)
            });
        }
        cluster
    }

    /// Polls `ready` for up to a minute; on timeout, panics with every log.
    fn wait_for(&mut self, what: &str, mut ready: impl FnMut() -> bool) {
        let started = Instant::now();
        while !ready() {
            let exited = self.scheduler.try_wait().ok().flatten().is_some()
                || self
                    .executors
                    .iter_mut()
                    .any(|e| e.child.try_wait().ok().flatten().is_some());
            if exited || started.elapsed() > Duration::from_secs(60) {
                panic!("waiting for {what}: gave up\n{}", self.all_logs());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn all_logs(&self) -> String {
        let mut text = String::new();
        let mut paths = vec![self.logs.path().join("scheduler.log")];
        paths.extend(self.executors.iter().map(|e| e.log.clone()));
        for path in paths {
            let log = std::fs::read_to_string(&path).unwrap_or_default();
            text += &format!("--- {} ---\n{log}\n", path.display());
        }
        text
    }

    async fn client(&self, functions: &EmotionFunctions) -> SessionContext {
        let url = format!("df://127.0.0.1:{}", self.scheduler_port);
        let config = SessionConfig::new_with_ballista().with_target_partitions(4);
        cluster::remote(&url, config, functions).await.unwrap()
    }
}

/// The status of `GET path` on 127.0.0.1:`port`, if it answers.
fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split_whitespace().nth(1)?.parse().ok()
}

/// The last row count an executor logged (`emotion functions: N rows scored`), 0 if none.
fn rows_scored(log: &Path) -> u64 {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .rev()
        .find_map(|line| {
            let (_, rest) = line.split_once("emotion functions: ")?;
            rest.split_once(" rows scored")?.0.parse().ok()
        })
        .unwrap_or(0)
}

/// The client's functions: lazy, so the client reads only the labels and never loads the
/// model (the executors do).
fn client_functions() -> EmotionFunctions {
    EmotionFunctions::lazy(EmotionClassifier::builder().model(support::model_dir(MODEL))).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_cluster_scores_equal_classify_batch_and_both_executors_work() {
    let rows = sql_table::rows();
    let dir = tempfile::tempdir().unwrap();
    sql_table::write_parquet(dir.path(), &rows, 4);
    let cluster = Cluster::start(2, 100_000);
    let functions = client_functions();
    let ctx = cluster.client(&functions).await;
    register_table(&ctx, dir.path()).await;
    let batches = match ctx.sql(sql_table::QUERY).await.unwrap().collect().await {
        Ok(batches) => batches,
        Err(e) => panic!("{}\n{}", cluster::explain(e), cluster.all_logs()),
    };
    sql_table::check_scores(&batches, &rows, &reference());
    assert!(!functions.is_loaded(), "the client never loads the model");

    // Each executor logs its count within a second of scoring; together, three per row.
    let expected = 3 * rows.len() as u64;
    let started = Instant::now();
    let counts = loop {
        let counts: Vec<u64> = cluster
            .executors
            .iter()
            .map(|e| rows_scored(&e.log))
            .collect();
        if counts.iter().sum::<u64>() == expected || started.elapsed() > Duration::from_secs(10) {
            break counts;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        counts.iter().sum::<u64>(),
        expected,
        "{counts:?}\n{}",
        cluster.all_logs()
    );
    assert!(
        counts.iter().all(|&n| n > 0),
        "both executors scored rows: {counts:?}"
    );
}

/// The Ekman table eight times over with distinct ids, in 8 files: long enough (about
/// 130,000 texts with the cache off) to kill an executor while the query runs.
fn big_rows() -> Vec<(i64, Option<String>)> {
    let base = sql_table::rows();
    let n = base.len() as i64;
    (0..8)
        .flat_map(|k| base.iter().map(move |(id, t)| (id + k * n, t.clone())))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_an_executor_mid_query_loses_no_row_and_repeats_none() {
    let rows = big_rows();
    let dir = tempfile::tempdir().unwrap();
    sql_table::write_parquet(dir.path(), &rows, 8);
    let mut cluster = Cluster::start(2, 0);
    let functions = client_functions();
    let ctx = cluster.client(&functions).await;
    register_table(&ctx, dir.path()).await;
    let query = tokio::spawn(async move { ctx.sql(sql_table::QUERY).await?.collect().await });

    let victim = cluster.executors[1].log.clone();
    cluster.wait_for("executor 1 to score rows", || rows_scored(&victim) > 0);
    cluster.executors[1].child.kill().unwrap();
    let killed_at = rows_scored(&victim);

    let outcome = tokio::time::timeout(Duration::from_secs(240), query)
        .await
        .unwrap_or_else(|_| panic!("no answer 240 s after the kill\n{}", cluster.all_logs()))
        .unwrap();
    let batches = match outcome {
        Ok(batches) => batches,
        Err(e) => panic!(
            "executor killed after {killed_at} rows: {}\n{}",
            cluster::explain(e),
            cluster.all_logs()
        ),
    };
    sql_table::check_scores(&batches, &rows, &reference());
    // Ballista 55 completes the query: the scheduler drops the executor when its heartbeats
    // stop (6 s here) and runs its unfinished task again on the survivor.
    let survivor = rows_scored(&cluster.executors[0].log);
    eprintln!("executor 1 killed after {killed_at} rows; executor 0 scored {survivor}");
    assert!(survivor > 0);
}
