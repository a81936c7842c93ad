//! `lantern status`: each sensor's health as the store holds it (its latest write's
//! [`HealthRow`]), so that an operator, or a monitoring check run from cron, notices a sensor
//! that went silent, a spool that grows or drops that climb. Exits 1 when a sensor is silent.

use super::Failure;
use super::Format;
use super::store::StoreArgs;
use clap::Args;
use lantern::capture::Rfc3339;
use lantern::capture::Timestamp;
use lantern::output::new_table;
use lantern::store::{HealthRow, read};
use std::process::ExitCode;

/// Flags of `lantern status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// A sensor whose latest write is older than this many seconds is silent (a sensor
    /// writes every --flush-interval, 60 s by default).
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    silent_after: u64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// One sensor's line.
#[derive(Debug, serde::Serialize)]
struct Sensor<'a> {
    /// `ok` or `silent`.
    state: &'static str,
    /// Seconds since its latest write.
    seconds_since_write: i64,
    #[serde(flatten)]
    health: &'a HealthRow,
}

/// Runs `lantern status`.
pub fn run(args: StatusArgs) -> Result<ExitCode, Failure> {
    let store = args.store.open_for_reading()?;
    let rows = read::latest_health(store.read(&read::Health)?);
    let now_us = Timestamp::now().0.div_euclid(1000);
    let limit = i64::try_from(args.silent_after).unwrap_or(i64::MAX);
    let sensors: Vec<Sensor<'_>> = rows
        .iter()
        .map(|health| {
            let seconds_since_write = (now_us - health.ts_us).div_euclid(1_000_000);
            Sensor {
                state: if seconds_since_write > limit {
                    "silent"
                } else {
                    "ok"
                },
                seconds_since_write,
                health,
            }
        })
        .collect();
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&sensors).map_err(|e| Failure(e.to_string()))?
        ),
        Format::Table if sensors.is_empty() => {}
        Format::Table => println!("{}", table(&sensors)),
    }
    if sensors.is_empty() {
        eprintln!(
            "lantern: {}: no sensor has written here (replays do not count)",
            store.display()
        );
        return Ok(ExitCode::FAILURE);
    }
    let silent: Vec<&str> = (sensors.iter())
        .filter(|s| s.state == "silent")
        .map(|s| s.health.sensor.as_str())
        .collect();
    if silent.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "lantern: silent for over {} s: {}",
        args.silent_after,
        silent.join(", ")
    );
    Ok(ExitCode::FAILURE)
}

fn table(sensors: &[Sensor<'_>]) -> String {
    let mut table = new_table(&[
        "sensor",
        "state",
        "last write",
        "ago",
        "up since",
        "packets",
        "drops kernel/if/queue",
        "flows evicted",
        "spool batches (MiB), dropped",
        "backlog",
        "version",
    ]);
    let time = |us: i64| Rfc3339(Timestamp(us.saturating_mul(1000))).to_string();
    for s in sensors {
        let h = s.health;
        table.add_row(vec![
            h.sensor.clone(),
            s.state.to_string(),
            time(h.ts_us),
            format!("{} s", s.seconds_since_write),
            time(h.started_us),
            h.packets.to_string(),
            format!("{}/{}/{}", h.drops_kernel, h.drops_interface, h.drops_queue),
            h.flows_evicted.to_string(),
            format!(
                "{} ({:.1}), {}",
                h.spool_batches,
                h.spool_bytes as f64 / f64::from(1 << 20),
                h.spool_dropped_batches
            ),
            h.backlog_rows.to_string(),
            h.version.clone(),
        ]);
    }
    table.to_string()
}
