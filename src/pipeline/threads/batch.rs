//! A batch of decoded packets for one worker: the packets' headers and where each payload
//! lies, in the reader's buffer the batch holds or copied into the batch.

use crate::decode::Packet;
use crate::flow::Stamp;
use crossbeam_channel::Sender;
use std::sync::Arc;

/// Packets per batch handed to a worker.
const BATCH_PACKETS: usize = 512;
/// Bytes per batch handed to a worker.
const BATCH_BYTES: usize = 512 * 1024;

/// Decoded packets for one worker. In threaded replay their payloads stay in the reader's
/// buffer, which the batch holds; otherwise (live capture, reassembled fragments) they are
/// copied into the batch.
#[derive(Default)]
pub(in crate::pipeline) struct PacketBatch {
    /// The reader's buffer that the `shared` payloads lie in.
    pub(super) buffer: Option<Arc<Vec<u8>>>,
    /// Payloads copied out.
    data: Vec<u8>,
    pub(super) packets: Vec<Meta>,
}

/// A decoded packet whose payload is `len` bytes at `start` in the batch's buffer (`shared`)
/// or in its data.
pub(super) struct Meta {
    pub(super) packet: Packet<'static>,
    pub(super) stamp: Stamp,
    start: usize,
    len: usize,
    shared: bool,
}

impl PacketBatch {
    #[inline]
    pub(super) fn push(&mut self, packet: &Packet<'_>, stamp: Stamp) {
        let len = packet.payload.len();
        let (start, shared) = match self.offset_in_buffer(packet.payload) {
            Some(start) => (start, true),
            None => {
                self.data.extend_from_slice(packet.payload);
                (self.data.len() - len, false)
            }
        };
        self.packets.push(Meta {
            packet: Packet {
                payload: &[],
                ..*packet
            },
            stamp,
            start,
            len,
            shared,
        });
    }

    /// Where `payload` starts in the batch's buffer, if it lies there.
    fn offset_in_buffer(&self, payload: &[u8]) -> Option<usize> {
        let buffer = self.buffer.as_deref()?;
        let start = (payload.as_ptr() as usize).checked_sub(buffer.as_ptr() as usize)?;
        (start + payload.len() <= buffer.len()).then_some(start)
    }

    /// Whether the batch's payloads lie in `buffer`.
    #[inline]
    pub(super) fn holds(&self, buffer: &Arc<Vec<u8>>) -> bool {
        self.buffer.as_ref().is_some_and(|b| Arc::ptr_eq(b, buffer))
    }

    #[inline]
    pub(super) fn payload(&self, meta: &Meta) -> &[u8] {
        let bytes = match (&self.buffer, meta.shared) {
            (Some(buffer), true) => buffer.as_slice(),
            _ => self.data.as_slice(),
        };
        &bytes[meta.start..meta.start + meta.len]
    }

    #[inline]
    pub(super) fn is_full(&self) -> bool {
        self.packets.len() >= BATCH_PACKETS || self.data.len() >= BATCH_BYTES
    }

    /// Empties the batch; the reader's buffer goes back to `buffers` when this was its last
    /// holder.
    pub(super) fn clear(&mut self, buffers: Option<&Sender<Vec<u8>>>) {
        if let (Some(buffer), Some(buffers)) = (self.buffer.take(), buffers)
            && let Ok(buffer) = Arc::try_unwrap(buffer)
        {
            let _ = buffers.try_send(buffer);
        }
        self.data.clear();
        self.packets.clear();
    }
}
