//! Adding a shared, not-AI or ECH public name to a load: a host name of two or more labels with
//! a reason, claimed so that no app may claim it too.

use super::super::{Shared, SharedKind};
use super::names::is_hostname;
use super::schema::SharedToml;
use super::{Builder, Declared, Invalid, Lines, Owner};
use std::path::Path;

impl Builder {
    /// Adds a name that is never an app's, of `kind`, claiming it.
    pub(super) fn add_shared(
        &mut self,
        entry: SharedToml,
        kind: SharedKind,
        file: &Path,
        lines: &Lines,
    ) -> Result<(), Invalid> {
        let offset = entry.domain.span().start;
        let domain = entry.domain.get_ref().to_ascii_lowercase();
        if !is_hostname(&domain) || !domain.contains('.') {
            return Err((
                offset,
                format!("{domain:?} is not a host name of two or more labels"),
            ));
        }
        if entry.reason.trim().is_empty() {
            return Err((offset, format!("{domain:?} needs a reason")));
        }
        let declared = Declared {
            owner: Owner::Shared,
            file: file.to_path_buf(),
            line: lines.of(offset),
        };
        self.claim(domain.clone(), declared, offset)?;
        self.shared.push(Shared {
            domain,
            reason: entry.reason,
            kind,
            origin: file.to_path_buf(),
        });
        Ok(())
    }
}
