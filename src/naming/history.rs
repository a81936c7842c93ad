//! The DNS history: for each (client, server address), the last few names the client was told
//! are at that address, each with when it was first and last answered and when its TTL runs
//! out; and for each client, the ECH public names its HTTPS and SVCB answers carried.
//!
//! A flow is named by the answer in force at its first packet, however late it ends, so
//! nothing here is dropped when a TTL runs out: a flow that started inside the TTL and is still
//! open hours later needs it. Both maps are bounded by keys instead ([`Bounded`]: the pair or
//! client written longest ago goes first), and every eviction is counted.
//!
//! Memory: at most `capacity` pairs, each with at most [`NAMES_PER_ADDRESS`] names, whose
//! entries and names weigh at most `capacity` × [`BYTES_PER_PAIR`] bytes in all; the same for
//! the clients' ECH public names. A name's allocation is shared by its entries in a pair and
//! by the consecutive answers of one lookup.

use super::bounded::{Bounded, Weigh};
use crate::capture::Timestamp;
use crate::decode::Addr;
use std::sync::Arc;

/// Most names kept for one (client, address): CDNs put many names on one address, and a
/// client resolves several of them (five within a second in `captures/chromium-shared-cdn.pcap`,
/// where a bound of 4 lost the SNI's own lookup). The one whose validity ends first makes room.
pub const NAMES_PER_ADDRESS: usize = 8;

/// Bytes of entries and names the history holds per pair of its capacity, on average: a pair
/// of real traffic holds one or two names of a few dozen bytes, so the budget bites only when
/// the history fills with long names (spoofed answers), and then the pair written longest ago
/// goes, as when it is full by count.
pub const BYTES_PER_PAIR: usize = 256;

/// Most other names reported beside the chosen one (`name_alternatives`).
pub const MAX_ALTERNATIVES: usize = 3;

/// One name's answers for an address: a run of answers whose validity did not lapse, and in
/// which, from `since` to `latest`, no other name was answered for the address.
#[derive(Clone, Debug)]
struct Answer {
    name: Arc<str>,
    /// The first answer of the run, including older runs folded into it (see [`make_room`]).
    first: Timestamp,
    /// The first answer since another name was last answered for the address.
    since: Timestamp,
    /// The latest answer of the run.
    latest: Timestamp,
    /// When the latest answer's TTL, plus the grace, runs out.
    expires: Timestamp,
}

impl Answer {
    /// Whether the answer was in force at `at`: answered by then (or within `race` after, for a
    /// client that connected before its lookup came back) and not yet expired.
    fn in_force(&self, at: Timestamp, race: Timestamp) -> bool {
        self.first <= race && at <= self.expires
    }

    /// When it was last answered at or before `race`, for ordering it against other names:
    /// exact from `since` on (no other name was answered between `since` and `latest`), the
    /// start of the folded run before that.
    fn answered_by(&self, race: Timestamp) -> Timestamp {
        if self.latest <= race {
            self.latest
        } else if self.since <= race {
            self.since
        } else {
            self.first
        }
    }
}

/// Drops one entry from a pair over [`NAMES_PER_ADDRESS`]; whether a name was lost. The oldest
/// entry whose name was answered again later is folded into that later one: the name stays in
/// force from its first answer, over any lapse between the two (it was the client's name for
/// the address before and after), and only its order against the names answered in between is
/// lost. A flow open for hours while the client re-resolves its name and others on the address
/// (`tests/integration/naming.rs`) keeps its name this way. Only when every name is different does the one
/// whose validity ends first go.
fn make_room(answers: &mut Vec<Answer>) -> bool {
    for i in 0..answers.len() {
        let (old, later) = answers.split_at_mut(i + 1);
        let old = &old[i];
        if let Some(next) = later.iter_mut().find(|a| a.name == old.name) {
            next.first = next.first.min(old.first);
            answers.remove(i);
            return false;
        }
    }
    let first = (0..answers.len())
        .min_by_key(|&i| (answers[i].expires, answers[i].first))
        .unwrap_or(0);
    answers.remove(first);
    true
}

/// What the history says about a flow's server address at the flow's first packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AtStart<'a> {
    /// The name answered last at or before the start, among those in force then.
    pub name: Option<&'a str>,
    /// The other names in force then, most recent first, at most [`MAX_ALTERNATIVES`].
    pub others: [Option<&'a str>; MAX_ALTERNATIVES],
}

