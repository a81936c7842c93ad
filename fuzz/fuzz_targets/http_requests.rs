//! Every request of a plaintext HTTP/1.x connection: any bytes, cut into segments at any
//! points, through the request reader. It never panics, every name it keeps is within its
//! bounds, the stream never holds more than its limit, and the log's weight is what the budget
//! counts.
#![no_main]

use lantern::proto::Counters;
use lantern::proto::requests::{LogBudget, MAX_ENTRIES, MAX_NAME, Next, RequestReader};
use lantern::proto::stream::Streams;
use libfuzzer_sys::fuzz_target;

/// The reassembly limit of a stream here: small, so that long heads hit it.
const LIMIT: usize = 2048;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, stream)) = data.split_first() else {
        return;
    };
    let piece = usize::from(cut % 64) + 1;
    let mut streams = Streams::new(1 << 20);
    let id = streams.open(0, LIMIT, false);
    let mut reader = RequestReader::default();
    let (mut budget, mut counters) = (LogBudget::default(), Counters::default());
    let mut at = 0;
    while at < stream.len() {
        let end = (at + piece).min(stream.len());
        streams.insert(id, at as u32, &stream[at..end]);
        at = end;
        if let Some(s) = streams.get(id) {
            assert!(s.contiguous().len() <= LIMIT);
        }
        if reader.read(&mut streams, id, &mut budget, &mut counters) == Next::Stop {
            break;
        }
    }
    let log = &reader.log;
    for list in [&log.paths, &log.mcp_methods, &log.mcp_tools] {
        assert!(list.len() <= MAX_ENTRIES);
        assert!(list.iter().all(|n| n.len() <= MAX_NAME));
    }
    assert_eq!(budget.held(), log.weight());
    assert!(log.requests as usize >= log.paths.len(), "each path is a request's");
});
