//! Golden bytes for every `Reply` variant in both protocols, checked against Redis 7's output,
//! plus an independent well-formedness check with the `redis-protocol` crate's decoders.

use bytes::{Bytes, BytesMut};
use num_bigint::BigInt;
use proptest::prelude::*;

use super::{encode, encode_protocol_error, Protocol, ProtocolError};
use crate::error::RedisError;
use crate::reply::Reply;

fn enc(reply: &Reply, proto: Protocol) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode(reply, proto, &mut out);
    out.to_vec()
}

/// The other implementation agrees that `bytes` is exactly one well-formed frame.
fn assert_one_frame(bytes: &[u8], proto: Protocol) {
    let consumed = match proto {
        Protocol::Resp2 => redis_protocol::resp2::decode::decode(bytes).map(|f| f.map(|(_, n)| n)),
        Protocol::Resp3 => {
            redis_protocol::resp3::decode::complete::decode(bytes).map(|f| f.map(|(_, n)| n))
        }
    };
    match consumed {
        Ok(Some(n)) => assert_eq!(
            n,
            bytes.len(),
            "trailing bytes in {:?}",
            String::from_utf8_lossy(bytes)
        ),
        other => panic!(
            "{proto:?} oracle rejects {:?}: {other:?}",
            String::from_utf8_lossy(bytes)
        ),
    }
}

/// Checks both encodings against their golden bytes and the oracle.
fn golden(reply: Reply, resp2: &[u8], resp3: &[u8]) {
    let got2 = enc(&reply, Protocol::Resp2);
    assert_eq!(
        got2,
        resp2,
        "RESP2 {reply:?}: {:?}",
        String::from_utf8_lossy(&got2)
    );
    let got3 = enc(&reply, Protocol::Resp3);
    assert_eq!(
        got3,
        resp3,
        "RESP3 {reply:?}: {:?}",
        String::from_utf8_lossy(&got3)
    );
    assert_one_frame(&got2, Protocol::Resp2);
    assert_one_frame(&got3, Protocol::Resp3);
}

fn same(reply: Reply, both: &[u8]) {
    golden(reply, both, both);
}

#[test]
fn status_lines() {
    same(Reply::OK, b"+OK\r\n");
    same(Reply::Simple("PONG"), b"+PONG\r\n");
    same(Reply::Status("string".into()), b"+string\r\n");
    // Framing survives a contract breach.
    same(Reply::Status("a\r\nb".into()), b"+a  b\r\n");
}

