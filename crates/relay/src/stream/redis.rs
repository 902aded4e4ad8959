//! The Redis Streams backend: several relay instances act as one.
//!
//! Per merchant, `paydesk:{m}:meta` (a hash: `epoch`, `offset`) and `paydesk:{m}:events` (a
//! stream, entries `o` offset, `e` epoch, `t` Redis time ms, `b` raw webhook body, and for
//! a routed event `r` its till and `p` the previous offset routed there). One Lua script
//! claims the event id, routes, assigns the offset (HINCRBY) and XADDs with `MAXLEN ~`, so
//! offsets, routes, stream order and the replay memory can never disagree; another reads
//! the head and what a session missed atomically for a resume. Losing the meta hash (a
//! flushed Redis) starts a new epoch and drops the stream, so every old position is
//! plainly `not_recovered`.
//!
//! The same script also appends the event to one fan-out stream for every merchant,
//! `paydesk:fanout` (entries as above plus `m`, the merchant; `MAXLEN ~ 10000`). Each
//! instance reads that one stream with `XREAD BLOCK` on a connection of its own and fans
//! entries out through its local hub: a webhook stored by instance A reaches sessions on B
//! the same way it reaches A's, and the read costs the same for 1 merchant or 10,000 (a
//! read over every merchant's stream cost ~0.5 ms of relay CPU per event at 2,000).
//!
//! Routing state: `paydesk:{m}:tills` (a hash, till → last offset routed to it, reset with
//! the epoch) and `paydesk:{m}:pay:<payment id>` (the payment's till, with a TTL: refunds
//! are routed by it). Tickets (`paydesk:ticket:<sha256>`, GETDEL) and the replay memory
//! (`paydesk:{m}:seen:<id>`, holding where the event was stored) live in Redis too, so any
//! instance accepts a ticket another issued and a replay is caught whichever instance it
//! hits.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::FutureExt as _;
use paydesk_protocol::wire::StreamPosition;
use paydesk_protocol::Secret;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::{AsyncConnectionConfig, Value};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use super::hub::Hub;
use super::{
    decide, new_epoch, Appended, Audience, Backend, BackendError, NewEvent, Pushed, RouteBy, Since,
    Stored, StreamState, TicketGrant,
};

/// Entries kept in the fan-out stream: what a reader cut off from Redis can catch up on
/// (at 200 webhooks a second, 50 s); tills resume from their merchant's stream beyond that.
const FANOUT_MAXLEN: usize = 10_000;

/// Claims the event id, routes, assigns the offset and appends, in one atomic step: a
/// claim exists only with its event. (Sent during a Redis stall and run when Redis
/// resumes, after the webhook was answered 503, it still stores the event exactly once,
/// and the sender's retry is acknowledged as a duplicate of it.)
///
/// KEYS: meta, stream, fanout, seen, tills, owner.
/// ARGV: new epoch, maxlen, max age ms, body, merchant, fanout maxlen, window ms,
/// route mode ('till' | 'ask'), till, owner ttl ms.
const APPEND: &str = r#"
local meta, stream, fanout, seen, tills, owner = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local prior = redis.call('GET', seen)
if prior then
  return {'dup', prior}
end
local epoch = redis.call('HGET', meta, 'epoch')
if not epoch then
  epoch = ARGV[1]
  redis.call('DEL', stream, tills)
  redis.call('HSET', meta, 'epoch', epoch, 'offset', 0)
end
local offset = redis.call('HINCRBY', meta, 'offset', 1)
local till
if ARGV[8] == 'till' then
  till = ARGV[9]
  redis.call('SET', owner, till, 'PX', ARGV[10])
else
  till = redis.call('GET', owner)
end
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local fields = {'o', offset, 'e', epoch, 't', now_ms, 'b', ARGV[4]}
if till then
  local prev = redis.call('HGET', tills, till) or '0'
  redis.call('HSET', tills, till, offset)
  table.insert(fields, 'r')
  table.insert(fields, till)
  table.insert(fields, 'p')
  table.insert(fields, prev)
end
redis.call('XADD', stream, 'MAXLEN', '~', ARGV[2], '*', unpack(fields))
redis.call('XTRIM', stream, 'MINID', '~', string.format('%d', now_ms - tonumber(ARGV[3])))
redis.call('XADD', fanout, 'MAXLEN', '~', ARGV[6], '*', 'm', ARGV[5], unpack(fields))
redis.call('SET', seen, epoch .. ':' .. offset, 'PX', ARGV[7])
return {'new', epoch, offset, till or ''}
"#;

