//! Named counters: every limit that triggers and every input that is dropped moves one of these.
//!
//! Each stage declares its own with [`counters!`](crate::counters) (`decode::Counters`,
//! `flow::Counters`, `proto::Counters`); the pipeline composes them (`pipeline::Counters`) under
//! the same names. A worker's counters are plain integers, no atomics on the per-packet path;
//! the pipeline merges them when a run ends. The names are stable: they are printed at the end
//! of a replay, and the daemon exports them on its metrics port (`lantern_<name>_total`, see
//! `cli/metrics.rs`) and logs the main ones in its status line. A leaf: this macro is all there
//! is here.

/// Declares a struct of named counters, each with its help text, that can be merged and listed
/// in declaration order:
///
/// ```
/// lantern::counters! {
///     /// What one stage counts.
///     pub struct Counters {
///         packets: "packets read",
///         dropped: "packets dropped",
///     }
/// }
/// let mut a = Counters { packets: 2, ..Counters::default() };
/// a.merge(&Counters { dropped: 1, ..Counters::default() });
/// assert_eq!(a.iter().map(|c| (c.0, c.1)).collect::<Vec<_>>(), [("packets", 2), ("dropped", 1)]);
/// ```
#[macro_export]
macro_rules! counters {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $($field:ident: $help:literal,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        $vis struct $name {
            $(#[doc = $help] pub $field: u64,)*
        }

        impl $name {
            /// Adds every counter of `other` to `self`.
            pub fn merge(&mut self, other: &$name) {
                $(self.$field += other.$field;)*
            }

            /// Every counter as `(name, value, help)`, in declaration order.
            pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64, &'static str)> {
                [$((stringify!($field), self.$field, $help),)*].into_iter()
            }
        }
    };
}
