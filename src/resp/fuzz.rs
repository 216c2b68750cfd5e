//! Property tests of the request decoder: the in-tree fuzz harness.
//!
//! Properties, for arbitrary and adversarial input:
//! - it never panics, and the only failures are protocol errors or the query-buffer limit;
//! - the result does not depend on how the input is split into reads;
//! - memory held does not follow declared lengths: argv slots stay under a constant plus the
//!   bytes received, and the decoder never grows the read buffer;
//! - well-formed pipelines (multibulk and inline) decode to exactly what was encoded, and a
//!   truncated pipeline yields its complete prefix and then waits.
//!
//! A long run: `PROPTEST_CASES=1000000 cargo test --release resp::fuzz`. The libFuzzer target
//! in `fuzz/` checks the same properties with coverage guidance.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::decode_tests::{run_chunked, run_whole, End, Run};
use super::{Limits, RequestDecoder};

use proptest::collection::vec;
use proptest::sample::Index;

fn arb_limits() -> impl Strategy<Value = Limits> {
    (
        any::<bool>(),
        1usize..200,
        prop_oneof![Just(u64::MAX), 1u64..2000],
        0u64..100,
        1u64..64,
    )
        .prop_map(|(authenticated, inline, query, bulk, count)| Limits {
            max_bulk_len: if bulk == 0 {
                Limits::DEFAULT_MAX_BULK
            } else {
                bulk
            },
            max_multibulk_len: count,
            max_inline_len: inline,
            max_query_len: query,
            authenticated,
        })
}

/// Bytes that look like RESP often enough to reach deep states.
fn arb_respish() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b"*".to_vec()),
        Just(b"$".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"'".to_vec()),
        Just(b"\\x".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\0".to_vec()),
        (-3i64..20).prop_map(|n| n.to_string().into_bytes()),
        any::<i64>().prop_map(|n| n.to_string().into_bytes()),
        Just(b"99999999999999999999".to_vec()),
        vec(any::<u8>(), 0..6),
    ];
    vec(token, 0..60).prop_map(|t| t.concat())
}

fn arb_chunks() -> impl Strategy<Value = Vec<usize>> {
    vec(1usize..12, 0..40)
}

fn arb_argv() -> impl Strategy<Value = Vec<Vec<u8>>> {
    vec(vec(any::<u8>(), 0..20), 1..6)
}

fn multibulk(argv: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", argv.len()).into_bytes();
    for a in argv {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A request in the inline form, quoting every argument with `\xHH` escapes.
fn inline(argv: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for a in argv {
        out.push(b'"');
        for b in a {
            out.extend_from_slice(format!("\\x{b:02x}").as_bytes());
        }
        out.extend_from_slice(b"\" ");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Decodes `input` whole and in `chunks`; the two must agree. Returns the whole-input run.
fn check_invariants(input: &[u8], limits: Limits, chunks: &[usize]) -> Run {
    let whole = run_whole(input, limits);
    assert_eq!(
        run_chunked(input, limits, chunks),
        whole,
        "decoding depends on how the input is split"
    );
    whole
}

/// The decoder's own memory stays within a constant plus the bytes received.
fn check_footprint(input: &[u8], limits: Limits) {
    let mut dec = RequestDecoder::new(limits);
    let mut buf = BytesMut::with_capacity(input.len());
    buf.extend_from_slice(input);
    let cap = buf.capacity();
    while let Ok(Some(_)) = dec.next_request(&mut buf) {}
    assert!(buf.capacity() <= cap, "the decoder grew the read buffer");
    let slot = std::mem::size_of::<Bytes>();
    assert!(
        dec.footprint() <= 1024 * slot + input.len() * slot,
        "footprint {} for {} input bytes",
        dec.footprint(),
        input.len()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes(
        input in vec(any::<u8>(), 0..300),
        limits in arb_limits(),
        chunks in arb_chunks(),
    ) {
        check_invariants(&input, limits, &chunks);
        check_footprint(&input, limits);
    }

    #[test]
    fn resp_shaped_bytes(input in arb_respish(), limits in arb_limits(), chunks in arb_chunks()) {
        check_invariants(&input, limits, &chunks);
        check_footprint(&input, limits);
    }

    #[test]
    fn huge_declared_lengths(
        count in any::<u64>(),
        len in any::<u64>(),
        tail in vec(any::<u8>(), 0..40),
        auth in any::<bool>(),
    ) {
        let mut input = format!("*{count}\r\n${len}\r\n").into_bytes();
        input.extend_from_slice(&tail);
        let limits = Limits { authenticated: auth, ..Limits::default() };
        let run = check_invariants(&input, limits, &[3, 1, 4, 1, 5]);
        // A request cannot complete before its first argument's bytes have arrived.
        if count >= 1 && len > tail.len() as u64 {
            prop_assert!(run.requests.is_empty());
        }
        check_footprint(&input, limits);
    }

    #[test]
    fn valid_pipelines_round_trip(
        reqs in vec((arb_argv(), any::<bool>()), 1..8),
        chunks in arb_chunks(),
    ) {
        let mut input = Vec::new();
        for (argv, as_inline) in &reqs {
            input.extend_from_slice(&if *as_inline { inline(argv) } else { multibulk(argv) });
        }
        let run = check_invariants(&input, Limits::default(), &chunks);
        let want: Vec<Vec<Vec<u8>>> = reqs.into_iter().map(|(argv, _)| argv).collect();
        prop_assert_eq!(run, Run { requests: want, end: End::Waiting });
    }

    #[test]
    fn truncated_pipelines_wait(reqs in vec(arb_argv(), 1..6), cut in any::<Index>()) {
        let frames: Vec<Vec<u8>> = reqs.iter().map(|a| multibulk(a)).collect();
        let input = frames.concat();
        let cut = cut.index(input.len());
        let run = run_whole(&input[..cut], Limits::default());
        prop_assert_eq!(&run.end, &End::Waiting);
        let mut complete = 0;
        let mut total = 0;
        for f in &frames {
            total += f.len();
            if total <= cut { complete += 1; }
        }
        prop_assert_eq!(run.requests, reqs[..complete].to_vec());
    }

    #[test]
    fn mutated_pipelines(
        reqs in vec(arb_argv(), 1..5),
        at in any::<Index>(),
        byte in any::<u8>(),
        limits in arb_limits(),
        chunks in arb_chunks(),
    ) {
        let mut input: Vec<u8> = reqs.iter().flat_map(|a| multibulk(a)).collect();
        let i = at.index(input.len());
        input[i] = byte;
        check_invariants(&input, limits, &chunks);
        check_footprint(&input, limits);
    }
}
