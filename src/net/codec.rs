//! The request-response codec: one length-prefixed byte string per request and per response.
//!
//! Frame = `u32 big-endian length ‖ bytes`. The length is checked against the configured
//! maximum *before* anything is read or allocated, and the body is read incrementally
//! (`take(len)`), so a peer announcing 4 GiB and sending 10 bytes costs us 10 bytes, and one
//! announcing more than the limit costs nothing. An empty body is a valid (empty) answer.

use std::io;

use futures::prelude::*;
use libp2p::request_response::Codec;
use libp2p::StreamProtocol;

/// Raw bytes in both directions, at most `max_bytes` each.
#[derive(Debug, Clone)]
pub struct BytesCodec {
    pub max_bytes: usize,
}

/// Reads one frame, refusing lengths over `max` and short bodies.
pub async fn read_frame<T: AsyncRead + Unpin + Send>(
    io: &mut T,
    max: usize,
) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes exceeds the limit of {max}"),
        ));
    }
    // No `with_capacity(len)`: the buffer grows only as bytes actually arrive.
    let mut buf = Vec::new();
    io.take(len as u64).read_to_end(&mut buf).await?;
    if buf.len() != len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("frame announced {len} bytes but carried {}", buf.len()),
        ));
    }
    Ok(buf)
}

/// Writes one frame, refusing to send what the remote would refuse, in one write (one yamux
/// frame, not a separate one for the length). The request-response handler closes the stream
/// afterwards; a per-peer stream (`streams`) stays open.
pub async fn write_frame<T: AsyncWrite + Unpin + Send>(
    io: &mut T,
    data: &[u8],
    max: usize,
) -> io::Result<()> {
    if data.len() > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("frame of {} bytes exceeds the limit of {max}", data.len()),
        ));
    }
    let len = u32::try_from(data.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame longer than 4 GiB"))?;
    let mut frame = Vec::with_capacity(4 + data.len());
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(data);
    io.write_all(&frame).await
}

impl Codec for BytesCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io, self.max_bytes).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io, self.max_bytes).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &req, self.max_bytes).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &res, self.max_bytes).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::io::Cursor;

    fn block<F: Future>(f: F) -> F::Output {
        futures::executor::block_on(f)
    }

    #[test]
    fn round_trip() {
        let mut out = Cursor::new(Vec::new());
        block(write_frame(&mut out, b"hello", 16)).expect("write");
        let bytes = out.into_inner();
        assert_eq!(bytes, b"\x00\x00\x00\x05hello");
        let got = block(read_frame(&mut Cursor::new(bytes), 16)).expect("read");
        assert_eq!(got, b"hello");
    }

    #[test]
    fn empty_frame_is_valid() {
        let got = block(read_frame(&mut Cursor::new(vec![0, 0, 0, 0]), 16)).expect("read");
        assert!(got.is_empty());
    }

    #[test]
    fn oversized_length_is_refused_before_reading() {
        // Announces 4 GiB - 1 with no body: refused on the length alone.
        let err = block(read_frame(&mut Cursor::new(vec![0xff; 4]), 16)).expect_err("too big");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let err = block(read_frame(
            &mut Cursor::new(b"\x00\x00\x00\x11".to_vec()),
            16,
        ))
        .expect_err("17 > 16");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn short_body_is_refused() {
        let err = block(read_frame(
            &mut Cursor::new(b"\x00\x00\x00\x05hi".to_vec()),
            16,
        ))
        .expect_err("short");
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn writer_refuses_oversized() {
        let mut out = Cursor::new(Vec::new());
        assert!(block(write_frame(&mut out, &[0; 17], 16)).is_err());
        assert!(out.into_inner().is_empty());
    }
}
