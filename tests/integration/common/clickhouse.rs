//! A real ClickHouse server for a test: Debian's `clickhouse-server` started as a plain process on
//! 127.0.0.1, with free ports and a data directory under the build folder, stopped and removed
//! on drop. Queries go over HTTP with `curl`, as an operator's would; `store` and `reader` open
//! it through the library.

use super::system::{can_run, free_port, wait_for, wait_until};
use lantern::store::{ClickHouseConfig, ClickHouseReader, ClickHouseStore, Store};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running (or stopped) server.
pub struct ClickHouse {
    dir: tempfile::TempDir,
    http_port: u16,
    child: Option<Child>,
    /// The network namespace it runs in, if not the test's own.
    netns: Option<String>,
}

impl ClickHouse {
    /// Starts a server, or `None` when none is installed outside CI.
    pub fn start() -> Option<ClickHouse> {
        if !can_run(&["clickhouse-server"]) {
            return None;
        }
        Some(ClickHouse::start_with(free_port(), free_port(), "", None))
    }

    /// Starts a server inside the network namespace `netns`, on its loopback.
    pub fn start_in(netns: &str) -> Option<ClickHouse> {
        if !can_run(&["clickhouse-server"]) {
            return None;
        }
        Some(ClickHouse::start_with(
            free_port(),
            free_port(),
            "",
            Some(netns.to_string()),
        ))
    }

    /// `program`, run in the server's namespace.
    fn command(&self, program: &str) -> Command {
        match &self.netns {
            None => Command::new(program),
            Some(ns) => {
                let mut cmd = Command::new("ip");
                cmd.args(["netns", "exec", ns, program]);
                cmd
            }
        }
    }

    /// Starts a server on these ports with `extra` added to its configuration.
    fn start_with(http_port: u16, tcp_port: u16, extra: &str, netns: Option<String>) -> ClickHouse {
        let dir = tempfile::Builder::new()
            .prefix("clickhouse-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("server directory");
        write_config(dir.path(), http_port, tcp_port, extra);
        let mut server = ClickHouse {
            dir,
            http_port,
            child: None,
            netns,
        };
        server.run();
        server
    }

    /// Starts the process and waits until `/ping` answers.
    fn run(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("stdout.log")).expect("log");
        let child = self
            .command("clickhouse-server")
            .arg(format!(
                "--config-file={}",
                self.dir.path().join("config.xml").display()
            ))
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start clickhouse-server");
        self.child = Some(child);
        wait_for(
            "answer from clickhouse-server",
            Duration::from_secs(60),
            || self.ping().then_some(()),
            || self.log(),
        );
    }

    fn ping(&self) -> bool {
        self.command("curl")
            .args(["-s", "--max-time", "1"])
            .arg(format!("http://127.0.0.1:{}/ping", self.http_port))
            .output()
            .is_ok_and(|o| o.stdout == b"Ok.\n")
    }

