//! Running one statement so that a failure says where it happened and leaves no half-written
//! output: [`run`].

use std::path::PathBuf;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::{collect, ExecutionPlan};
use datafusion::prelude::SessionContext;

/// The most input files a failure lists.
const MAX_LISTED: usize = 5;

/// Plans and runs one SQL statement on `ctx` and collects its output, as `ctx.sql(statement)`
/// then `collect()` would, with two differences when it fails:
/// - an error reading the input (Arrow, Parquet, object store, I/O) names the files the
///   query reads (DataFusion names the file only for errors found while inferring a schema; a
///   bad row further on says only `line 20002`);
/// - a `COPY ... TO` a local path that did not exist before the statement removes what it
///   wrote, so no partial output is left behind looking complete. (An output that existed
///   before is left as DataFusion leaves it.)
///
/// # Errors
/// Whatever planning or running the statement returns, with the context above.
pub async fn run(ctx: &SessionContext, statement: &str) -> Result<Vec<RecordBatch>> {
    let df = ctx.sql(statement).await?;
    let new_output = new_local_output(df.logical_plan());
    let task = Arc::new(df.task_ctx());
    let plan = df.create_physical_plan().await?;
    match collect(plan.clone(), task).await {
        Ok(batches) => Ok(batches),
        Err(error) => {
            if let Some(path) = new_output {
                let removed = if path.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
                if let Err(e) = removed.or_else(|e| match e.kind() {
                    std::io::ErrorKind::NotFound => Ok(()),
                    _ => Err(e),
                }) {
                    log::warn!("cannot remove the partial output {}: {e}", path.display());
                }
            }
            Err(name_inputs(error, plan.as_ref()))
        }
    }
}

/// The local path a `COPY ... TO` writes, when nothing is there yet.
fn new_local_output(plan: &LogicalPlan) -> Option<PathBuf> {
    let LogicalPlan::Copy(copy) = plan else {
        return None;
    };
    let url = copy.output_url.as_str();
    let path = match url.strip_prefix("file://") {
        Some(path) => path,
        None if url.contains("://") => return None,
        None => url,
    };
    let path = PathBuf::from(path);
    (!path.exists()).then_some(path)
}

/// `error` with the files `plan` reads, when it is an input error that names none of them.
fn name_inputs(error: DataFusionError, plan: &dyn ExecutionPlan) -> DataFusionError {
    let reading = matches!(
        error.find_root(),
        DataFusionError::ArrowError(..)
            | DataFusionError::ParquetError(..)
            | DataFusionError::ObjectStore(..)
            | DataFusionError::IoError(..)
    );
    if !reading {
        return error;
    }
    let mut files = Vec::new();
    input_files(plan, &mut files);
    let message = error.to_string();
    if files.is_empty() || files.iter().any(|f| message.contains(f.as_str())) {
        return error;
    }
    let listed = files.len().min(MAX_LISTED);
    let mut context = format!("while reading {}", files[..listed].join(", "));
    if files.len() > listed {
        context += &format!(" and {} more files", files.len() - listed);
    }
    DataFusionError::Context(context, Box::new(error))
}

/// The files every file scan in `plan` reads, each once, in plan order.
fn input_files(plan: &dyn ExecutionPlan, files: &mut Vec<String>) {
    if let Some(scan) = plan
        .downcast_ref::<DataSourceExec>()
        .and_then(|source| source.data_source().downcast_ref::<FileScanConfig>())
    {
        for group in &scan.file_groups {
            for file in group.files() {
                let name = file.object_meta.location.to_string();
                if !files.contains(&name) {
                    files.push(name);
                }
            }
        }
    }
    for child in plan.children() {
        input_files(child.as_ref(), files);
    }
}