impl<'a> AtStart<'a> {
    /// Whether `name` was the chosen name or one of the alternatives.
    pub fn has(&self, name: &str) -> bool {
        self.name == Some(name) || self.others.iter().flatten().any(|n| *n == name)
    }

    /// The other names, most recent first.
    pub fn others(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.others.iter().flatten().copied()
    }
}

/// A bounded history of the names each client resolved to each address.
#[derive(Debug)]
pub struct DnsHistory {
    /// (client, address) to its answers, in the order they were answered.
    pairs: Bounded<(Addr, Addr), Vec<Answer>>,
    /// Client to the ECH public names it received.
    ech: Bounded<Addr, Vec<EchName>>,
    grace_secs: u64,
    race_nanos: i64,
    evictions: u64,
    names_evicted: u64,
    last_name: Option<Arc<str>>,
}

impl DnsHistory {
    /// An empty history of at most `capacity` (client, address) pairs. An answer stays in force
    /// `grace_secs` past its TTL, and counts for a flow that started up to `race_millis` before
    /// it (a client that raced its lookup).
    pub fn new(capacity: usize, grace_secs: u64, race_millis: u32) -> DnsHistory {
        DnsHistory {
            pairs: Bounded::new(capacity, capacity.saturating_mul(BYTES_PER_PAIR)),
            ech: Bounded::new(capacity, capacity.saturating_mul(BYTES_PER_PAIR)),
            grace_secs,
            race_nanos: i64::from(race_millis) * 1_000_000,
            evictions: 0,
            names_evicted: 0,
            last_name: None,
        }
    }

    /// Remembers that `client` learned at `answered` that `name` is at `addr` for `ttl` seconds.
    pub fn insert(&mut self, client: Addr, addr: Addr, name: &str, answered: Timestamp, ttl: u32) {
        let expires = answered.plus_secs(u64::from(ttl) + self.grace_secs);
        let (evictions, last_name) = (&mut self.evictions, &mut self.last_name);
        let lost = self.pairs.write(
            (client, addr),
            Vec::new,
            |answers| add_answer(answers, name, answered, expires, last_name),
            |_| *evictions += 1,
        );
        self.names_evicted += u64::from(lost);
    }

    /// The names `client` had for `addr` at time `at`: those in force then; when none was, those
    /// answered within the race after `at` (a client that connected before its own lookup came
    /// back). An answer after `at` never wins over one already in force.
    pub fn at(&self, client: Addr, addr: Addr, at: Timestamp) -> AtStart<'_> {
        let mut found = AtStart::default();
        let Some(answers) = self.pairs.get(&(client, addr)) else {
            return found;
        };
        let race = match answers.iter().any(|a| a.in_force(at, at)) {
            true => at,
            false => self.race_end(at),
        };
        // At most NAMES_PER_ADDRESS entries: sort them in place on the stack.
        let mut in_force: [Option<(Timestamp, &str)>; NAMES_PER_ADDRESS] =
            [None; NAMES_PER_ADDRESS];
        let mut n = 0;
        for a in answers.iter().filter(|a| a.in_force(at, race)) {
            in_force[n] = Some((a.answered_by(race), &*a.name));
            n += 1;
        }
        // Most recent first; the name breaks ties so the order never depends on insertion.
        in_force[..n].sort_unstable_by(|a, b| b.cmp(a));
        let mut names = in_force[..n].iter().flatten().map(|(_, name)| *name);
        found.name = names.next();
        let mut kept = 0;
        for name in names {
            if kept == MAX_ALTERNATIVES {
                break;
            }
            // A name answered in several runs is one name.
            if !found.has(name) {
                found.others[kept] = Some(name);
                kept += 1;
            }
        }
        found
    }

    /// Whether `client` had been told by `at` that `name` is at `addr`, in force or not.
    pub fn resolved(&self, client: Addr, addr: Addr, name: &str, at: Timestamp) -> bool {
        let race = self.race_end(at);
        self.pairs
            .get(&(client, addr))
            .is_some_and(|answers| answers.iter().any(|a| &*a.name == name && a.first <= race))
    }

    /// Remembers that `client` received at `answered` an ECHConfig with `public_name`.
    pub fn insert_ech(&mut self, client: Addr, public_name: &str, answered: Timestamp, ttl: u32) {
        let expires = answered.plus_secs(u64::from(ttl) + self.grace_secs);
        let dropped = &mut self.names_evicted;
        let lost = self.ech.write(
            client,
            Vec::new,
            |names| add_ech_name(names, public_name, answered, expires),
            |gone| *dropped += gone.len() as u64,
        );
        self.names_evicted += u64::from(lost);
    }

    /// Whether `client` had received by `at`, and still held, an ECHConfig for `public_name`.
    pub fn ech_public_name(&self, client: Addr, public_name: &str, at: Timestamp) -> bool {
        let race = self.race_end(at);
        self.ech.get(&client).is_some_and(|names| {
            names
                .iter()
                .any(|n| &*n.name == public_name && n.since <= race && at <= n.expires)
        })
    }

    /// The latest answer time that still counts for a flow that started at `at`.
    fn race_end(&self, at: Timestamp) -> Timestamp {
        Timestamp(at.0.saturating_add(self.race_nanos))
    }

    /// (client, address) pairs evicted because the history was full.
    pub fn evictions(&self) -> u64 {
        self.evictions
    }

    /// Names dropped from a pair that already held [`NAMES_PER_ADDRESS`], and ECH public names
    /// dropped because their map was full.
    pub fn names_evicted(&self) -> u64 {
        self.names_evicted
    }
}