    /// The server's log, for failure messages.
    pub fn log(&self) -> String {
        ["stdout.log", "server.err.log"]
            .iter()
            .map(|f| std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// `clickhouse://127.0.0.1:PORT/DATABASE`.
    pub fn url(&self, database: &str) -> String {
        format!("clickhouse://127.0.0.1:{}/{database}", self.http_port)
    }

    /// The store `database` through the library, as sensor `sensor` writes it, its spool in
    /// `spool`.
    pub fn store(&self, database: &str, sensor: &str, spool: &Path) -> Store {
        let mut config = ClickHouseConfig::from_url(&self.url(database)).unwrap();
        config.spool_dir = spool.to_path_buf();
        Store::ClickHouse(Box::new(ClickHouseStore::open(config, sensor).unwrap()))
    }

    /// The store `database` through the library, to read.
    pub fn reader(&self, database: &str) -> Store {
        let config = ClickHouseConfig::from_url(&self.url(database)).unwrap();
        Store::ClickHouseReader(Box::new(ClickHouseReader::open(config).unwrap()))
    }

    /// Stops the server as an outage would: SIGKILL, no goodbye.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same ports and data.
    pub fn restart(&mut self) {
        self.kill();
        self.run();
    }

    /// Runs `sql` and returns the answer (TSV unless the query says otherwise).
    pub fn query(&self, sql: &str) -> String {
        let out = self
            .command("curl")
            .args(["-sS", "--fail-with-body", "--data-binary", sql])
            .arg(format!("http://127.0.0.1:{}/", self.http_port))
            .output()
            .expect("run curl");
        let body = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{sql}: {body}");
        body
    }

    /// The rows `sql` answers (TSV unless the query says otherwise), one line each, in the
    /// server's order: compare them with [`super::sqlite_rows`] after sorting both.
    pub fn rows(&self, sql: &str) -> Vec<String> {
        self.query(sql).lines().map(str::to_string).collect()
    }

    /// A number the query answers.
    pub fn count(&self, sql: &str) -> u64 {
        let answer = self.query(sql);
        answer
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{sql}: {answer}"))
    }

    /// The server's directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for ClickHouse {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The minimal configuration of ../shared/TESTING.md: loopback only, everything under `dir`.
fn write_config(dir: &Path, http_port: u16, tcp_port: u16, extra: &str) {
    let d = dir.display();
    let config = format!(
        "<yandex>
  <listen_host>127.0.0.1</listen_host>
  <http_port>{http_port}</http_port>
  <tcp_port>{tcp_port}</tcp_port>
  <path>{d}/data/</path>
  <tmp_path>{d}/tmp/</tmp_path>
  <user_files_path>{d}/user_files/</user_files_path>
  <format_schema_path>{d}/format_schemas/</format_schema_path>
  <logger><level>warning</level><log>{d}/server.log</log><errorlog>{d}/server.err.log</errorlog><console>0</console></logger>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>5368709120</mark_cache_size>
{extra}
</yandex>
"
    );
    let users = "<yandex>
  <profiles><default></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
";
    std::fs::write(dir.join("config.xml"), config).expect("config.xml");
    std::fs::write(dir.join("users.xml"), users).expect("users.xml");
}

/// ZooKeeper (Debian's `zookeeper`), standalone on a free port, for a cluster's replicated
/// tables and `ON CLUSTER` DDL.
pub struct ZooKeeper {
    _dir: tempfile::TempDir,
    port: u16,
    child: Child,
}

const ZOOKEEPER_JAR: &str = "/usr/share/java/zookeeper.jar";

impl ZooKeeper {
    fn start() -> ZooKeeper {
        let dir = tempfile::Builder::new()
            .prefix("zookeeper-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("zookeeper directory");
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("zookeeper.log")).expect("log");
        let child = Command::new("java")
            .args(["-cp", ZOOKEEPER_JAR, "-Dzookeeper.admin.enableServer=false"])
            .arg("org.apache.zookeeper.server.ZooKeeperServerMain")
            .arg(port.to_string())
            .arg(dir.path().join("data"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start zookeeper");
        // Listening is not serving: ClickHouse 18.16 crashes on a ZooKeeper that accepts and
        // hangs up. Wait until it answers `srvr` (the one four-letter word 3.8 allows).
        wait_until("zookeeper serving", Duration::from_secs(60), || {
            serving(port)
        });
        ZooKeeper {
            _dir: dir,
            port,
            child,
        }
    }
}

fn serving(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut answer = String::new();
    stream.write_all(b"srvr").is_ok()
        && stream.read_to_string(&mut answer).is_ok()
        && answer.contains("Mode: standalone")
}

impl Drop for ZooKeeper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two servers forming the cluster `sites`, two shards of one replica each, over one
/// ZooKeeper.
pub struct Cluster {
    pub nodes: Vec<ClickHouse>,
    _zookeeper: ZooKeeper,
}

impl Cluster {
    /// Starts ZooKeeper and the two servers, or `None` when they are not installed outside CI.
    pub fn start() -> Option<Cluster> {
        if !can_run(&["clickhouse-server", "java", ZOOKEEPER_JAR]) {
            return None;
        }
        let zookeeper = ZooKeeper::start();
        let ports: Vec<(u16, u16, u16)> = (0..2)
            .map(|_| (free_port(), free_port(), free_port()))
            .collect();
        let shards: String = ports
            .iter()
            .map(|(_, tcp, _)| {
                format!(
                    "<shard><internal_replication>true</internal_replication><replica><host>127.0.0.1</host><port>{tcp}</port></replica></shard>"
                )
            })
            .collect();
        let nodes = ports
            .iter()
            .enumerate()
            .map(|(i, (http, tcp, interserver))| {
                let extra = format!(
                    "<zookeeper><node><host>127.0.0.1</host><port>{zk}</port></node></zookeeper>
  <remote_servers><sites>{shards}</sites></remote_servers>
  <macros><shard>{shard:02}</shard><replica>node{i}</replica></macros>
  <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <interserver_http_port>{interserver}</interserver_http_port>",
                    zk = zookeeper.port,
                    shard = i + 1
                );
                ClickHouse::start_with(*http, *tcp, &extra, None)
            })
            .collect();
        Some(Cluster {
            nodes,
            _zookeeper: zookeeper,
        })
    }
}