/// The head and what a session missed, read atomically. A merchant-scope session reads
/// the newest `head - from` entries; a till walks the stream back to its position and keeps
/// only its own entries (a till's position may be far older than the history when nothing
/// was routed to it since).
///
/// KEYS: meta, stream, tills. ARGV: new epoch, from (-1: none), max events, till ('' for
/// the merchant).
const SINCE: &str = r#"
local meta, stream, tills = KEYS[1], KEYS[2], KEYS[3]
if redis.call('HEXISTS', meta, 'epoch') == 0 then
  redis.call('DEL', stream, tills)
  redis.call('HSET', meta, 'epoch', ARGV[1], 'offset', 0)
end
local epoch = redis.call('HGET', meta, 'epoch')
local head = tonumber(redis.call('HGET', meta, 'offset'))
local from = tonumber(ARGV[2])
local till = ARGV[4]
local entries = {}
local last = 0
if till ~= '' then
  last = tonumber(redis.call('HGET', tills, till) or '0')
  if from >= 0 and from < last and from < head then
    local cursor = '+'
    local done = false
    while not done do
      local page = redis.call('XREVRANGE', stream, cursor, '-', 'COUNT', 100)
      if #page == 0 then break end
      for _, entry in ipairs(page) do
        local f = entry[2]
        local o, r = 0, nil
        for i = 1, #f, 2 do
          if f[i] == 'o' then o = tonumber(f[i + 1]) elseif f[i] == 'r' then r = f[i + 1] end
        end
        -- Below the position, or beyond the history (MAXLEN ~ keeps a little more than
        -- max events; a resume uses exactly max events, as in memory).
        if o <= from or o <= head - tonumber(ARGV[3]) then
          done = true
          break
        end
        if r == till then table.insert(entries, entry) end
      end
      cursor = '(' .. page[#page][1]
    end
  end
elseif from >= 0 and from < head and head - from <= tonumber(ARGV[3]) then
  entries = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', head - from)
end
local t = redis.call('TIME')
return {epoch, head, entries, tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), last}
"#;

fn meta_key(m: &str) -> String {
    format!("paydesk:{{{m}}}:meta")
}

/// The one stream every instance reads for live events (see the module docs).
const FANOUT_KEY: &str = "paydesk:fanout";

fn stream_key(m: &str) -> String {
    format!("paydesk:{{{m}}}:events")
}

fn seen_key(m: &str, key: &str) -> String {
    format!("paydesk:{{{m}}}:seen:{key}")
}

/// Till → the offset of the last event routed to it this epoch.
fn tills_key(m: &str) -> String {
    format!("paydesk:{{{m}}}:tills")
}

/// Payment id → the till that created it (for its refunds), with a TTL.
fn owner_key(m: &str, payment_id: &str) -> String {
    format!("paydesk:{{{m}}}:pay:{payment_id}")
}

fn ticket_key(hash: &[u8; 32]) -> String {
    format!("paydesk:ticket:{}", hex::encode(hash))
}

pub struct RedisBackend {
    client: redis::Client,
    conn: ConnectionManager,
    hub: Arc<Hub>,
    merchants: Vec<String>,
    max_events: usize,
    max_age: Duration,
    /// How long a payment's till is remembered.
    owner_ttl: Duration,
    /// Where the reader starts in the fan-out stream: its end when this instance
    /// connected, fixed before any session exists.
    fanout_start: String,
}