#[test]
fn errors() {
    same(
        Reply::Error(RedisError::WrongType),
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    same(
        RedisError::arity("GET").into(),
        b"-ERR wrong number of arguments for 'get' command\r\n",
    );
    same(
        RedisError::generic("two\r\nlines").into(),
        b"-ERR two  lines\r\n",
    );
    same(
        RedisError::Protocol("invalid bulk length".into()).into(),
        b"-ERR Protocol error: invalid bulk length\r\n",
    );
}

#[test]
fn integers() {
    same(Reply::Int(0), b":0\r\n");
    same(Reply::Int(-42), b":-42\r\n");
    same(Reply::Int(i64::MIN), b":-9223372036854775808\r\n");
    let big: BigInt = "123456789012345678901234567890".parse().unwrap();
    golden(
        Reply::BigInt(big),
        b"$30\r\n123456789012345678901234567890\r\n",
        b"(123456789012345678901234567890\r\n",
    );
    let neg: BigInt = "-99999999999999999999".parse().unwrap();
    golden(
        Reply::integer(&neg),
        b"$21\r\n-99999999999999999999\r\n",
        b"(-99999999999999999999\r\n",
    );
}

#[test]
fn bulk_strings() {
    same(Reply::bulk("foo"), b"$3\r\nfoo\r\n");
    same(Reply::bulk(""), b"$0\r\n\r\n");
    same(
        Reply::Bulk(Bytes::from_static(b"a\r\n\x00b")),
        b"$5\r\na\r\n\x00b\r\n",
    );
}

#[test]
fn nulls() {
    golden(Reply::Nil, b"$-1\r\n", b"_\r\n");
    golden(Reply::NilArray, b"*-1\r\n", b"_\r\n");
}

#[test]
fn arrays() {
    same(Reply::Array(vec![]), b"*0\r\n");
    golden(
        Reply::Array(vec![Reply::Int(1), Reply::bulk("a"), Reply::Nil]),
        b"*3\r\n:1\r\n$1\r\na\r\n$-1\r\n",
        b"*3\r\n:1\r\n$1\r\na\r\n_\r\n",
    );
    same(
        Reply::Array(vec![Reply::Array(vec![Reply::OK]), Reply::Array(vec![])]),
        b"*2\r\n*1\r\n+OK\r\n*0\r\n",
    );
}

#[test]
fn maps_flatten_for_resp2() {
    golden(
        Reply::Map(vec![
            (Reply::bulk("a"), Reply::Int(1)),
            (Reply::bulk("b"), Reply::Nil),
        ]),
        b"*4\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n$-1\r\n",
        b"%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n_\r\n",
    );
    golden(Reply::Map(vec![]), b"*0\r\n", b"%0\r\n");
    // Nested: an array holding a map (e.g. COMMAND DOCS) flattens only the map.
    golden(
        Reply::Array(vec![Reply::Map(vec![(
            Reply::Simple("k"),
            Reply::Bool(true),
        )])]),
        b"*1\r\n*2\r\n+k\r\n:1\r\n",
        b"*1\r\n%1\r\n+k\r\n#t\r\n",
    );
}

#[test]
fn sets_become_arrays_for_resp2() {
    golden(
        Reply::Set(vec![Reply::bulk("x"), Reply::bulk("y")]),
        b"*2\r\n$1\r\nx\r\n$1\r\ny\r\n",
        b"~2\r\n$1\r\nx\r\n$1\r\ny\r\n",
    );
}

#[test]
fn doubles() {
    golden(Reply::Double(1.5), b"$3\r\n1.5\r\n", b",1.5\r\n");
    golden(
        Reply::Double(0.1),
        b"$19\r\n0.10000000000000001\r\n",
        b",0.10000000000000001\r\n",
    );
    golden(Reply::Double(3.0), b"$1\r\n3\r\n", b",3\r\n");
    golden(Reply::Double(f64::INFINITY), b"$3\r\ninf\r\n", b",inf\r\n");
    golden(
        Reply::Double(f64::NEG_INFINITY),
        b"$4\r\n-inf\r\n",
        b",-inf\r\n",
    );
    golden(
        Reply::Double(1e300),
        b"$23\r\n1.0000000000000001e+300\r\n",
        b",1.0000000000000001e+300\r\n",
    );
}

#[test]
fn booleans() {
    golden(Reply::Bool(true), b":1\r\n", b"#t\r\n");
    golden(Reply::Bool(false), b":0\r\n", b"#f\r\n");
}

#[test]
fn verbatim() {
    golden(
        Reply::Verbatim("hi".into()),
        b"$2\r\nhi\r\n",
        b"=6\r\ntxt:hi\r\n",
    );
    golden(
        Reply::Verbatim("# Server\r\nredis_version:7.0.15\r\n".into()),
        b"$32\r\n# Server\r\nredis_version:7.0.15\r\n\r\n",
        b"=36\r\ntxt:# Server\r\nredis_version:7.0.15\r\n\r\n",
    );
}

#[test]
fn protocol_errors_are_byte_exact() {
    let mut out = BytesMut::new();
    encode_protocol_error(&ProtocolError::InvalidMultibulkLength, &mut out);
    assert_eq!(
        &out[..],
        b"-ERR Protocol error: invalid multibulk length\r\n"
    );
    out.clear();
    encode_protocol_error(&ProtocolError::ExpectedDollar(b':'), &mut out);
    assert_eq!(&out[..], b"-ERR Protocol error: expected '$', got ':'\r\n");
    // Redis prints the byte raw, and turns CR/LF into spaces.
    out.clear();
    encode_protocol_error(&ProtocolError::ExpectedDollar(0xe9), &mut out);
    assert_eq!(
        &out[..],
        b"-ERR Protocol error: expected '$', got '\xe9'\r\n"
    );
    out.clear();
    encode_protocol_error(&ProtocolError::ExpectedDollar(b'\r'), &mut out);
    assert_eq!(&out[..], b"-ERR Protocol error: expected '$', got ' '\r\n");
}

#[test]
fn encoding_appends() {
    let mut out = BytesMut::new();
    encode(&Reply::OK, Protocol::Resp2, &mut out);
    encode(&Reply::bulk("v"), Protocol::Resp2, &mut out);
    assert_eq!(&out[..], b"+OK\r\n$1\r\nv\r\n");
}

fn arb_reply() -> impl Strategy<Value = Reply> {
    let leaf = prop_oneof![
        Just(Reply::OK),
        "[ -~]{0,20}".prop_map(Reply::Status),
        "[ -~\r\n]{0,20}".prop_map(|s| Reply::Error(RedisError::Generic(s))),
        any::<i64>().prop_map(Reply::Int),
        any::<i128>().prop_map(|n| Reply::integer(&BigInt::from(n))),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(|v| Reply::Bulk(Bytes::from(v))),
        Just(Reply::Nil),
        Just(Reply::NilArray),
        // The oracle parses RESP3 doubles with Rust's float parser, which knows "inf" but not
        // every spelling; finite values are what matter here.
        (-1e300f64..1e300).prop_map(Reply::Double),
        any::<bool>().prop_map(Reply::Bool),
        "[ -~\r\n]{0,30}".prop_map(Reply::Verbatim),
    ];
    // The oracle builds hash sets and maps, so it only accepts hashable scalars as set members
    // and map keys (its restriction, not RESP's).
    let key = || {
        prop_oneof![
            "[a-z]{0,8}".prop_map(Reply::Status),
            any::<i64>().prop_map(Reply::Int),
            proptest::collection::vec(any::<u8>(), 0..12).prop_map(|v| Reply::Bulk(Bytes::from(v))),
        ]
    };
    leaf.prop_recursive(3, 40, 5, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Reply::Array),
            proptest::collection::vec(key(), 0..5).prop_map(Reply::Set),
            proptest::collection::vec((key(), inner), 0..4).prop_map(Reply::Map),
        ]
    })
}

proptest! {
    /// Whatever a reply holds, both encodings are exactly one frame to another implementation.
    #[test]
    fn every_reply_is_one_well_formed_frame(reply in arb_reply()) {
        assert_one_frame(&enc(&reply, Protocol::Resp2), Protocol::Resp2);
        assert_one_frame(&enc(&reply, Protocol::Resp3), Protocol::Resp3);
    }
}
