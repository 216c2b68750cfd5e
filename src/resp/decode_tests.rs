//! Request decoder tests: framing, chunking, inline quoting, and every limit error with Redis
//! 7.0's exact text (each case was checked against redis-server 7.0.15).

use bytes::{Bytes, BytesMut};

use super::{DecodeError, Limits, ProtocolError, RequestDecoder};

/// How a decode run ended, in a comparable form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum End {
    /// All input consumed or waiting for more.
    Waiting,
    Protocol(ProtocolError),
    QueryLimit,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Run {
    pub requests: Vec<Vec<Vec<u8>>>,
    pub end: End,
}

/// Feeds `input` in pieces of the given sizes (the rest in one piece), decoding everything
/// possible after each piece, and stops at the first error, as the connection does.
pub(super) fn run_chunked(input: &[u8], limits: Limits, sizes: &[usize]) -> Run {
    let mut dec = RequestDecoder::new(limits);
    let mut buf = BytesMut::new();
    let mut requests = Vec::new();
    let mut rest = input;
    let mut sizes = sizes.iter().copied();
    while !rest.is_empty() {
        let n = sizes.next().unwrap_or(rest.len()).clamp(1, rest.len());
        buf.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        loop {
            match dec.next_request(&mut buf) {
                Ok(Some(argv)) => requests.push(argv.iter().map(|a| a.to_vec()).collect()),
                Ok(None) => break,
                Err(DecodeError::Protocol(e)) => {
                    return Run {
                        requests,
                        end: End::Protocol(e),
                    }
                }
                Err(DecodeError::QueryBufferLimit) => {
                    return Run {
                        requests,
                        end: End::QueryLimit,
                    }
                }
                Err(DecodeError::Io(e)) => panic!("decoder produced an I/O error: {e}"),
            }
        }
    }
    Run {
        requests,
        end: End::Waiting,
    }
}

pub(super) fn run_whole(input: &[u8], limits: Limits) -> Run {
    run_chunked(input, limits, &[])
}

pub(super) fn run_bytewise(input: &[u8], limits: Limits) -> Run {
    run_chunked(input, limits, &vec![1; input.len()])
}

fn reqs(v: &[&[&[u8]]]) -> Vec<Vec<Vec<u8>>> {
    v.iter()
        .map(|r| r.iter().map(|a| a.to_vec()).collect())
        .collect()
}

/// Decodes `input` whole, byte by byte, and split at every position; all must agree.
fn decode(input: &[u8]) -> Run {
    decode_with(input, Limits::default())
}

fn decode_with(input: &[u8], limits: Limits) -> Run {
    let whole = run_whole(input, limits);
    assert_eq!(
        run_bytewise(input, limits),
        whole,
        "byte-by-byte differs for {:?}",
        show(input)
    );
    for cut in 1..input.len() {
        assert_eq!(
            run_chunked(input, limits, &[cut]),
            whole,
            "split at {cut} differs"
        );
    }
    whole
}

fn show(input: &[u8]) -> String {
    String::from_utf8_lossy(&input[..input.len().min(80)]).into_owned()
}

fn ok(input: &[u8], want: &[&[&[u8]]]) {
    assert_eq!(
        decode(input),
        Run {
            requests: reqs(want),
            end: End::Waiting
        },
        "{:?}",
        show(input)
    );
}

fn fails(input: &[u8], err: ProtocolError) {
    assert_eq!(decode(input).end, End::Protocol(err), "{:?}", show(input));
}

fn unauth() -> Limits {
    Limits {
        authenticated: false,
        ..Limits::default()
    }
}

#[test]
fn multibulk_requests() {
    ok(b"*1\r\n$4\r\nPING\r\n", &[&[b"PING"]]);
    ok(
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n",
        &[&[b"SET", b"k", b""]],
    );
    // Binary-safe: CRLF and NUL inside arguments.
    ok(
        b"*2\r\n$4\r\nECHO\r\n$4\r\n\r\n\0x\r\n",
        &[&[b"ECHO", b"\r\n\0x"]],
    );
}

#[test]
fn pipelined_requests_come_out_in_order() {
    let input = b"*2\r\n$3\r\nGET\r\n$1\r\na\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nb\r\n";
    ok(input, &[&[b"GET", b"a"], &[b"PING"], &[b"GET", b"b"]]);
}

#[test]
fn incomplete_requests_wait() {
    assert_eq!(decode(b"*2\r\n$3\r\nGET\r\n$1\r\n").requests, reqs(&[]));
    assert_eq!(decode(b"*2\r\n$3\r\nGET\r\n$1\r\na\r").requests, reqs(&[]));
    assert_eq!(decode(b"PING").requests, reqs(&[]));
    assert_eq!(decode(b"*1\r").requests, reqs(&[]));
}