impl RedisBackend {
    /// Connects, checks the server answers, and records where the fan-out stream ends now
    /// (the reader starts there, so no event stored after start-up can slip past it).
    pub async fn connect(
        url: &Secret,
        hub: Arc<Hub>,
        merchants: Vec<String>,
        max_events: usize,
        max_age: Duration,
        owner_ttl: Duration,
    ) -> Result<RedisBackend, BackendError> {
        let client = redis::Client::open(url.expose())?;
        let conn = client
            .get_connection_manager_with_config(
                ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(Duration::from_secs(3)))
                    .set_response_timeout(Some(Duration::from_secs(3)))
                    .set_number_of_retries(2),
            )
            .await?;
        let mut c = conn.clone();
        let last: Value = redis::cmd("XREVRANGE")
            .arg(FANOUT_KEY)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut c)
            .await?;
        let fanout_start = entries(&last)?
            .first()
            .map(|(id, _)| id.clone())
            .unwrap_or_else(|| "0-0".to_owned());
        info!(merchants = merchants.len(), "connected to redis");
        Ok(RedisBackend {
            client,
            conn,
            hub,
            merchants,
            max_events,
            max_age,
            owner_ttl,
            fanout_start,
        })
    }

    async fn append_now(
        &self,
        merchant: &str,
        event: &NewEvent<'_>,
    ) -> Result<Stored, BackendError> {
        let mut c = self.conn.clone();
        let (mode, till) = match &event.route {
            RouteBy::Till { till, .. } => ("till", &**till),
            RouteBy::Remembered { .. } => ("ask", ""),
        };
        let v: Value = redis::cmd("EVAL")
            .arg(APPEND)
            .arg(6)
            .arg(meta_key(merchant))
            .arg(stream_key(merchant))
            .arg(FANOUT_KEY)
            .arg(seen_key(merchant, event.key))
            .arg(tills_key(merchant))
            .arg(owner_key(merchant, event.route.payment_id()))
            .arg(new_epoch())
            .arg(self.max_events)
            .arg(self.max_age.as_millis() as u64)
            .arg(event.body)
            .arg(merchant)
            .arg(FANOUT_MAXLEN)
            .arg((event.window.as_millis() as u64).max(1))
            .arg(mode)
            .arg(till)
            .arg((self.owner_ttl.as_millis() as u64).max(1))
            .query_async(&mut c)
            .await?;
        let parts = array(&v)?;
        match string(parts.first())?.as_str() {
            "new" => {
                let till = string(parts.get(3))?;
                Ok(Stored::New(Appended {
                    epoch: string(parts.get(1))?,
                    offset: int(parts.get(2))?,
                    till: (!till.is_empty()).then_some(till),
                }))
            }
            "dup" => {
                // "<epoch>:<offset>"; an older relay's "1" says only that it was seen.
                let at = string(parts.get(1))?;
                Ok(Stored::Duplicate(at.rsplit_once(':').and_then(
                    |(epoch, offset)| {
                        Some(Appended {
                            epoch: epoch.to_owned(),
                            offset: offset.parse().ok()?,
                            till: None,
                        })
                    },
                )))
            }
            other => Err(BackendError::Corrupt(format!("append answered '{other}'"))),
        }
    }

    async fn since_now(
        &self,
        merchant: &str,
        from: Option<&StreamPosition>,
        audience: &Audience,
    ) -> Result<Since, BackendError> {
        let mut c = self.conn.clone();
        let from_offset: i64 = from
            .map(|p| i64::try_from(p.offset).unwrap_or(i64::MAX))
            .unwrap_or(-1);
        let v: Value = redis::cmd("EVAL")
            .arg(SINCE)
            .arg(3)
            .arg(meta_key(merchant))
            .arg(stream_key(merchant))
            .arg(tills_key(merchant))
            .arg(new_epoch())
            .arg(from_offset)
            .arg(self.max_events)
            .arg(audience.till().unwrap_or(""))
            .query_async(&mut c)
            .await?;
        let parts = array(&v)?;
        let epoch: Arc<str> = string(parts.first())?.into();
        let head = int(parts.get(1))?;
        let newest_first = entries(parts.get(2).unwrap_or(&Value::Nil))?;
        let now_ms = int(parts.get(3))?;
        let till_last = int(parts.get(4))?;
        let oldest_kept = now_ms.saturating_sub(self.max_age.as_millis() as u64);
        let state = StreamState {
            epoch: epoch.clone(),
            head,
            till_last,
        };
        Ok(decide(from, state, audience, |after| {
            let mut out = Vec::with_capacity(newest_first.len());
            for (_, fields) in newest_first.iter().rev() {
                let e = parse_entry(fields).ok()?;
                if *e.epoch != *epoch || e.stored_ms < oldest_kept {
                    return None;
                }
                if e.offset > after {
                    out.push(e.pushed(epoch.clone()));
                }
            }
            Some(out)
        }))
    }
}

