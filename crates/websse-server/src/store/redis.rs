//! The Redis Streams answer log: every instance on the same Redis serves every answer.
//!
//! Keys, for an answer `sid` under the prefix `P`:
//! - `P:{sid}`: the stream. Entry ids are `1-<seq>`, so the client's event id `<sid>:<seq>` maps
//!   to one entry id and back without a lookup, and `XADD` with an explicit id refuses a second
//!   writer of the same seq: whoever appends the end first wins. Fields: `model` (start), `t`
//!   (delta), `end` and `msg` (end). Trimmed to `max_entries` with `MAXLEN =`; expires `ttl`
//!   after its last entry.
//! - `P:{sid}:hb`: the producer's heartbeat, refreshed every [`HEARTBEAT_EVERY`], expiring after
//!   [`HEARTBEAT_TTL`]. A reader that finds no heartbeat and no end appends `interrupted` itself.
//! - `P:{sid}:stop`: set by the stop route on any instance; the producer's heartbeat task reads it.
//!
//! Writes and short reads share one multiplexed connection; every reader that blocks in `XREAD`
//! gets a connection of its own, because a blocked command holds up everything queued behind it
//! on a shared one.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use redis::aio::MultiplexedConnection;
use redis::streams::{StreamId, StreamRangeReply, StreamReadReply};
use redis::{AsyncConnectionConfig, Client, Value};
use tokio::sync::{OnceCell, watch};

use super::{AnswerLog, Cursor, EndReason, Entry, OpenError, Producer, StoreError};
use crate::util;

/// How often a producer refreshes its heartbeat and looks for a stop request.
const HEARTBEAT_EVERY: Duration = Duration::from_millis(250);
/// A heartbeat not refreshed for this long means the producer is dead.
const HEARTBEAT_TTL: Duration = Duration::from_millis(1000);
/// How long one `XREAD` blocks before the reader checks the heartbeat; with [`HEARTBEAT_TTL`] it
/// bounds how late a reader notices a dead producer (about 1.5 s).
const BLOCK: Duration = Duration::from_millis(500);
/// Entries fetched per read.
const BATCH: usize = 512;

fn store_error(e: redis::RedisError) -> StoreError {
    StoreError(format!("redis: {e}"))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// The shared parts: the client, the shared connection and the settings.
struct Inner {
    client: Result<Client, String>,
    shared: OnceCell<MultiplexedConnection>,
    prefix: String,
    ttl: Duration,
    max_entries: usize,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisLog")
            .field("prefix", &self.prefix)
            .field("ttl", &self.ttl)
            .field("max_entries", &self.max_entries)
            .finish_non_exhaustive()
    }
}

impl Inner {
    fn client(&self) -> Result<&Client, StoreError> {
        self.client.as_ref().map_err(|e| StoreError(e.clone()))
    }

    /// The shared multiplexed connection, opened on first use.
    async fn shared(&self) -> Result<MultiplexedConnection, StoreError> {
        let client = self.client()?;
        self.shared
            .get_or_try_init(|| async {
                client
                    .get_multiplexed_async_connection()
                    .await
                    .map_err(store_error)
            })
            .await
            .cloned()
    }

    /// A connection for one blocking reader: no response timeout shorter than its block.
    async fn dedicated(&self) -> Result<MultiplexedConnection, StoreError> {
        let config =
            AsyncConnectionConfig::new().set_response_timeout(Some(BLOCK + Duration::from_secs(5)));
        self.client()?
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(store_error)
    }

    fn key(&self, sid: &str) -> String {
        format!("{}:{sid}", self.prefix)
    }

    /// `XADD key [MAXLEN = n] 1-<seq> field value ...` and `PEXPIRE key ttl`, in one round trip.
    async fn append(
        &self,
        conn: &mut MultiplexedConnection,
        key: &str,
        seq: u64,
        fields: &[(&str, &str)],
    ) -> Result<(), StoreError> {
        let mut xadd = redis::cmd("XADD");
        xadd.arg(key)
            .arg("MAXLEN")
            .arg("=")
            .arg(self.max_entries)
            .arg(format!("1-{seq}"));
        for (k, v) in fields {
            xadd.arg(*k).arg(*v);
        }
        let mut pipe = redis::pipe();
        pipe.add_command(xadd)
            .ignore()
            .cmd("PEXPIRE")
            .arg(key)
            .arg(millis(self.ttl))
            .ignore();
        pipe.query_async::<()>(conn).await.map_err(store_error)
    }
}

/// Answers in Redis Streams, shared by every instance on the same Redis.
#[derive(Debug, Clone)]
pub(crate) struct RedisLog(Arc<Inner>);

impl RedisLog {
    /// A log on the Redis at `url` (`redis://host:port/db`); nothing connects until first use.
    /// Keys start with `prefix`; answers expire `ttl` after their last entry and keep at most
    /// `max_entries` entries.
    pub(crate) fn new(url: &str, prefix: &str, ttl: Duration, max_entries: usize) -> Self {
        Self(Arc::new(Inner {
            client: Client::open(url).map_err(|e| format!("redis URL {url:?}: {e}")),
            shared: OnceCell::new(),
            prefix: prefix.to_owned(),
            ttl,
            max_entries: max_entries.max(2),
        }))
    }

