//! Pending rows: what the next store write will hold, gathered as records go by. Evidence rows
//! are made here from output's views (a flow of an AI app or candidate, or one that carries
//! encrypted DNS; a lookup of an AI app's name or a candidate's), and the hourly rollups,
//! coverage and notices output gathered become their rows when the batch is taken. The store keeps names,
//! counters and evidence of AI use and of what hides it, and nothing else.

use super::{Batch, CoverageRow, DnsRow, FlowRow, HealthRow, NoticeRow, PseudonymRow, RollupRow};
use crate::output::notice::Notice;
use crate::output::{Coverage, CoverageKey, DnsView, FlowView, Rollup, RollupKey};

/// The evidence rows gathered since the last write.
#[derive(Debug, Default)]
pub struct Pending {
    flows: Vec<FlowRow>,
    dns: Vec<DnsRow>,
}

/// Whether a flow is kept as evidence: it is AI-related, or it carries encrypted DNS.
pub fn keeps_flow(view: &FlowView<'_>) -> bool {
    view.app.is_some() || view.candidate || view.encrypted_dns.is_some()
}

/// Whether a lookup is kept as evidence: it is of an AI app's name, or of a candidate.
pub fn keeps_lookup(view: &DnsView<'_>) -> bool {
    view.app.is_some() || view.candidate
}

impl Pending {
    /// Keeps a flow's row, if it is evidence.
    pub fn flow(&mut self, view: &FlowView<'_>) {
        if keeps_flow(view) {
            self.flows.push(FlowRow::from_source(view));
        }
    }

    /// Keeps a lookup's row, if it is evidence.
    pub fn dns(&mut self, view: &DnsView<'_>) {
        if keeps_lookup(view) {
            self.dns.push(DnsRow::from_source(view));
        }
    }

    /// Evidence rows waiting.
    pub fn len(&self) -> usize {
        self.flows.len() + self.dns.len()
    }

    /// Whether no evidence row is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The next write: the evidence gathered, the rollups, coverage and notices given, sealed
    /// pseudonyms and the sensor's state.
    pub fn batch(
        &mut self,
        rollups: &[(RollupKey, Rollup)],
        coverage: &[(CoverageKey, Coverage)],
        notices: &[Notice],
        pseudonyms: Vec<(String, Vec<u8>)>,
        health: Vec<HealthRow>,
    ) -> Batch {
        Batch {
            flows: std::mem::take(&mut self.flows),
            dns: std::mem::take(&mut self.dns),
            rollups: rollups
                .iter()
                .map(|(k, r)| RollupRow::from_source((k, r)))
                .collect(),
            coverage: coverage.iter().map(CoverageRow::from_source).collect(),
            pseudonyms: (pseudonyms.into_iter())
                .map(|(token, sealed)| PseudonymRow {
                    token,
                    sealed: sealed.into(),
                })
                .collect(),
            health,
            notices: notices.iter().map(NoticeRow::from_source).collect(),
        }
    }
}