impl Backend for RedisBackend {
    fn append<'a>(
        &'a self,
        merchant: &'a str,
        event: NewEvent<'a>,
    ) -> BoxFuture<'a, Result<Stored, BackendError>> {
        async move { self.append_now(merchant, &event).await }.boxed()
    }

    fn since<'a>(
        &'a self,
        merchant: &'a str,
        from: Option<&'a StreamPosition>,
        audience: &'a Audience,
    ) -> BoxFuture<'a, Result<Since, BackendError>> {
        self.since_now(merchant, from, audience).boxed()
    }

    fn put_ticket<'a>(
        &'a self,
        hash: [u8; 32],
        grant: TicketGrant,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        async move {
            let mut c = self.conn.clone();
            let value = serde_json::json!({
                "m": grant.merchant,
                "n": grant.terminal,
                "k": hex::encode(grant.key_hash),
            })
            .to_string();
            let _: Value = redis::cmd("SET")
                .arg(ticket_key(&hash))
                .arg(value)
                .arg("PX")
                .arg((ttl.as_millis() as u64).max(1))
                .query_async(&mut c)
                .await?;
            Ok(())
        }
        .boxed()
    }

    fn take_ticket<'a>(
        &'a self,
        hash: [u8; 32],
    ) -> BoxFuture<'a, Result<Option<TicketGrant>, BackendError>> {
        async move {
            let mut c = self.conn.clone();
            let v: Option<String> = redis::cmd("GETDEL")
                .arg(ticket_key(&hash))
                .query_async(&mut c)
                .await?;
            let Some(v) = v else { return Ok(None) };
            #[derive(serde::Deserialize)]
            struct Stored {
                m: String,
                n: String,
                k: String,
            }
            // A ticket an older relay issued names no key: refused, and the till simply
            // fetches another (they live 30 s).
            let Ok(s) = serde_json::from_str::<Stored>(&v) else {
                return Ok(None);
            };
            let key_hash = hex::decode(&s.k)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| BackendError::Corrupt("ticket key hash".into()))?;
            Ok(Some(TicketGrant {
                merchant: s.m,
                terminal: s.n,
                key_hash,
            }))
        }
        .boxed()
    }

    fn start(&self, cancel: CancellationToken, tracker: &TaskTracker) {
        let reader = Reader {
            client: self.client.clone(),
            hub: self.hub.clone(),
            merchants: self.merchants.iter().cloned().collect(),
            cursor: self.fanout_start.clone(),
            epochs: HashMap::new(),
        };
        tracker.spawn(reader.run(cancel));
    }
}

/// The instance's one `XREAD BLOCK` loop over the fan-out stream.
struct Reader {
    client: redis::Client,
    hub: Arc<Hub>,
    /// This instance's merchants; entries for others (another deployment on the same
    /// Redis) are skipped.
    merchants: HashSet<String>,
    /// The last fan-out entry handed to the hub.
    cursor: String,
    /// One shared `Arc<str>` per epoch, so events do not each allocate theirs.
    epochs: HashMap<String, Arc<str>>,
}

impl Reader {
    async fn run(mut self, cancel: CancellationToken) {
        if self.merchants.is_empty() {
            return;
        }
        let mut backoff = Duration::from_millis(100);
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(3)))
            // BLOCK answers within its own 5 s; ours is a little longer.
            .set_response_timeout(Some(Duration::from_secs(10)));
        while !cancel.is_cancelled() {
            let conn = tokio::select! {
                _ = cancel.cancelled() => return,
                c = self.client.get_multiplexed_async_connection_with_config(&config) => c,
            };
            match conn {
                Ok(mut conn) => {
                    backoff = Duration::from_millis(100);
                    if let Err(e) = self.read_loop(&mut conn, &cancel).await {
                        warn!(error = %e, "redis stream reader lost its connection; reconnecting");
                    }
                }
                Err(e) => warn!(error = %e, "redis stream reader cannot connect; retrying"),
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    async fn read_loop(
        &mut self,
        conn: &mut MultiplexedConnection,
        cancel: &CancellationToken,
    ) -> Result<(), BackendError> {
        loop {
            let mut cmd = redis::cmd("XREAD");
            cmd.arg("COUNT")
                .arg(512)
                .arg("BLOCK")
                .arg(5000)
                .arg("STREAMS")
                .arg(FANOUT_KEY)
                .arg(&self.cursor);
            let reply: Value = tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                r = cmd.query_async(conn) => r?,
            };
            self.dispatch(&reply)?;
        }
    }

    fn dispatch(&mut self, reply: &Value) -> Result<(), BackendError> {
        let streams: Vec<(&Value, &Value)> = match reply {
            Value::Nil => return Ok(()),
            Value::Array(items) => items
                .iter()
                .filter_map(|s| match s {
                    Value::Array(kv) if kv.len() == 2 => Some((&kv[0], &kv[1])),
                    _ => None,
                })
                .collect(),
            Value::Map(kv) => kv.iter().map(|(k, v)| (k, v)).collect(),
            other => return Err(BackendError::Corrupt(format!("XREAD reply {other:?}"))),
        };
        for (key, list) in streams {
            if string(Some(key))? != FANOUT_KEY {
                continue;
            }
            for (id, fields) in entries(list)? {
                self.cursor = id;
                let merchant = fields.iter().find(|(f, _)| f == "m").map(|(_, v)| v);
                let Some(merchant) = merchant.filter(|m| self.merchants.contains(*m)) else {
                    continue;
                };
                match parse_entry(&fields) {
                    Ok(e) => {
                        let epoch = self
                            .epochs
                            .entry(e.epoch.clone())
                            .or_insert_with(|| Arc::from(e.epoch.as_str()))
                            .clone();
                        self.hub.publish(merchant, e.pushed(epoch));
                    }
                    Err(err) => warn!(%merchant, error = %err, "skipping a malformed stream entry"),
                }
            }
        }
        if self.epochs.len() > 64 {
            self.epochs.clear();
        }
        Ok(())
    }
}