/// Adds an answer to a pair's entries; whether a name was lost to make room.
fn add_answer(
    answers: &mut Vec<Answer>,
    name: &str,
    answered: Timestamp,
    expires: Timestamp,
    last_name: &mut Option<Arc<str>>,
) -> bool {
    // Entries are in the order they were answered, and an entry's answers are contiguous: no
    // other name was answered for the pair between its first and its latest. That keeps "the
    // name answered last before the start" exact however often names are re-resolved.
    if let Some(last) = answers.last_mut()
        && &*last.name == name
        && answered <= last.expires
    {
        last.latest = last.latest.max(answered);
        last.expires = last.expires.max(expires);
        return false;
    }
    // Another entry of the same name, or the lookup's previous answer, shares its allocation.
    let name = match answers.iter().find(|a| &*a.name == name) {
        Some(known) => known.name.clone(),
        None => shared_name(last_name, name),
    };
    // One slot at a time: most pairs hold one or two names, and the slots count in the budget.
    answers.reserve_exact(1);
    answers.push(Answer {
        name,
        first: answered,
        since: answered,
        latest: answered,
        expires,
    });
    answers.len() > NAMES_PER_ADDRESS && make_room(answers)
}

/// A pair's entries weigh their slots and their names (a name shared by two entries counts
/// twice: the bound errs high).
impl Weigh for Vec<Answer> {
    fn weight(&self) -> usize {
        self.capacity() * size_of::<Answer>() + self.iter().map(|a| a.name.len()).sum::<usize>()
    }
}

impl Weigh for Vec<EchName> {
    fn weight(&self) -> usize {
        self.capacity() * size_of::<EchName>() + self.iter().map(|n| n.name.len()).sum::<usize>()
    }
}

/// The name as an `Arc`, shared with the previous answer's when they are the same (the answers
/// of one lookup come one after another).
fn shared_name(last: &mut Option<Arc<str>>, name: &str) -> Arc<str> {
    match last {
        Some(known) if &**known == name => known.clone(),
        _ => last.insert(Arc::from(name)).clone(),
    }
}

/// Adds an ECH public name to a client's; whether another was dropped to make room.
fn add_ech_name(
    names: &mut Vec<EchName>,
    public_name: &str,
    answered: Timestamp,
    expires: Timestamp,
) -> bool {
    if let Some(known) = names.iter_mut().find(|n| &*n.name == public_name) {
        known.since = known.since.min(answered);
        known.expires = known.expires.max(expires);
        return false;
    }
    let full = names.len() >= NAMES_PER_ADDRESS;
    if full {
        let first = (0..names.len())
            .min_by_key(|&i| names[i].expires)
            .unwrap_or(0);
        names.swap_remove(first);
    }
    names.push(EchName {
        name: public_name.into(),
        since: answered,
        expires,
    });
    full
}

/// An ECH public name a client received, from its first answer until its TTL runs out.
#[derive(Debug)]
struct EchName {
    name: Box<str>,
    since: Timestamp,
    expires: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    const C1: Addr = Addr([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1]);
    const C2: Addr = Addr([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 2]);

