//! Joining the pieces of one flow.

/// How long pieces wait for each other.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JoinConfig {}

/// The pieces of flows not yet handed on.
#[derive(Default)]
pub struct Joiner {}
