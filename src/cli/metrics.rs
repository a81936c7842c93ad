//! How the daemon tells its operators how it is doing: a status line on stderr (the journal)
//! at an interval, and a Prometheus endpoint serving the latest [`LiveSnapshot`], whose port is
//! bound before the privilege drop and served by threads started after it.

use super::Failure;
use lantern::pipeline::Counters;
use lantern::pipeline::{LiveSnapshot, StoreTotals};
use lantern::store::ClickHouseStats;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc::{self, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The counters reported as parse errors, by protocol: the layers', the stream dissectors'
/// (from their registration), then those of the protocols recognised by port and of QUIC.
fn parse_errors(c: &Counters) -> Vec<(&'static str, u64)> {
    let (d, p) = (&c.decode, &c.proto);
    let layers = [
        ("link", d.link_malformed),
        ("decap", d.decap_malformed),
        ("ip", d.ip_malformed),
        ("l4", d.l4_malformed),
    ];
    let others = [
        ("quic", p.quic_gave_up),
        ("dns", p.dns_malformed),
        ("dhcp", p.dhcp_malformed),
        ("kerberos", p.kerberos_malformed),
    ];
    layers
        .into_iter()
        .chain(lantern::proto::stream_malformed(p))
        .chain(others)
        .collect()
}

/// The periodic status line.
pub struct StatusLog {
    every: Duration,
    quiet: bool,
    last: Instant,
    last_packets: u64,
}

impl StatusLog {
    pub fn new(every: Duration, quiet: bool) -> StatusLog {
        StatusLog {
            every,
            quiet,
            last: Instant::now(),
            last_packets: 0,
        }
    }

    /// Logs a status line if one is due.
    pub fn maybe_log(&mut self, snapshot: &LiveSnapshot) {
        if self.quiet || self.every.is_zero() || self.last.elapsed() < self.every {
            return;
        }
        let seconds = self.last.elapsed().as_secs_f64().max(0.001);
        self.last = Instant::now();
        let c = &snapshot.counters;
        let rate = (c.capture.packets.saturating_sub(self.last_packets)) as f64 / seconds;
        self.last_packets = c.capture.packets;
        eprintln!("{}", status_line(snapshot, rate));
    }

    /// The line logged when the daemon stops.
    pub fn final_line(&self, counters: &Counters, store: StoreTotals) {
        eprintln!(
            "lantern: stopped: {} packets, {} bytes, drops: kernel {} interface {} queue {}, flows evicted {}; store +{} flow rows, +{} DNS rows, {} rollups",
            counters.capture.packets,
            counters.capture.bytes,
            counters.capture.capture_kernel_drops,
            counters.capture.capture_interface_drops,
            counters.capture.capture_queue_drops,
            counters.flow.flows_evicted,
            store.flows,
            store.lookups,
            store.rollups
        );
    }
}

/// One status line.
fn status_line(s: &LiveSnapshot, rate: f64) -> String {
    let c = &s.counters;
    let ai: u64 = s.ai_flows_by_app.iter().map(|(_, n)| n).sum();
    let spool = s
        .clickhouse
        .map(|c| {
            format!(
                ", spool {} batches {} bytes, dropped {}",
                c.spool.batches, c.spool.bytes, c.spool.dropped_batches
            )
        })
        .unwrap_or_default();
    format!(
        "lantern: status: up {}s, {} packets ({rate:.0}/s), {} bytes, drops: kernel {} interface {} queue {}, flows open {} done {} evicted {}, AI flows {ai}, DNS lookups {}, store +{} flow rows +{} DNS rows, last write {} ms, backlog {}{spool}",
        s.uptime.as_secs(),
        c.capture.packets,
        c.capture.bytes,
        c.capture.capture_kernel_drops,
        c.capture.capture_interface_drops,
        c.capture.capture_queue_drops,
        s.open_flows,
        s.flows,
        c.flow.flows_evicted,
        s.lookups,
        s.store.flows,
        s.store.lookups,
        s.writes.last.as_millis(),
        s.backlog,
    )
}

/// The metrics port, bound but not yet served. It is bound while the daemon may still be root,
/// so any port can be given; serving starts threads that parse requests from the network, so it
/// waits until privileges are gone (each thread keeps the privileges it was started with).
pub struct MetricsPort {
    addr: SocketAddr,
    listener: TcpListener,
}

impl MetricsPort {
    /// Binds `addr`; starts no thread.
    pub fn bind(addr: SocketAddr) -> Result<MetricsPort, Failure> {
        let listener =
            TcpListener::bind(addr).map_err(|e| Failure(format!("--metrics {addr}: {e}")))?;
        Ok(MetricsPort { addr, listener })
    }

    /// Serves `/metrics` on the bound port from threads started here, all named `metrics`. Call
    /// it only after `privileges::drop`.
    pub fn serve(self) -> Result<Metrics, Failure> {
        let MetricsPort { addr, listener } = self;
        let fail = |e: &dyn std::fmt::Display| Failure(format!("--metrics {addr}: {e}"));
        let latest = Arc::new(Mutex::new(LiveSnapshot::default()));
        let mut registry = Registry::with_prefix("lantern");
        registry.register_collector(Box::new(Snapshot(Arc::clone(&latest))));
        let (started, outcome) = mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || serve_on(listener, &registry, &started))
            .map_err(|e| fail(&e))?;
        match outcome.recv() {
            Ok(Ok(())) => Ok(Metrics { latest }),
            Ok(Err(e)) => Err(fail(&e)),
            Err(e) => Err(fail(&e)),
        }
    }
}