    async fn create_now(&self, model: &str) -> Result<Box<dyn Producer>, OpenError> {
        let inner = &self.0;
        let mut conn = inner.shared().await?;
        let sid = util::new_stream_id();
        let key = inner.key(&sid);
        let hb_key = format!("{key}:hb");
        redis::cmd("SET")
            .arg(&hb_key)
            .arg(1)
            .arg("PX")
            .arg(millis(HEARTBEAT_TTL))
            .query_async::<()>(&mut conn)
            .await
            .map_err(store_error)?;
        inner
            .append(&mut conn, &key, 0, &[("model", model)])
            .await?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let heartbeat = tokio::spawn(heartbeat(
            conn.clone(),
            hb_key,
            format!("{key}:stop"),
            stop_tx,
        ));
        Ok(Box::new(RedisProducer {
            log: self.clone(),
            conn,
            sid,
            key,
            seq: 0,
            stop: stop_rx,
            heartbeat,
            finished: false,
        }))
    }

    async fn open_now(&self, sid: &str, from: u64) -> Result<Box<dyn Cursor>, OpenError> {
        let inner = &self.0;
        let mut conn = inner.shared().await?;
        let key = inner.key(sid);
        let range: StreamRangeReply = redis::cmd("XRANGE")
            .arg(&key)
            .arg(format!("1-{from}"))
            .arg("+")
            .arg("COUNT")
            .arg(BATCH)
            .query_async(&mut conn)
            .await
            .map_err(store_error)?;
        let mut buf = VecDeque::with_capacity(range.ids.len());
        for id in &range.ids {
            buf.push_back(parse_entry(id)?);
        }
        match buf.front() {
            Some((first, _)) if *first > from => return Err(OpenError::Gone),
            Some(_) => {}
            None => {
                let last: StreamRangeReply = redis::cmd("XREVRANGE")
                    .arg(&key)
                    .arg("+")
                    .arg("-")
                    .arg("COUNT")
                    .arg(1)
                    .query_async(&mut conn)
                    .await
                    .map_err(store_error)?;
                let Some(last) = last.ids.first() else {
                    return Err(OpenError::Unknown);
                };
                let (seq, entry) = parse_entry(last)?;
                let ended = matches!(entry, Entry::End(_));
                if from > seq + 1 || (from == seq + 1 && ended) {
                    return Err(if ended {
                        OpenError::Complete
                    } else {
                        OpenError::Ahead { last: seq }
                    });
                }
            }
        }
        Ok(Box::new(RedisCursor {
            log: self.clone(),
            key,
            next: from,
            buf,
            blocking: None,
        }))
    }

    async fn stop_now(&self, sid: &str) -> Result<bool, StoreError> {
        let inner = &self.0;
        let mut conn = inner.shared().await?;
        let key = inner.key(sid);
        let exists: bool = redis::cmd("EXISTS")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .map_err(store_error)?;
        if exists {
            redis::cmd("SET")
                .arg(format!("{key}:stop"))
                .arg(1)
                .arg("PX")
                .arg(millis(inner.ttl))
                .query_async::<()>(&mut conn)
                .await
                .map_err(store_error)?;
        }
        Ok(exists)
    }
}

impl AnswerLog for RedisLog {
    fn create<'a>(&'a self, model: &'a str) -> BoxFuture<'a, Result<Box<dyn Producer>, OpenError>> {
        Box::pin(self.create_now(model))
    }

    fn open<'a>(
        &'a self,
        sid: &'a str,
        from: u64,
    ) -> BoxFuture<'a, Result<Box<dyn Cursor>, OpenError>> {
        Box::pin(self.open_now(sid, from))
    }

    fn stop<'a>(&'a self, sid: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(self.stop_now(sid))
    }
}

/// Keep the heartbeat alive and pass a stop request on, until aborted by the producer.
async fn heartbeat(
    mut conn: MultiplexedConnection,
    hb_key: String,
    stop_key: String,
    stop: watch::Sender<bool>,
) {
    let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(&hb_key)
            .arg(1)
            .arg("PX")
            .arg(millis(HEARTBEAT_TTL))
            .ignore()
            .cmd("EXISTS")
            .arg(&stop_key);
        match pipe.query_async::<(bool,)>(&mut conn).await {
            Ok((true,)) => {
                stop.send_replace(true);
            }
            Ok((false,)) => {}
            Err(e) => tracing::warn!(key = %hb_key, "heartbeat failed: {e}"),
        }
    }
}

