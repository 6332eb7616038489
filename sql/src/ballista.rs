//! The emotion functions on an Apache DataFusion Ballista cluster (feature `ballista`).
//!
//! Ballista's codecs send a function's name, not its code, so every process must know the
//! functions by name:
//! - the client: [`remote`] (or [`standalone`], a scheduler and an executor in this process)
//!   gives a `SessionContext` with them registered;
//! - the scheduler plans with them: [`session_builder`] goes into `SchedulerConfig`'s
//!   `override_session_builder`, as the `emotion-scheduler` binary does;
//! - each executor runs them: [`function_registry`] goes into `ExecutorProcessConfig`'s
//!   `override_function_registry`, as the `emotion-executor` binary does.
//!
//! Build the scheduler's and the executors' functions with [`EmotionFunctions::lazy`]: the
//! scheduler then reads only `config.json`, and each executor loads its model once, when its
//! first task needs it; all its tasks share that classifier.
//!
//! When a side lacks the functions, Ballista's own errors do not say so; [`explain`] adds what
//! to fix. The deployment guide is `docs/BALLISTA.md`.

use std::collections::HashMap;
use std::sync::Arc;

use ballista::extension::SessionContextExt;
use ballista_core::registry::BallistaFunctionRegistry;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::{SessionState, SessionStateBuilder};
use datafusion::prelude::{SessionConfig, SessionContext};

use super::{register, EmotionFunctions};

/// What a Ballista scheduler builds each session's state with (its `SessionBuilder`).
pub type SessionBuilder =
    Arc<dyn Fn(SessionConfig) -> Result<SessionState> + Send + Sync + 'static>;

/// Ballista's default functions plus the emotion functions, for an executor's
/// `ExecutorProcessConfig::override_function_registry`.
pub fn function_registry(functions: &EmotionFunctions) -> BallistaFunctionRegistry {
    let mut registry = BallistaFunctionRegistry::default();
    let ours: HashMap<_, _> = functions
        .udfs()
        .into_iter()
        .map(|udf| (udf.name().to_owned(), udf))
        .collect();
    registry.scalar_functions.extend(ours);
    registry
}

/// Ballista's default session state plus the emotion functions, for a scheduler's
/// `SchedulerConfig::override_session_builder`.
pub fn session_builder(functions: EmotionFunctions) -> SessionBuilder {
    session_builder_over(ballista_core::utils::default_session_builder, functions)
}

/// The state `base` builds plus the emotion functions: [`session_builder`] over another base,
/// such as `ballista_core::object_store::session_state_with_s3_support`.
pub fn session_builder_over(
    base: impl Fn(SessionConfig) -> Result<SessionState> + Send + Sync + 'static,
    functions: EmotionFunctions,
) -> SessionBuilder {
    Arc::new(move |config: SessionConfig| {
        let state = base(config)?;
        Ok(functions
            .add_to(SessionStateBuilder::new_from_existing(state))
            .build())
    })
}

/// A client session for the cluster whose scheduler is at `url` (`df://host:port`), with the
/// emotion functions registered.
///
/// `config` should come from `SessionConfig::new_with_ballista()` (Ballista's
/// `SessionConfigExt`), with any settings of yours. Queries name files by paths every
/// executor can read. Wrap a failed query's error with [`explain`].
///
/// # Errors
/// A malformed `url`. Connecting happens with the first query.
pub async fn remote(
    url: &str,
    config: SessionConfig,
    functions: &EmotionFunctions,
) -> Result<SessionContext> {
    let ctx = SessionContext::remote_with_state(url, client_state(config, functions)).await?;
    // Ballista's upgrade resets the state's scalar functions to the built-in ones.
    register(&ctx, functions);
    Ok(ctx)
}

/// A client session on a Ballista cluster inside this process (one scheduler, one executor,
/// `ballista.standalone.parallelism` task slots), with the emotion functions registered: the
/// same planning, serialization and task scheduling as a real cluster, without processes.
///
/// # Errors
/// The in-process scheduler or executor could not start.
pub async fn standalone(
    config: SessionConfig,
    functions: &EmotionFunctions,
) -> Result<SessionContext> {
    let ctx = SessionContext::standalone_with_state(client_state(config, functions)).await?;
    register(&ctx, functions);
    Ok(ctx)
}

fn client_state(config: SessionConfig, functions: &EmotionFunctions) -> SessionState {
    functions
        .add_to(
            SessionStateBuilder::new()
                .with_config(config)
                .with_default_features(),
        )
        .build()
}

/// `error` with what to fix when it is Ballista's way of saying a cluster process does not
/// know the emotion functions (the scheduler names the function; an executor only rejects the
/// task, and its log has the cause). Other errors come back unchanged.
pub fn explain(error: DataFusionError) -> DataFusionError {
    let message = error.to_string();
    let hint = if message.contains("LogicalExtensionCodec is not provided for scalar function")
        && message.contains("emotion")
    {
        "the Ballista scheduler does not know the emotion functions: run `emotion-scheduler` \
         (feature `ballista`) instead of the stock `ballista-scheduler`"
    } else if message.contains("task could not be prepared or was rejected by executor") {
        "an executor rejected a task; if the executors are the stock `ballista-executor`, they \
         do not know the emotion functions: run `emotion-executor` (feature `ballista`); \
         otherwise the cause is in that executor's log"
    } else {
        return error;
    };
    DataFusionError::Context(hint.to_owned(), Box::new(error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explain_says_which_process_lacks_the_functions_and_keeps_the_error() {
        // As the client receives them: the scheduler's planning error, the executor's rejection.
        let scheduler = DataFusionError::External(
            "Error planning job: This feature is not implemented: LogicalExtensionCodec is not \
             provided for scalar function emotion_top"
                .into(),
        );
        let explained = explain(scheduler);
        let DataFusionError::Context(hint, source) = &explained else {
            panic!("expected a hint, got {explained:?}");
        };
        assert!(hint.contains("run `emotion-scheduler`"), "{hint}");
        assert!(source.to_string().contains("scalar function emotion_top"));

        let executor = DataFusionError::Execution(
            "Job failed: task could not be prepared or was rejected by executor".into(),
        );
        let DataFusionError::Context(hint, _) = explain(executor) else {
            panic!("expected a hint");
        };
        assert!(hint.contains("run `emotion-executor`"), "{hint}");

        let other = explain(DataFusionError::Plan("no such table: t".into()));
        assert!(matches!(other, DataFusionError::Plan(m) if m == "no such table: t"));
    }
}
