//! Headless Chromium (Debian's; `bin/test` installs it and names it in `RUNNEL_TEST_CHROMIUM`),
//! driven over the DevTools protocol: open a page, evaluate JavaScript in it, wait for a
//! condition, take a screenshot.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One browser with one page; the browser is killed when this is dropped.
pub struct Browser {
    child: Child,
    profile: std::path::PathBuf,
    socket: Socket,
    next_id: u64,
    /// The page's DevTools session: commands for the page carry it.
    session: String,
}

impl Browser {
    pub async fn launch() -> Browser {
        let exe = std::env::var("RUNNEL_TEST_CHROMIUM").unwrap_or_else(|_| {
            panic!("RUNNEL_TEST_CHROMIUM is not set: run the suite with bin/test, which installs Chromium")
        });
        let profile = super::temp_data_dir().with_extension("chromium");
        // The flags keep Chromium off the network except for the pages it is sent to: this
        // machine refuses other connections, and Chromium would retry them.
        let mut child = Command::new(&exe)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--remote-debugging-port=0",
                "--window-size=1280,900",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {exe}: {e}"));
        // Chromium says where its DevTools endpoint is on stderr; the rest of stderr is drained
        // so that it never blocks on a full pipe.
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut said = Vec::new();
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    let _ = tx.send(Ok(url.trim().to_string()));
                } else if said.len() < 50 {
                    said.push(line);
                }
            }
            let _ = tx.send(Err(said.join("\n")));
        });
        let url = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Ok(url)) => url,
            Ok(Err(said)) => panic!("Chromium exited before it listened:\n{said}"),
            Err(_) => panic!("Chromium did not open its DevTools endpoint within a minute"),
        };
        let (socket, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .expect("connect to Chromium's DevTools endpoint");
        let mut browser = Browser {
            child,
            profile,
            socket,
            next_id: 0,
            session: String::new(),
        };
        let target = browser
            .command(None, "Target.createTarget", json!({ "url": "about:blank" }))
            .await;
        let attached = browser
            .command(
                None,
                "Target.attachToTarget",
                json!({ "targetId": target["targetId"], "flatten": true }),
            )
            .await;
        browser.session = attached["sessionId"]
            .as_str()
            .expect("a session id")
            .to_string();
        browser
    }

    /// Sends a command (to the page's session, or the browser's) and returns its result.
    async fn command(&mut self, session: Option<String>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            message["sessionId"] = json!(s);
        }
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .expect("send to Chromium");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let next = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .unwrap_or_else(|_| panic!("Chromium did not answer {method} within a minute"));
            let Some(Ok(Message::Text(text))) = next else {
                match next {
                    Some(Ok(_)) => continue,
                    other => panic!("the DevTools connection ended: {other:?}"),
                }
            };
            let reply: Value = serde_json::from_str(&text).expect("DevTools speaks JSON");
            // Events carry no id; other replies cannot be pending (one command at a time).
            if reply["id"] != json!(id) {
                continue;
            }
            if let Some(error) = reply.get("error") {
                panic!("{method} failed: {error}");
            }
            return reply["result"].clone();
        }
    }

    async fn page(&mut self, method: &str, params: Value) -> Value {
        let session = Some(self.session.clone());
        self.command(session, method, params).await
    }

    pub async fn navigate(&mut self, url: &str) {
        let result = self.page("Page.navigate", json!({ "url": url })).await;
        if let Some(e) = result.get("errorText") {
            panic!("cannot load {url}: {e}");
        }
    }

    /// Evaluates `expression` in the page (awaiting it if it is a promise) and returns its value.
    pub async fn eval(&mut self, expression: &str) -> Value {
        let result = self
            .page(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            )
            .await;
        if let Some(e) = result.get("exceptionDetails") {
            panic!("{expression} threw: {e}");
        }
        result["result"]["value"].clone()
    }

    /// Polls `expression` until it is true; on timeout fails, showing `show`'s value.
    pub async fn wait_for(&mut self, expression: &str, show: &str) {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if self.eval(expression).await == json!(true) {
                return;
            }
            if Instant::now() > deadline {
                let shown = self.eval(show).await;
                panic!("the page never satisfied `{expression}`; it shows {shown}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A PNG of the page as it is drawn now.
    pub async fn screenshot(&mut self) -> Vec<u8> {
        let shot = self
            .page("Page.captureScreenshot", json!({ "format": "png" }))
            .await;
        base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .expect("base64 PNG")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