#[test]
fn empty_requests_are_skipped() {
    ok(b"*0\r\n*-1\r\n*-10\r\nPING\r\n", &[&[b"PING"]]);
    ok(b"\r\n\n   \r\nPING\r\n", &[&[b"PING"]]);
}

#[test]
fn redis_skips_the_bytes_after_cr_unchecked() {
    // The byte after a header's '\r' and the two after bulk data are not checked (redis-server
    // 7.0.15 answers PONG twice to the second input).
    ok(b"*1\rX$4\rYPINGxx", &[&[b"PING"]]);
    ok(b"*1\r\n$4\r\nPINGxxPING\r\n", &[&[b"PING"], &[b"PING"]]);
    // A '\n' alone does not end a header line: "*1\n$4" is the count.
    fails(b"*1\n$4\r\nPING\r\n", ProtocolError::InvalidMultibulkLength);
}

#[test]
fn inline_requests() {
    ok(b"PING\r\n", &[&[b"PING"]]);
    ok(b"SET a b\n", &[&[b"SET", b"a", b"b"]]);
    ok(b"PING\r\r\n", &[&[b"PING"]]);
    ok(b"ECHO \"a\\x41\\n\"\r\n", &[&[b"ECHO", b"aA\n"]]);
    ok(b"ECHO 'it\\'s'\r\n", &[&[b"ECHO", b"it's"]]);
    ok(b"ECHO \"\"\r\n", &[&[b"ECHO", b""]]);
    ok(b"PING\rPING\r\n", &[&[b"PING", b"PING"]]);
    fails(b"ECHO \"abc\r\n", ProtocolError::UnbalancedQuotes);
    fails(b"ECHO \"abc\"def\r\n", ProtocolError::UnbalancedQuotes);
    fails(b"ECHO 'abc'def\r\n", ProtocolError::UnbalancedQuotes);
}

#[test]
fn inline_and_multibulk_mix() {
    ok(
        b"PING\r\n*1\r\n$4\r\nPING\r\nECHO x\n",
        &[&[b"PING"], &[b"PING"], &[b"ECHO", b"x"]],
    );
}

#[test]
fn multibulk_length_errors() {
    // Redis 7.0 accepts counts up to INT_MAX; 3000000000 is over.
    fails(b"*3000000000\r\n", ProtocolError::InvalidMultibulkLength);
    assert_eq!(decode(b"*2147483647\r\n").end, End::Waiting);
    for bad in [
        &b"*x\r\n"[..],
        b"*\r\n",
        b"*+1\r\n",
        b"*01\r\n",
        b"*1 \r\n",
        b"* 1\r\n",
    ] {
        fails(bad, ProtocolError::InvalidMultibulkLength);
    }
    let tight = Limits {
        max_multibulk_len: 1024 * 1024,
        ..Limits::default()
    };
    assert_eq!(
        decode_with(b"*1048577\r\n", tight).end,
        End::Protocol(ProtocolError::InvalidMultibulkLength)
    );
    assert_eq!(decode_with(b"*1048576\r\n", tight).end, End::Waiting);
}

#[test]
fn bulk_length_errors() {
    fails(b"*1\r\n$536870913\r\n", ProtocolError::InvalidBulkLength);
    assert_eq!(decode(b"*1\r\n$536870912\r\n").end, End::Waiting);
    for bad in [&b"$-1"[..], b"$", b"$ 4", b"$4 ", b"$04", b"$-0", b"$x"] {
        let input = [&b"*1\r\n"[..], bad, b"\r\nPING\r\n"].concat();
        fails(&input, ProtocolError::InvalidBulkLength);
    }
    let small = Limits {
        max_bulk_len: 3,
        ..Limits::default()
    };
    assert_eq!(
        decode_with(b"*1\r\n$4\r\nPING\r\n", small).end,
        End::Protocol(ProtocolError::InvalidBulkLength)
    );
}

#[test]
fn expected_dollar() {
    fails(b"*1\r\n:1\r\n", ProtocolError::ExpectedDollar(b':'));
    fails(
        b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n",
        ProtocolError::ExpectedDollar(b'f'),
    );
    fails(b"*1\r\n\r\n\r\n", ProtocolError::ExpectedDollar(b'\r'));
    // The check happens once the line is complete, as in Redis.
    assert_eq!(decode(b"*1\r\nfoo").end, End::Waiting);
}

#[test]
fn unauthenticated_limits() {
    let run = |input: &[u8]| decode_with(input, unauth()).end;
    assert_eq!(
        run(b"*11\r\n"),
        End::Protocol(ProtocolError::UnauthenticatedMultibulkLength)
    );
    assert_eq!(run(b"*10\r\n"), End::Waiting);
    assert_eq!(
        run(b"*1\r\n$16385\r\n"),
        End::Protocol(ProtocolError::UnauthenticatedBulkLength)
    );
    assert_eq!(run(b"*1\r\n$16384\r\n"), End::Waiting);
    // Redis checks validity first, then authentication.
    assert_eq!(
        run(b"*3000000000\r\n"),
        End::Protocol(ProtocolError::InvalidMultibulkLength)
    );
    assert_eq!(
        run(b"*1\r\n$536870913\r\n"),
        End::Protocol(ProtocolError::InvalidBulkLength)
    );
    // Inline requests and empty multibulks are not limited further.
    assert_eq!(
        decode_with(b"GET a b c d e f g h i j k l\r\n", unauth())
            .requests
            .len(),
        1
    );
    assert_eq!(run(b"*-100\r\n"), End::Waiting);
}

