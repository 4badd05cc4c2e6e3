//! The open-loop fixed-rate client of scripts/bench ("p99 at 60 req/s"): GETs one URL at a
//! fixed rate for a number of seconds and prints `p50_ms p99_ms max_ms errors`.
//!
//! Open loop: request `i` is due at `start + i / rate` whatever became of the requests before
//! it, and its latency counts from that due time, so a slow answer that holds later requests
//! back shows in their latencies too (no coordinated omission). A scheduler thread releases
//! each request at its due time with the operating system's own sleep (tokio's timer ticks in
//! whole milliseconds, which would add up to a millisecond of the client's own to every
//! figure) onto a tokio runtime of one worker thread. Each request in flight has a keep-alive
//! connection of its own: an idle one from the pool, or a new one when none is idle. Two are
//! opened before the clock starts, so the first requests do not pay for TCP's handshake.
//!
//! ```text
//! bench-fixed-rate URL RATE SECONDS [HEADER...]     (each HEADER as "Name: value")
//! ```
//!
//! An answer other than 200, or a request that failed on the wire, is an error; the
//! percentiles are over every answered request.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::{SendRequest, handshake};
use hyper::header::{HOST, HeaderName, HeaderValue};
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;

type Error = Box<dyn std::error::Error + Send + Sync>;
type Sender = SendRequest<Empty<Bytes>>;

/// What every request asks for.
struct Target {
    /// `host:port` to connect to.
    addr: String,
    /// The path and query.
    path: String,
    /// The headers, `Host` first.
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl Target {
    fn parse(url: &str, headers: &[String]) -> Result<Self, Error> {
        let uri: Uri = url.parse()?;
        if uri.scheme_str() != Some("http") {
            return Err("only http:// URLs".into());
        }
        let authority = uri.authority().ok_or("the URL has no host")?;
        let addr = format!("{}:{}", authority.host(), authority.port_u16().unwrap_or(80));
        let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        let mut list = vec![(HOST, HeaderValue::from_str(authority.as_str())?)];
        for h in headers {
            let (name, value) = h.split_once(": ").ok_or("a header is \"Name: value\"")?;
            list.push((name.parse()?, HeaderValue::from_str(value)?));
        }
        Ok(Self {
            addr,
            path,
            headers: list,
        })
    }

    async fn connect(&self) -> Result<Sender, Error> {
        let stream = tokio::net::TcpStream::connect(&self.addr).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) = handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }
}

/// Idle keep-alive connections.
type Pool = Arc<Mutex<Vec<Sender>>>;

/// One request, due at `due`: its status and its latency from `due`.
async fn one(target: Arc<Target>, pool: Pool, due: Instant) -> Result<(bool, Duration), Error> {
    let idle = pool.lock().expect("pool").pop();
    let mut sender = match idle {
        Some(s) => s,
        None => target.connect().await?,
    };
    if sender.ready().await.is_err() {
        // The server closed this idle connection: open another.
        sender = target.connect().await?;
        sender.ready().await?;
    }
    let mut req = Request::get(target.path.as_str());
    for (name, value) in &target.headers {
        req = req.header(name, value);
    }
    let res = sender.send_request(req.body(Empty::new())?).await?;
    let ok = res.status() == StatusCode::OK;
    res.into_body().collect().await?;
    let latency = due.elapsed();
    pool.lock().expect("pool").push(sender);
    Ok((ok, latency))
}

fn run(url: &str, rate: f64, seconds: f64, headers: &[String]) -> Result<String, Error> {
    if !(rate > 0.0 && seconds > 0.0) {
        return Err("RATE and SECONDS must be above 0".into());
    }
    let target = Arc::new(Target::parse(url, headers)?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let pool: Pool = Arc::default();
    rt.block_on(async {
        for _ in 0..2 {
            let sender = target.connect().await?;
            pool.lock().expect("pool").push(sender);
        }
        Ok::<_, Error>(())
    })?;
    let count = (rate * seconds).round() as u32;
    let start = Instant::now() + Duration::from_millis(10);
    let mut tasks = Vec::with_capacity(count as usize);
    for i in 0..count {
        let due = start + Duration::from_secs_f64(f64::from(i) / rate);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        tasks.push(rt.spawn(one(target.clone(), pool.clone(), due)));
    }
    let mut latencies = Vec::with_capacity(tasks.len());
    let mut errors = 0u32;
    rt.block_on(async {
        for task in tasks {
            match task.await {
                Ok(Ok((ok, latency))) => {
                    latencies.push(latency);
                    errors += u32::from(!ok);
                }
                _ => errors += 1,
            }
        }
    });
    latencies.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let quantile = |p: f64| {
        let i = ((latencies.len() as f64 * p) as usize).min(latencies.len() - 1);
        ms(latencies[i])
    };
    Ok(match latencies.last() {
        Some(max) => format!(
            "{:.2} {:.2} {:.2} {errors}",
            quantile(0.5),
            quantile(0.99),
            ms(*max)
        ),
        None => format!("n/a n/a n/a {errors}"),
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(url), Some(rate), Some(seconds)) = (
        args.first(),
        args.get(1).and_then(|r| r.parse().ok()),
        args.get(2).and_then(|s| s.parse().ok()),
    ) else {
        eprintln!("usage: bench-fixed-rate URL RATE SECONDS [\"Name: value\"...]");
        return ExitCode::from(2);
    };
    match run(url, rate, seconds, &args[3..]) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench-fixed-rate: {e}");
            ExitCode::FAILURE
        }
    }
}