/// Entry id `1-<seq>` and its fields, read back.
fn parse_entry(id: &StreamId) -> Result<(u64, Entry), StoreError> {
    let bad = || StoreError(format!("redis: unexpected stream entry {:?}", id.id));
    let seq = id
        .id
        .strip_prefix("1-")
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(bad)?;
    let field = |name: &str| -> Option<String> {
        match id.map.get(name)? {
            Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
            Value::SimpleString(s) => Some(s.clone()),
            _ => None,
        }
    };
    let entry = if let Some(t) = field("t") {
        Entry::Delta(t.into())
    } else if let Some(reason) = field("end") {
        Entry::End(EndReason::parse(&reason, field("msg")))
    } else if let Some(model) = field("model") {
        Entry::Start {
            model: model.into(),
        }
    } else {
        return Err(bad());
    };
    Ok((seq, entry))
}

/// The producer of one answer in Redis.
struct RedisProducer {
    log: RedisLog,
    conn: MultiplexedConnection,
    sid: String,
    key: String,
    seq: u64,
    stop: watch::Receiver<bool>,
    heartbeat: tokio::task::JoinHandle<()>,
    finished: bool,
}

impl fmt::Debug for RedisProducer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisProducer")
            .field("key", &self.key)
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl Producer for RedisProducer {
    fn sid(&self) -> &str {
        &self.sid
    }

    fn push<'a>(&'a mut self, text: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let seq = self.seq + 1;
            self.log
                .0
                .append(&mut self.conn, &self.key, seq, &[("t", text)])
                .await?;
            self.seq = seq;
            Ok(())
        })
    }

    fn finish(mut self: Box<Self>, reason: EndReason) -> BoxFuture<'static, ()> {
        self.finished = true;
        self.heartbeat.abort();
        Box::pin(async move {
            let seq = self.seq + 1;
            let mut fields = vec![("end", reason.as_str())];
            if let Some(m) = reason.message() {
                fields.push(("msg", m));
            }
            let mut conn = self.conn.clone();
            if let Err(e) = self.log.0.append(&mut conn, &self.key, seq, &fields).await {
                // Another instance ended it first (interrupted), or Redis is down.
                tracing::warn!(sid = %self.sid, "could not record the end: {e}");
            }
            let _ = redis::cmd("DEL")
                .arg(format!("{}:hb", self.key))
                .arg(format!("{}:stop", self.key))
                .query_async::<()>(&mut conn)
                .await;
        })
    }

    fn stop_requested(&self) -> watch::Receiver<bool> {
        self.stop.clone()
    }
}

impl Drop for RedisProducer {
    fn drop(&mut self) {
        // Without the heartbeat, readers end the answer `interrupted` within a second or two.
        self.heartbeat.abort();
        if !self.finished {
            tracing::warn!(sid = %self.sid, "producer dropped before the end");
        }
    }
}

/// A reader of one answer in Redis.
struct RedisCursor {
    log: RedisLog,
    key: String,
    next: u64,
    buf: VecDeque<(u64, Entry)>,
    blocking: Option<MultiplexedConnection>,
}

impl RedisCursor {
    async fn fill(&mut self) -> Result<(), StoreError> {
        let inner = &self.log.0;
        let conn = match &mut self.blocking {
            Some(conn) => conn,
            None => self.blocking.insert(inner.dedicated().await?),
        };
        let after = match self.next {
            0 => "0-0".to_owned(),
            n => format!("1-{}", n - 1),
        };
        let reply: Option<StreamReadReply> = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(BATCH)
            .arg("BLOCK")
            .arg(millis(BLOCK))
            .arg("STREAMS")
            .arg(&self.key)
            .arg(&after)
            .query_async(conn)
            .await
            .map_err(store_error)?;
        let ids = reply
            .and_then(|r| r.keys.into_iter().next())
            .map(|k| k.ids)
            .unwrap_or_default();
        if !ids.is_empty() {
            for id in &ids {
                self.buf.push_back(parse_entry(id)?);
            }
            return Ok(());
        }
        // Nothing new for a while: is the producer still alive, is the answer still there?
        let (alive, exists): (bool, bool) = redis::pipe()
            .cmd("EXISTS")
            .arg(format!("{}:hb", self.key))
            .cmd("EXISTS")
            .arg(&self.key)
            .query_async(conn)
            .await
            .map_err(store_error)?;
        if !exists {
            self.buf.push_back((self.next, Entry::End(EndReason::Gone)));
        } else if !alive {
            // Only one end gets in: if the producer's own end is there already, this fails
            // and the next read returns that one.
            let _ = redis::cmd("XADD")
                .arg(&self.key)
                .arg("NOMKSTREAM")
                .arg(format!("1-{}", self.next))
                .arg("end")
                .arg(EndReason::Interrupted.as_str())
                .query_async::<Value>(conn)
                .await;
        }
        Ok(())
    }
}

impl Cursor for RedisCursor {
    fn next(&mut self) -> BoxFuture<'_, Result<(u64, Entry), StoreError>> {
        Box::pin(async move {
            loop {
                if let Some((seq, entry)) = self.buf.pop_front() {
                    if seq > self.next {
                        // Trimmed under a reader that fell behind.
                        self.buf.clear();
                        return Ok((self.next, Entry::End(EndReason::Gone)));
                    }
                    if seq < self.next {
                        continue;
                    }
                    self.next = seq + 1;
                    return Ok((seq, entry));
                }
                self.fill().await?;
            }
        })
    }
}