#[test]
fn authentication_applies_from_the_next_request() {
    let mut dec = RequestDecoder::new(unauth());
    let mut buf = BytesMut::from(&b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n*11\r\n"[..]);
    assert_eq!(dec.next_request(&mut buf).unwrap().unwrap().len(), 2);
    dec.set_authenticated(true);
    assert!(dec.next_request(&mut buf).unwrap().is_none());
}

#[test]
fn line_length_limits() {
    let a = |n: usize| vec![b'A'; n];
    // 64 KiB without a newline is still fine; one byte more is not.
    assert_eq!(run_whole(&a(65536), Limits::default()).end, End::Waiting);
    assert_eq!(
        run_whole(&a(65537), Limits::default()).end,
        End::Protocol(ProtocolError::TooBigInline)
    );
    let mut line = a(65536);
    line.push(b'\n');
    assert_eq!(run_whole(&line, Limits::default()).requests.len(), 1);
    let mut line = a(65537);
    line.push(b'\n');
    assert_eq!(
        run_whole(&line, Limits::default()).end,
        End::Protocol(ProtocolError::TooBigInline)
    );

    let count = [&b"*"[..], &vec![b'1'; 65536]].concat();
    assert_eq!(
        run_whole(&count, Limits::default()).end,
        End::Protocol(ProtocolError::TooBigMultibulkCount)
    );
    let bulk = [&b"*1\r\n$"[..], &vec![b'1'; 65536]].concat();
    assert_eq!(
        run_whole(&bulk, Limits::default()).end,
        End::Protocol(ProtocolError::TooBigBulkCount)
    );
    // The same outcome however the bytes arrive.
    let small = Limits {
        max_inline_len: 16,
        ..Limits::default()
    };
    assert_eq!(
        decode_with(&a(17), small).end,
        End::Protocol(ProtocolError::TooBigInline)
    );
    assert_eq!(
        decode_with(&[&a(16)[..], b"\n"].concat(), small)
            .requests
            .len(),
        1
    );
    assert_eq!(
        decode_with(b"*00000000000000001\r\n", small).end,
        End::Protocol(ProtocolError::TooBigMultibulkCount)
    );
}

#[test]
fn query_buffer_limit_counts_declared_lengths() {
    let limits = Limits {
        max_query_len: 100,
        ..Limits::default()
    };
    let mut input = b"*2\r\n$60\r\n".to_vec();
    input.extend_from_slice(&[b'x'; 60]);
    input.extend_from_slice(b"\r\n$60\r\n");
    assert_eq!(decode_with(&input, limits).end, End::QueryLimit);
    // Separate requests do not add up.
    let one = [&b"*1\r\n$60\r\n"[..], &[b'x'; 60], b"\r\n"].concat();
    assert_eq!(
        decode_with(&[&one[..], &one].concat(), limits)
            .requests
            .len(),
        2
    );
}

#[test]
fn huge_declared_lengths_allocate_nothing() {
    let mut dec = RequestDecoder::default();
    let mut buf = BytesMut::with_capacity(64);
    buf.extend_from_slice(b"*2000000000\r\n$536870912\r\nabc");
    let cap = buf.capacity();
    assert!(dec.next_request(&mut buf).unwrap().is_none());
    assert!(
        buf.capacity() <= cap,
        "the decoder never grows the read buffer"
    );
    assert!(dec.footprint() <= 1024 * std::mem::size_of::<Bytes>());
    assert_eq!(dec.bytes_wanted(buf.len()), 536870912 + 2 - 3);
}

#[test]
fn arguments_are_slices_of_the_read_buffer() {
    let mut dec = RequestDecoder::default();
    let mut buf = BytesMut::from(&b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n"[..]);
    let base = buf.as_ptr() as usize;
    let argv = dec.next_request(&mut buf).unwrap().unwrap();
    assert_eq!(argv[0].as_ptr() as usize, base + 8);
    assert_eq!(argv[1].as_ptr() as usize, base + 17);
}

#[test]
fn works_as_a_tokio_codec() {
    use tokio_util::codec::Decoder;
    let mut dec = RequestDecoder::default();
    let mut buf = BytesMut::from(&b"PING\r\n"[..]);
    assert_eq!(
        Decoder::decode(&mut dec, &mut buf).unwrap(),
        Some(vec![Bytes::from_static(b"PING")])
    );
}