/// The metrics thread: starts the server, says whether that worked, then answers.
fn serve_on(listener: TcpListener, registry: &Registry, started: &SyncSender<Result<(), String>>) {
    // tiny_http starts its own threads here (one accepting, a pool reading requests) without a
    // name; Linux gives a new thread its creator's name, so they show as `metrics` too.
    match tiny_http::Server::from_listener(listener, None) {
        Ok(server) => {
            let _ = started.send(Ok(()));
            answer(&server, registry);
        }
        Err(e) => {
            let _ = started.send(Err(e.to_string()));
        }
    }
}

/// The metrics endpoint being served: threads answering with the latest snapshot.
pub struct Metrics {
    latest: Arc<Mutex<LiveSnapshot>>,
}

impl Metrics {
    /// Makes `snapshot` the one served.
    pub fn update(&self, snapshot: &LiveSnapshot) {
        self.latest
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone_from(snapshot);
    }
}

fn answer(server: &tiny_http::Server, registry: &Registry) {
    for request in server.incoming_requests() {
        let response = if request.url() == "/metrics" || request.url() == "/" {
            let mut body = String::new();
            match prometheus_client::encoding::text::encode(&mut body, registry) {
                Ok(()) => tiny_http::Response::from_string(body).with_header(
                    tiny_http::Header::from_bytes(
                        &b"Content-Type"[..],
                        &b"application/openmetrics-text; version=1.0.0; charset=utf-8"[..],
                    )
                    .expect("a valid header"),
                ),
                Err(_) => tiny_http::Response::from_string("encoding failed").with_status_code(500),
            }
        } else {
            tiny_http::Response::from_string("not found; try /metrics\n").with_status_code(404)
        };
        let _ = request.respond(response);
    }
}

/// The snapshot as Prometheus metrics.
#[derive(Debug)]
struct Snapshot(Arc<Mutex<LiveSnapshot>>);

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        totals(&mut encoder, &s)?;
        losses(&mut encoder, &s)?;
        apps_and_interfaces(&mut encoder, &s)?;
        store(&mut encoder, &s)?;
        if let Some(c) = &s.clickhouse {
            clickhouse(&mut encoder, c)?;
        }
        Ok(())
    }
}

/// Every stage's counters, the uptime, and the flows and lookups so far.
fn totals(encoder: &mut DescriptorEncoder, s: &LiveSnapshot) -> std::fmt::Result {
    for (name, value, help) in s.counters.iter() {
        put(encoder, name, help, ConstCounter::new(value))?;
    }
    put(
        encoder,
        "uptime_seconds",
        "Seconds since the capture started",
        ConstGauge::new(s.uptime.as_secs() as i64),
    )?;
    put(
        encoder,
        "flows_open",
        "Flows open in the flow tables",
        ConstGauge::new(s.open_flows as i64),
    )?;
    put(
        encoder,
        "flows",
        "Flows ended and output",
        ConstCounter::new(s.flows),
    )?;
    put(
        encoder,
        "dns_lookups",
        "DNS lookups output",
        ConstCounter::new(s.lookups),
    )
}

/// What was dropped or evicted, and what could not be parsed, by where and by protocol.
fn losses(encoder: &mut DescriptorEncoder, s: &LiveSnapshot) -> std::fmt::Result {
    let drops = [
        ("kernel", s.counters.capture.capture_kernel_drops),
        ("interface", s.counters.capture.capture_interface_drops),
        ("queue", s.counters.capture.capture_queue_drops),
        ("flow_table", s.counters.flow.flows_evicted),
    ];
    labelled(
        encoder,
        "drops",
        "Packets dropped (kernel, interface, queue) and flows evicted (flow_table)",
        "where",
        drops.iter().map(|(k, v)| (k.to_string(), *v)),
    )?;
    labelled(
        encoder,
        "parse_errors",
        "Messages or streams that could not be parsed, by protocol",
        "protocol",
        parse_errors(&s.counters)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v)),
    )
}

