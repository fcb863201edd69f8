//! The cluster side of slipway: everything between "the manifests rendered and
//! validated" and "a release is recorded".
//!
//! Start with [`status`]: it decides, from an object as the cluster returns it, whether a
//! rollout is done, still going, or has failed — the same conclusions `kubectl rollout
//! status` and kstatus-style readers draw. [`diagnose`] explains a failure from the pods
//! behind a workload, root cause first. [`order`] sorts objects into the order they are
//! applied.
//!
//! Everything here is pure: objects in, decisions out. The parts that talk to a cluster
//! build on these.

pub mod cluster;
pub mod diagnose;
pub mod engine;
pub mod fielddiff;
pub mod images;
pub mod lock;
pub mod order;
pub mod record;
pub mod status;
pub mod status_report;
pub mod track;
pub mod uninstall;

mod value;