struct Entry {
    offset: u64,
    epoch: String,
    stored_ms: u64,
    body: String,
    /// The till it was routed to, and the previous offset routed there.
    till: Option<(String, u64)>,
}

impl Entry {
    fn pushed(&self, epoch: Arc<str>) -> Pushed {
        let (till, prev) = match &self.till {
            Some((t, p)) => (Some(Arc::from(t.as_str())), Some(*p)),
            None => (None, None),
        };
        Pushed::new(epoch, self.offset, till, prev, &self.body)
    }
}

fn parse_entry(fields: &[(String, String)]) -> Result<Entry, BackendError> {
    let get = |k: &str| {
        fields
            .iter()
            .find(|(f, _)| f == k)
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| BackendError::Corrupt(format!("stream entry without '{k}'")))
    };
    let num = |k: &str| -> Result<u64, BackendError> {
        get(k)?
            .parse::<u64>()
            .map_err(|_| BackendError::Corrupt(format!("stream entry '{k}' is not a number")))
    };
    let till = match get("r") {
        Ok(t) => Some((t.to_owned(), num("p")?)),
        Err(_) => None,
    };
    Ok(Entry {
        offset: num("o")?,
        epoch: get("e")?.to_owned(),
        stored_ms: num("t")?,
        body: get("b")?.to_owned(),
        till,
    })
}

fn array(v: &Value) -> Result<&[Value], BackendError> {
    match v {
        Value::Array(a) => Ok(a),
        other => Err(BackendError::Corrupt(format!(
            "expected an array, got {other:?}"
        ))),
    }
}

fn string(v: Option<&Value>) -> Result<String, BackendError> {
    match v {
        Some(Value::BulkString(b)) => String::from_utf8(b.clone())
            .map_err(|_| BackendError::Corrupt("non-UTF-8 string".into())),
        Some(Value::SimpleString(s)) => Ok(s.clone()),
        Some(Value::Int(i)) => Ok(i.to_string()),
        other => Err(BackendError::Corrupt(format!(
            "expected a string, got {other:?}"
        ))),
    }
}

fn int(v: Option<&Value>) -> Result<u64, BackendError> {
    match v {
        Some(Value::Int(i)) => {
            u64::try_from(*i).map_err(|_| BackendError::Corrupt("negative number".into()))
        }
        Some(other) => string(Some(other))?
            .parse::<u64>()
            .map_err(|_| BackendError::Corrupt("expected a number".into())),
        None => Err(BackendError::Corrupt("missing number".into())),
    }
}

/// One stream entry: its id and its field/value pairs.
type RawEntry = (String, Vec<(String, String)>);

/// Stream entries `[[id, [field, value, …]], …]` as (id, fields).
fn entries(v: &Value) -> Result<Vec<RawEntry>, BackendError> {
    let list = match v {
        Value::Nil => return Ok(Vec::new()),
        Value::Array(a) => a,
        other => return Err(BackendError::Corrupt(format!("stream entries {other:?}"))),
    };
    let mut out = Vec::with_capacity(list.len());
    for item in list {
        let pair = array(item)?;
        let id = string(pair.first())?;
        let mut fields = Vec::new();
        match pair.get(1) {
            Some(Value::Array(flat)) => {
                for kv in flat.chunks(2) {
                    if let [k, v] = kv {
                        fields.push((string(Some(k))?, string(Some(v))?));
                    }
                }
            }
            Some(Value::Map(kv)) => {
                for (k, v) in kv {
                    fields.push((string(Some(k))?, string(Some(v))?));
                }
            }
            _ => {}
        }
        out.push((id, fields));
    }
    Ok(out)
}