/// AI flows by app, and the kernel's counts by interface.
fn apps_and_interfaces(encoder: &mut DescriptorEncoder, s: &LiveSnapshot) -> std::fmt::Result {
    labelled(
        encoder,
        "ai_flows",
        "Flows to catalogued AI apps, by app id",
        "app",
        s.ai_flows_by_app.iter().cloned(),
    )?;
    let packets = s.interfaces.iter().map(|(i, k)| (i.clone(), k.received));
    labelled(
        encoder,
        "interface_packets",
        "Packets the kernel's capture socket received, by interface (libpcap's ps_recv: on loopback it also counts the outgoing copies libpcap skips)",
        "interface",
        packets,
    )?;
    let dropped = s.interfaces.iter().map(|(i, k)| (i.clone(), k.dropped));
    labelled(
        encoder,
        "interface_kernel_drops",
        "Packets the kernel dropped because the ring buffer was full, by interface",
        "interface",
        dropped,
    )
}

/// The store's rows by table, its writes, and its backlog.
fn store(encoder: &mut DescriptorEncoder, s: &LiveSnapshot) -> std::fmt::Result {
    let rows = [
        ("flows", s.store.flows),
        ("dns", s.store.lookups),
        ("rollups", s.store.rollups),
    ];
    labelled(
        encoder,
        "store_rows",
        "Rows written to the store, by table",
        "table",
        rows.iter().map(|(k, v)| (k.to_string(), *v)),
    )?;
    put(
        encoder,
        "store_writes",
        "Store transactions written",
        ConstCounter::new(s.writes.writes),
    )?;
    put(
        encoder,
        "store_write_seconds",
        "Seconds spent writing to the store",
        ConstCounter::new(s.writes.total.as_secs_f64()),
    )?;
    put(
        encoder,
        "store_last_write_seconds",
        "Seconds the latest store write took",
        ConstGauge::new(s.writes.last.as_secs_f64()),
    )?;
    put(
        encoder,
        "store_write_waits",
        "Store writes that waited because the SQLite writing thread was behind",
        ConstCounter::new(s.writes.waits),
    )?;
    put(
        encoder,
        "store_backlog_rows",
        "Evidence rows waiting for the next store write",
        ConstGauge::new(s.backlog as i64),
    )
}

/// The ClickHouse sender's and spool's metrics.
fn clickhouse(encoder: &mut DescriptorEncoder, c: &ClickHouseStats) -> std::fmt::Result {
    let gauges = [
        (
            "clickhouse_spool_batches",
            "Batches waiting in the spool",
            c.spool.batches,
        ),
        (
            "clickhouse_spool_bytes",
            "Bytes waiting in the spool",
            c.spool.bytes,
        ),
    ];
    for (name, help, value) in gauges {
        put(encoder, name, help, ConstGauge::new(value as i64))?;
    }
    let counters = [
        (
            "clickhouse_spool_dropped_batches",
            "Batches dropped because the spool was over its bound",
            c.spool.dropped_batches,
        ),
        (
            "clickhouse_batches_sent",
            "Batches inserted into ClickHouse",
            c.batches_sent,
        ),
        (
            "clickhouse_rows_sent",
            "Rows inserted into ClickHouse",
            c.rows_sent,
        ),
        (
            "clickhouse_failures",
            "Attempts to send a batch that failed",
            c.failures,
        ),
    ];
    for (name, help, value) in counters {
        put(encoder, name, help, ConstCounter::new(value))?;
    }
    Ok(())
}

/// Encodes one unlabelled metric.
fn put(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    metric: impl EncodeMetric,
) -> Result<(), std::fmt::Error> {
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

fn labelled(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    label: &str,
    values: impl Iterator<Item = (String, u64)>,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(
        name,
        help,
        None,
        prometheus_client::metrics::MetricType::Counter,
    )?;
    for (value_label, value) in values {
        let labels = [(label, value_label.as_str())];
        ConstCounter::new(value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bound_port_serves_the_latest_snapshot_once_started() {
        use std::io::{Read, Write};
        let port = MetricsPort::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = port.listener.local_addr().unwrap();
        let metrics = port.serve().unwrap();
        let mut snapshot = LiveSnapshot::default();
        snapshot.counters.capture.packets = 42;
        metrics.update(&snapshot);
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
        assert!(
            response.lines().any(|l| l == "lantern_packets_total 42"),
            "{response}"
        );
    }

    #[test]
    fn a_snapshot_becomes_openmetrics_text() {
        let mut snapshot = LiveSnapshot::default();
        snapshot.counters.capture.packets = 7;
        snapshot.counters.capture.capture_queue_drops = 3;
        snapshot.counters.proto.kerberos_malformed = 2;
        snapshot.ai_flows_by_app = vec![("openai-chatgpt".into(), 5)];
        snapshot.backlog = 4;
        let mut registry = Registry::with_prefix("lantern");
        registry.register_collector(Box::new(Snapshot(Arc::new(Mutex::new(snapshot)))));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for line in [
            "lantern_packets_total 7",
            "lantern_capture_queue_drops_total 3",
            "lantern_drops_total{where=\"queue\"} 3",
            "lantern_parse_errors_total{protocol=\"kerberos\"} 2",
            "lantern_ai_flows_total{app=\"openai-chatgpt\"} 5",
            "lantern_store_backlog_rows 4",
            "# EOF",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in {text}");
        }
    }
}
