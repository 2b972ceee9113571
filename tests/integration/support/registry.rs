//! A stand-in Addon Store registry on loopback: serves `/registry.json` with whatever body the
//! test sets (a good registry, a broken one), and can go away (connection refused), as a
//! registry host that is down does.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

pub struct StandInRegistry {
    pub address: SocketAddr,
    body: Arc<Mutex<String>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl StandInRegistry {
    pub fn start(body: &serde_json::Value) -> Self {
        let shared = Arc::new(Mutex::new(body.to_string()));
        let app = Router::new().route("/registry.json", get(registry)).with_state(shared.clone());
        let listener = super::runtime().block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        super::runtime().spawn(async move {
            axum::serve(listener, app).with_graceful_shutdown(async move { drop(stopped.await) }).await
        });
        Self { address, body: shared, stop: Some(stop) }
    }

    pub fn url(&self) -> String {
        format!("http://{}/registry.json", self.address)
    }

    pub fn set(&self, body: &str) {
        *self.body.lock().unwrap() = body.to_string();
    }

    /// Stops answering: from now on connections to it are refused.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::net::TcpStream::connect(self.address).is_ok() {
            assert!(std::time::Instant::now() < deadline, "the stand-in registry did not stop");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

async fn registry(State(body): State<Arc<Mutex<String>>>) -> impl IntoResponse {
    let body = body.lock().unwrap().clone();
    ([(header::CONTENT_TYPE, "application/json")], body)
}
