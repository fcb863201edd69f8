//! Plain Kubernetes object logic, on `serde_json` values, shared by the sandbox cluster
//! (which applies patches and answers selectors as an API server) and the renderer
//! (which patches and selects objects as kustomize does):
//!
//! - [`json_patch`]: RFC 6902 JSON patch, with the API server's and kustomize's small
//!   differences as [`json_patch::Options`];
//! - [`merge_patch`]: RFC 7386 JSON merge patch;
//! - [`merge_keys`]: how a list field of the built-in kinds is merged by a strategic
//!   merge patch (its `patchStrategy` and `patchMergeKey`);
//! - [`selector`]: label selectors, in the syntax of `labels.Parse` and as
//!   `metav1.LabelSelector`.
//!
//! It depends on no other crate of the workspace, so that the sandbox stays independent
//! of slipway. These are written here rather than taken from a library: the crates that
//! implement JSON patch do not offer kustomize's variant, and none implements the
//! selectors or the merge-key table of the built-in kinds.

pub mod json_patch;
pub mod merge_keys;
pub mod merge_patch;
pub mod selector;

pub use merge_patch::merge_patch;
pub use selector::LabelSelector;
