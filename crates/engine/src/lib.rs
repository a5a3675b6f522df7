//! # Figur Studio engine
//!
//! One Rust API over a durable job model. A caller **dispatches** a workflow with a typed
//! request; the engine checks it, and in one ledger transaction records the job, its `queued`
//! event and its credit debit — only then does `dispatch` return. The **scheduler** claims
//! waiting jobs oldest first, runs each workflow's named **stages** on worker threads (each stage
//! one durable event), and ends every job in exactly one terminal event: `succeeded` with its
//! artifacts (filed as a render or a catalog entry), or `failed` with an error code and a refund.
//! A cancel, a panic, a full disk or a crash ends the same way; a crash is recovered at the next
//! start. Waiters (long-polls, SSE, the desktop UI) are woken by a bus after each commit and
//! re-read the ledger from their cursor, so nothing they are owed can be missed.
//!
//! Layout: `domain` (the nouns of the /v1 contract), `ledger` (SQLite, one writer thread with
//! group commit), `store` (files by key), `scheduler` + `workflow` (the verbs), `render` (image
//! making without models), `engine` (the door every transport calls).

pub mod auth;
pub mod budget;
pub mod bus;
pub mod diffusion;
pub mod domain;
pub mod engine;
pub mod error;
pub mod failpoints;
pub mod failure;
pub mod files;
pub mod ids;
pub mod ledger;
mod metrics;
pub mod priority;
pub mod privacy;
pub mod realm;
pub mod scheduler;
pub mod settings;
pub mod signing;
pub mod store;
pub mod time;
pub mod upload;
pub mod vocabulary;
pub mod workflow;

pub use auth::{Caller, Capability, Mode};
pub use engine::{Engine, EngineConfig, JobFilter, OpenError, RenderFilter};
pub use error::{ApiError, ErrorCode, FieldError};
pub use failure::{FailureCode, JobError, JobFailure};
pub use ledger::uploads::LibraryQuery;
pub use ledger::LedgerLocation;
pub use store::{BucketUrl, StoreLocation};
pub use upload::MAX_UPLOAD_BYTES;
pub use workflow::{Operation, WorkflowRequest};
