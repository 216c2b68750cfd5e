//! Fuzzes `sporedb::resp::RequestDecoder` with coverage guidance.
//!
//! Input layout: 4 parameter bytes (limits), `n` chunk-size bytes (`n` from the 4th parameter
//! byte), then the bytes a client would send. Checked on every input:
//! - no panic; the only failures are protocol errors and the query-buffer limit;
//! - the result is the same whether the input arrives whole or in the given chunks;
//! - the decoder never grows the read buffer, and its own memory stays within a constant plus
//!   the bytes received (never a declared length);
//! - every request it produced re-encodes as multibulk and decodes back unchanged.

#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use sporedb::resp::{DecodeError, Limits, ProtocolError, RequestDecoder};

#[derive(Debug, PartialEq)]
enum End {
    Waiting,
    Protocol(ProtocolError),
    QueryLimit,
}

fn limits_from(p: &[u8]) -> Limits {
    let small = |bit: u8| p[0] & bit != 0;
    let mut limits = Limits {
        authenticated: !small(1),
        ..Limits::default()
    };
    if small(2) {
        limits.max_inline_len = 1 + p[1] as usize;
    }
    if small(4) {
        limits.max_bulk_len = p[2] as u64;
    }
    if small(8) {
        limits.max_multibulk_len = p[3] as u64;
    }
    if small(16) {
        limits.max_query_len = 64 + 8 * p[1] as u64;
    }
    limits
}

/// Decodes `input` fed in pieces (sizes cycled from `chunks`; whole if empty).
fn run(input: &[u8], limits: Limits, chunks: &[u8]) -> (Vec<Vec<Bytes>>, End) {
    let mut dec = RequestDecoder::new(limits);
    let mut buf = BytesMut::with_capacity(input.len());
    let mut out = Vec::new();
    let mut rest = input;
    let mut sizes = chunks.iter().cycle();
    let slot = std::mem::size_of::<Bytes>();
    while !rest.is_empty() {
        let n = match sizes.next() {
            Some(s) => (*s as usize % 64 + 1).min(rest.len()),
            None => rest.len(),
        };
        buf.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        loop {
            let cap = buf.capacity();
            let res = dec.next_request(&mut buf);
            assert!(buf.capacity() <= cap, "the decoder grew the read buffer");
            assert!(
                dec.footprint() <= 1024 * slot + input.len() * slot,
                "footprint follows a declared length"
            );
            match res {
                Ok(Some(argv)) => {
                    assert!(!argv.is_empty(), "empty requests are skipped");
                    out.push(argv);
                }
                Ok(None) => break,
                Err(DecodeError::Protocol(e)) => return (out, End::Protocol(e)),
                Err(DecodeError::QueryBufferLimit) => return (out, End::QueryLimit),
                Err(DecodeError::Io(e)) => panic!("I/O error from a pure decoder: {e}"),
            }
        }
    }
    (out, End::Waiting)
}

fn multibulk(argv: &[Bytes]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", argv.len()).into_bytes();
    for a in argv {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let (params, rest) = data.split_at(4);
    let limits = limits_from(params);
    let (chunks, input) = rest.split_at(((params[3] % 8) as usize).min(rest.len()));

    let whole = run(input, limits, &[]);
    let pieces = run(input, limits, chunks);
    assert_eq!(
        whole, pieces,
        "the result depends on how the input was split"
    );

    let encoded: Vec<u8> = whole.0.iter().flat_map(|argv| multibulk(argv)).collect();
    let (again, end) = run(&encoded, Limits::default(), &[]);
    assert_eq!(end, End::Waiting);
    assert_eq!(again, whole.0, "re-encoded requests decode differently");
});
