//! The connection to the collector and its upkeep. UDP is one connected socket, kept for good.
//! TCP and unix sockets are reconnected: when the collector has closed the connection (seen
//! before each write, with a poll that does not wait) or a write to it fails because it is
//! gone, a new connection is made at once and the message tried once more on it; when that or
//! any connection attempt fails, none is tried again for a while (250 ms, doubling up to 30 s)
//! and messages are dropped meanwhile. No call waits longer than the timeout: connecting and
//! each write have it.

use super::SyslogTarget;
use super::format::Buffer;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

/// The first wait before reconnecting, and the longest.
const FIRST_DELAY: Duration = Duration::from_millis(250);
const LONGEST_DELAY: Duration = Duration::from_secs(30);

/// Why a message was not sent.
#[derive(Debug)]
pub(super) enum Unsent {
    /// There was no connection, and none could be made (or it was not yet time to try).
    Disconnected(io::Error),
    /// The connection took it but failed: an error or the timeout.
    Failed(io::Error),
}

/// An open socket to the collector.
#[derive(Debug)]
enum Socket {
    Udp(UdpSocket),
    Tcp(TcpStream),
    Unix(UnixDatagram),
}

/// The socket, when there is one, and when to try again when there is not.
#[derive(Debug)]
pub(super) struct Link {
    target: SyslogTarget,
    timeout: Duration,
    socket: Option<Socket>,
    retry_at: Option<Instant>,
    delay: Duration,
    /// Connections made after the first.
    pub reconnects: u64,
}

impl Link {
    /// Opens the first connection; its failure is the caller's.
    pub fn open(target: SyslogTarget, timeout: Duration) -> io::Result<Link> {
        let socket = Socket::open(&target, timeout)?;
        Ok(Link {
            target,
            timeout,
            socket: Some(socket),
            retry_at: None,
            delay: FIRST_DELAY,
            reconnects: 0,
        })
    }

    /// Sends the message in `buffer`, reconnecting first when needed and allowed.
    pub fn send(&mut self, buffer: &mut Buffer) -> Result<(), Unsent> {
        if self.socket.as_ref().is_some_and(Socket::peer_closed) {
            self.socket = None;
        }
        let fresh = self.socket.is_none();
        self.connected().map_err(Unsent::Disconnected)?;
        match self.write(buffer) {
            Ok(()) => Ok(()),
            Err(e) if !fresh && gone(&e) => {
                // The collector went away since the last message (restarted, or a UDP
                // collector's earlier "port unreachable"): once more, on a new connection.
                if !matches!(self.socket, Some(Socket::Udp(_))) {
                    self.socket = None;
                }
                self.connected().map_err(Unsent::Disconnected)?;
                self.write(buffer).map_err(|e| self.broken(e))
            }
            Err(e) => Err(self.broken(e)),
        }
    }

    /// Makes sure there is a connection, making one if it is time to try.
    fn connected(&mut self) -> io::Result<()> {
        if self.socket.is_some() {
            return Ok(());
        }
        if let Some(at) = self.retry_at
            && Instant::now() < at
        {
            let wait = at - Instant::now();
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                format!("{}: not connected; next try in {wait:.1?}", self.target),
            ));
        }
        match Socket::open(&self.target, self.timeout) {
            Ok(socket) => {
                self.socket = Some(socket);
                self.retry_at = None;
                self.delay = FIRST_DELAY;
                self.reconnects += 1;
                Ok(())
            }
            Err(e) => {
                self.back_off();
                Err(e)
            }
        }
    }

    fn write(&mut self, buffer: &mut Buffer) -> io::Result<()> {
        match &mut self.socket {
            Some(Socket::Udp(socket)) => whole(socket.send(buffer.bare())?, buffer.len()),
            Some(Socket::Unix(socket)) => whole(socket.send(buffer.bare())?, buffer.len()),
            Some(Socket::Tcp(stream)) => stream.write_all(buffer.counted()),
            None => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// A failed write: a stream is closed (part of a frame may have gone), and no connection
    /// is tried for a while. A UDP socket is kept: its next datagram is tried as usual.
    fn broken(&mut self, error: io::Error) -> Unsent {
        if !matches!(self.socket, Some(Socket::Udp(_))) {
            self.socket = None;
            self.back_off();
        }
        Unsent::Failed(error)
    }

    fn back_off(&mut self) {
        self.retry_at = Some(Instant::now() + self.delay);
        self.delay = (self.delay * 2).min(LONGEST_DELAY);
    }
}

/// A datagram is sent whole or not at all.
fn whole(sent: usize, len: usize) -> io::Result<()> {
    if sent == len {
        return Ok(());
    }
    Err(io::Error::other(format!("sent {sent} of {len} bytes")))
}

/// Errors that say the collector is gone rather than slow.
fn gone(error: &io::Error) -> bool {
    use io::ErrorKind::*;
    matches!(
        error.kind(),
        BrokenPipe | ConnectionReset | ConnectionRefused | ConnectionAborted | NotConnected
    )
}

impl Socket {
    fn open(target: &SyslogTarget, timeout: Duration) -> io::Result<Socket> {
        Ok(match target {
            SyslogTarget::Udp(address) => {
                let any: SocketAddr = match address {
                    SocketAddr::V4(_) => ([0, 0, 0, 0], 0).into(),
                    SocketAddr::V6(_) => ([0u16; 8], 0).into(),
                };
                let socket = UdpSocket::bind(any)?;
                socket.connect(address)?;
                Socket::Udp(socket)
            }
            SyslogTarget::Tcp(address) => {
                let stream = TcpStream::connect_timeout(address, timeout)?;
                stream.set_write_timeout(Some(timeout))?;
                Socket::Tcp(stream)
            }
            SyslogTarget::Unix(path) => {
                let socket = UnixDatagram::unbound()?;
                socket.connect(path).map_err(|e| stream_socket(e, path))?;
                socket.set_write_timeout(Some(timeout))?;
                Socket::Unix(socket)
            }
        })
    }

    /// Whether the collector has closed a TCP connection (its FIN or RST has arrived): the
    /// next write would seem to succeed and be lost. A collector sends nothing, so a readable
    /// socket is one at its end (a peek of nothing) or reset; bytes it did send are left.
    fn peer_closed(&self) -> bool {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        let Socket::Tcp(stream) = self else {
            return false;
        };
        let mut fds = [PollFd::new(stream.as_fd(), PollFlags::POLLIN)];
        if !matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0) {
            return false;
        }
        !matches!(stream.peek(&mut [0u8]), Ok(n) if n > 0)
    }
}

/// A unix stream socket is said as such: lantern sends datagrams, as to `/dev/log`.
fn stream_socket(error: io::Error, path: &std::path::Path) -> io::Error {
    if error.raw_os_error() != Some(nix::libc::EPROTOTYPE) {
        return error;
    }
    io::Error::new(
        error.kind(),
        format!(
            "{} is a stream socket; syslog over a unix socket is sent as datagrams",
            path.display()
        ),
    )
}