    fn a(n: u8) -> Addr {
        Addr::v4([104, 18, 32, n])
    }

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_secs(secs)
    }

    fn ms(millis: i64) -> Timestamp {
        Timestamp(millis * 1_000_000)
    }

    fn history(capacity: usize) -> DnsHistory {
        DnsHistory::new(capacity, 0, 50)
    }

    #[test]
    fn the_answer_in_force_at_the_start_names_the_flow() {
        let mut h = history(16);
        h.insert(C1, a(47), "chatgpt.com", t(100), 300);
        // Re-resolved 9 s into a flow that started at 101, and another name on the address.
        h.insert(C1, a(47), "chatgpt.com", t(110), 300);
        h.insert(C1, a(47), "cdn.example.net", t(111), 300);
        let start = h.at(C1, a(47), t(101));
        assert_eq!(start.name, Some("chatgpt.com"));
        assert_eq!(
            start.others().count(),
            0,
            "cdn.example.net came after the start"
        );
        // A flow that started after both: the latest answer wins, the other is kept.
        let later = h.at(C1, a(47), t(112));
        assert_eq!(later.name, Some("cdn.example.net"));
        assert_eq!(later.others().collect::<Vec<_>>(), ["chatgpt.com"]);
        // Before any answer: nothing, never a name from the future.
        assert_eq!(h.at(C1, a(47), t(99)).name, None);
        // Another client asked nothing.
        assert_eq!(h.at(C2, a(47), t(101)).name, None);
    }

    #[test]
    fn ttl_and_re_lookups() {
        let mut h = history(16);
        h.insert(C1, a(1), "claude.ai", t(0), 60);
        assert_eq!(h.at(C1, a(1), t(60)).name, Some("claude.ai"));
        assert_eq!(h.at(C1, a(1), t(61)).name, None, "expired");
        // Answered again within the TTL: one run, in force from 0 to 150 + 60.
        h.insert(C1, a(1), "claude.ai", t(50), 60);
        h.insert(C1, a(1), "claude.ai", t(100), 60);
        assert_eq!(h.at(C1, a(1), t(5)).name, Some("claude.ai"));
        assert_eq!(h.at(C1, a(1), t(160)).name, Some("claude.ai"));
        assert_eq!(h.at(C1, a(1), t(161)).name, None);
        // Answered after a lapse: a new run; the gap names nothing.
        h.insert(C1, a(1), "claude.ai", t(300), 60);
        assert_eq!(h.at(C1, a(1), t(200)).name, None);
        assert_eq!(h.at(C1, a(1), t(330)).name, Some("claude.ai"));
        assert_eq!(
            h.at(C1, a(1), t(5)).name,
            Some("claude.ai"),
            "the old run is kept"
        );
        // The history outlives TTLs: a flow that started at 5 and ends much later is named.
        assert!(h.resolved(C1, a(1), "claude.ai", t(5)));
        assert!(!h.resolved(C1, a(1), "claude.ai", t(-1)));
    }

    #[test]
    fn interleaved_re_lookups_keep_the_order_exact() {
        let mut h = history(16);
        // A at 0, B at 3, A again at 5 and 20: at 6 the last answer was A's, at 4 B's.
        h.insert(C1, a(1), "a.example", t(0), 300);
        h.insert(C1, a(1), "b.example", t(3), 300);
        h.insert(C1, a(1), "a.example", t(5), 300);
        h.insert(C1, a(1), "a.example", t(20), 300);
        assert_eq!(h.at(C1, a(1), t(6)).name, Some("a.example"));
        let at4 = h.at(C1, a(1), t(4));
        assert_eq!(at4.name, Some("b.example"));
        assert_eq!(
            at4.others().collect::<Vec<_>>(),
            ["a.example"],
            "one name, once"
        );
        assert_eq!(h.at(C1, a(1), t(2)).name, Some("a.example"));
        // Many more alternations fold older runs of a name into later ones: no name is lost.
        for i in 0..40 {
            let name = if i % 2 == 0 { "b.example" } else { "a.example" };
            h.insert(C1, a(1), name, t(30 + i), 300);
        }
        assert_eq!(h.names_evicted(), 0);
        assert!(h.pairs.get(&(C1, a(1))).unwrap().len() <= NAMES_PER_ADDRESS);
        assert!(h.resolved(C1, a(1), "a.example", t(1)));
        assert_eq!(h.at(C1, a(1), t(2)).name, Some("a.example"));
        assert_eq!(h.at(C1, a(1), t(69)).name, Some("a.example"));
        // After the folding: b at 100, a at 101, a flow at 102, a again at 110 (during the
        // flow). The fold must not make a's answer at 101 look older than b's at 100.
        h.insert(C1, a(1), "b.example", t(100), 300);
        h.insert(C1, a(1), "a.example", t(101), 300);
        h.insert(C1, a(1), "a.example", t(110), 300);
        assert_eq!(h.at(C1, a(1), t(102)).name, Some("a.example"));
        assert_eq!(h.at(C1, a(1), t(100)).name, Some("b.example"));
    }

    /// The race's grace, one side: no answer was in force at the flow's first packet, and one
    /// came up to 50 ms after it (a client that connected before its lookup came back).
    #[test]
    fn with_no_answer_in_force_an_answer_a_few_ms_after_the_start_counts() {
        let mut h = history(16);
        h.insert(C1, a(1), "perplexity.ai", ms(10_030), 60);
        assert_eq!(h.at(C1, a(1), ms(10_000)).name, Some("perplexity.ai"));
        assert_eq!(
            h.at(C1, a(1), ms(9_979)).name,
            None,
            "more than 50 ms before"
        );
        // Two names within the race: the later wins, the other is an alternative.
        h.insert(C1, a(1), "www.perplexity.ai", ms(10_040), 60);
        let start = h.at(C1, a(1), ms(10_000));
        assert_eq!(start.name, Some("www.perplexity.ai"));
        assert!(start.has("perplexity.ai"));
        // An expired answer is not in force: the race still counts.
        h.insert(C1, a(3), "old.example", ms(0), 1);
        h.insert(C1, a(3), "character.ai", ms(10_020), 60);
        assert_eq!(h.at(C1, a(3), ms(10_000)).name, Some("character.ai"));
    }

    /// The other side: a name was in force at the first packet, so an answer that came after
    /// it, even within 50 ms (a browser's prefetch of another name on the same CDN address),
    /// neither names the flow nor is one of its alternatives.
    #[test]
    fn an_answer_in_force_at_the_start_is_not_stolen_by_a_later_one() {
        let mut h = history(16);
        h.insert(C1, a(2), "claude.ai", ms(970), 60);
        h.insert(C1, a(2), "static.cdn-example.net", ms(1_020), 60);
        let start = h.at(C1, a(2), ms(1_000));
        assert_eq!(start.name, Some("claude.ai"));
        assert_eq!(start.others().count(), 0);
        // A flow after both: the later answer is in force and names it.
        let later = h.at(C1, a(2), ms(1_100));
        assert_eq!(later.name, Some("static.cdn-example.net"));
        assert!(later.has("claude.ai"));
    }

    #[test]
    fn several_names_per_address_and_the_bound() {
        let mut h = history(16);
        let names: Vec<String> = (0..NAMES_PER_ADDRESS)
            .map(|i| format!("n{i}.example"))
            .collect();
        for (i, name) in names.iter().enumerate() {
            h.insert(C1, a(1), name, t(i as i64), 300);
        }
        let last = NAMES_PER_ADDRESS - 1;
        let start = h.at(C1, a(1), t(10));
        assert_eq!(start.name, Some(names[last].as_str()));
        // The most recent others, at most MAX_ALTERNATIVES of them.
        let others: Vec<&str> = start.others().collect();
        let want: Vec<&str> = names[..last]
            .iter()
            .rev()
            .take(MAX_ALTERNATIVES)
            .map(String::as_str)
            .collect();
        assert_eq!(others, want);
        for name in &names {
            assert!(h.resolved(C1, a(1), name, t(10)), "{name} is still known");
        }
        assert_eq!(h.names_evicted(), 0);
        // One more name drops the one whose validity ends first.
        h.insert(C1, a(1), "new.example", t(20), 300);
        assert_eq!(h.names_evicted(), 1);
        assert_eq!(h.at(C1, a(1), t(21)).name, Some("new.example"));
        assert!(!h.resolved(C1, a(1), "n0.example", t(21)));
        assert!(h.resolved(C1, a(1), "n1.example", t(21)));
    }

    #[test]
    fn pairs_are_bounded_oldest_first() {
        let mut h = history(2);
        h.insert(C1, a(1), "one.example", t(0), 60);
        h.insert(C1, a(2), "two.example", t(1), 60);
        h.insert(C1, a(1), "one.example", t(2), 60);
        h.insert(C1, a(3), "three.example", t(3), 60);
        assert_eq!(h.pairs.len(), 2);
        assert_eq!(h.evictions(), 1);
        assert_eq!(
            h.at(C1, a(2), t(5)).name,
            None,
            "the pair touched longest ago went"
        );
        assert_eq!(h.at(C1, a(1), t(5)).name, Some("one.example"));
        assert_eq!(h.at(C1, a(3), t(63)).name, Some("three.example"));
        assert_eq!(h.at(C1, a(3), t(64)).name, None);
        // Many more: never more than the bound, every eviction counted.
        for i in 0..1000u16 {
            h.insert(
                C2,
                Addr::v4([1, 1, (i >> 8) as u8, i as u8]),
                "x.example",
                t(10),
                60,
            );
        }
        assert_eq!(h.pairs.len(), 2);
        assert_eq!(h.evictions(), 1001);
        assert!(h.pairs.queued() <= 2 * 2 + 1);
    }

    #[test]
    fn long_names_are_bounded_by_bytes_oldest_pair_first() {
        // Spoofed answers with 300-byte names (escaped binary labels) fill the budget (100 pairs x 256 bytes) long
        // before the history holds 100 pairs.
        let mut h = history(100);
        let long = |i: u32| format!("{i:04}.{}.example", "x".repeat(287));
        for i in 0..1_000u32 {
            h.insert(
                C1,
                Addr::v4([10, 9, (i >> 8) as u8, i as u8]),
                &long(i),
                t(0),
                60,
            );
            assert!(
                h.pairs.weight() <= 100 * BYTES_PER_PAIR,
                "{}",
                h.pairs.weight()
            );
        }
        let held = h.pairs.len() as u64;
        assert!(held < 100, "{held} pairs held");
        assert_eq!(h.evictions(), 1_000 - held);
        // The newest are kept, the oldest went.
        assert_eq!(
            h.at(C1, Addr::v4([10, 9, 3, 231]), t(1)).name,
            Some(&*long(999))
        );
        assert_eq!(h.at(C1, Addr::v4([10, 9, 0, 0]), t(1)).name, None);
        // Short names of real traffic fit by count: the budget does not bite.
        let mut h = history(100);
        for i in 0..100u32 {
            h.insert(C1, Addr::v4([10, 9, 0, i as u8]), "chatgpt.com", t(0), 60);
            h.insert(
                C1,
                Addr::v4([10, 9, 0, i as u8]),
                "cdn.openai.com",
                t(0),
                60,
            );
        }
        assert_eq!((h.pairs.len(), h.evictions()), (100, 0));
    }

    #[test]
    fn ech_public_names_per_client() {
        let mut h = history(2);
        h.insert_ech(C1, "ech-public.example.net", t(100), 300);
        assert!(h.ech_public_name(C1, "ech-public.example.net", t(100)));
        assert!(!h.ech_public_name(C2, "ech-public.example.net", t(100)));
        assert!(!h.ech_public_name(C1, "ech-public.example.net", t(99)));
        assert!(!h.ech_public_name(C1, "ech-public.example.net", t(401)));
        // Per client at most NAMES_PER_ADDRESS; the one expiring first goes.
        for i in 1..NAMES_PER_ADDRESS as i64 + 1 {
            h.insert_ech(C1, &format!("e{i}.example"), t(100 + i), 300);
        }
        assert_eq!(h.names_evicted(), 1);
        assert!(!h.ech_public_name(C1, "ech-public.example.net", t(150)));
        let newest = format!("e{NAMES_PER_ADDRESS}.example");
        assert!(h.ech_public_name(C1, &newest, t(150)));
        // At most `capacity` clients: a third one evicts the client heard from longest ago.
        h.insert_ech(C2, "x.example", t(110), 300);
        h.insert_ech(Addr::v4([10, 0, 0, 3]), "y.example", t(111), 300);
        assert!(!h.ech_public_name(C1, &newest, t(150)));
        assert!(h.ech_public_name(C2, "x.example", t(150)));
        assert_eq!(h.names_evicted(), 1 + NAMES_PER_ADDRESS as u64);
    }
}
