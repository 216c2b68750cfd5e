//! Benchmark scaffolding, not sporedb: the wire front end (`sporedb::server`) serving a toy
//! in-memory GET/SET service, to measure the front end alone with `redis-benchmark`.
//!
//! ```text
//! cargo run --release --example frontend_kv -- 7777 [--deferred]
//! redis-benchmark -p 7777 -t get,set -c 50 -P 16 -n 2000000 -q
//! ```
//!
//! `--deferred` makes SET answer through `Outcome::Deferred` (an already-resolved future), to
//! measure the write path's queueing cost without any consensus behind it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use sporedb::error::RedisError;
use sporedb::reply::Reply;
use sporedb::server::{ClientHandle, Listener, Outcome, ServerConfig, Service};
use tokio_util::sync::CancellationToken;

struct Kv {
    map: RwLock<HashMap<Bytes, Bytes>>,
    deferred: bool,
}

impl Service for Kv {
    type Session = ();

    fn open(&self, _client: ClientHandle) {}

    fn dispatch(&self, _s: &mut (), argv: Vec<Bytes>) -> Outcome {
        let name = &argv[0];
        let reply = if name.eq_ignore_ascii_case(b"GET") && argv.len() == 2 {
            let map = self.map.read().unwrap_or_else(|e| e.into_inner());
            map.get(&argv[1]).cloned().map_or(Reply::Nil, Reply::Bulk)
        } else if name.eq_ignore_ascii_case(b"SET") && argv.len() == 3 {
            // Copy: argv shares the connection's read buffer.
            let (k, v) = (
                Bytes::copy_from_slice(&argv[1]),
                Bytes::copy_from_slice(&argv[2]),
            );
            self.map
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(k, v);
            if self.deferred {
                return Outcome::Deferred(Box::pin(async { Reply::OK }));
            }
            Reply::OK
        } else if name.eq_ignore_ascii_case(b"PING") {
            Reply::Simple("PONG")
        } else if name.eq_ignore_ascii_case(b"CONFIG") && argv.len() == 3 {
            // redis-benchmark asks for `save` and `appendonly` before it starts.
            Reply::Array(vec![Reply::Bulk(argv[2].clone()), Reply::bulk("")])
        } else {
            let name = String::from_utf8_lossy(name).into_owned();
            RedisError::UnknownCommand { name, args: vec![] }.into()
        };
        Outcome::Reply(reply)
    }

    fn is_barrier_free(&self, _s: &(), argv: &[Bytes]) -> bool {
        argv[0].eq_ignore_ascii_case(b"SET")
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(7777);
    let deferred = args.any(|a| a == "--deferred");
    let config = ServerConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], port)),
        ..ServerConfig::default()
    };
    let service = Arc::new(Kv {
        map: RwLock::new(HashMap::new()),
        deferred,
    });
    let listener = Listener::bind(config, service).await?;
    println!("frontend_kv listening on {}", listener.local_addr()?);
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        stop.cancel();
    });
    listener.run(shutdown).await;
    Ok(())
}
