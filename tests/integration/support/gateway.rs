//! The real gateway service, run by a real pingora server in a thread, on routes a test
//! chooses.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use arc_swap::ArcSwap;
use luna::gateway::routes::{Route, RouteHandle, RouteTable};
use pingora::server::configuration::ServerConf;
use pingora::server::{RunArgs, Server, ShutdownSignal, ShutdownSignalWatch};

pub struct TestGateway {
    pub address: SocketAddr,
    pub routes: RouteHandle,
    /// Open access (no GitHub app), as in local mode: these tests are about proxying.
    _home: tempfile::TempDir,
    _database: luna::db::DatabaseRuntime,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

struct StopSignal(Mutex<Option<tokio::sync::oneshot::Receiver<()>>>);

#[async_trait::async_trait]
impl ShutdownSignalWatch for StopSignal {
    async fn recv(&self) -> ShutdownSignal {
        let receiver = self.0.lock().unwrap().take();
        if let Some(receiver) = receiver {
            let _ = receiver.await;
        }
        ShutdownSignal::FastShutdown
    }
}

impl TestGateway {
    pub fn start(routes: Vec<Route>) -> Self {
        Self::start_with_idle_timeout(routes, None)
    }

    /// [`start`](Self::start) with another upstream idle timeout (read and write) than Luna's. Every timeout of a
    /// second or more runs on tokio's timer here, as Luna's long ones do.
    pub fn start_with_idle_timeout(routes: Vec<Route>, idle_timeout: Option<Duration>) -> Self {
        let address: SocketAddr = format!("127.0.0.1:{}", super::free_port()).parse().unwrap();
        let routes: RouteHandle = Arc::new(ArcSwap::from_pointee(RouteTable::new(routes)));
        let home = tempfile::tempdir().unwrap();
        let flags = luna::settings::Flags { home: Some(home.path().to_path_buf()), ..Default::default() };
        let settings = luna::settings::Settings::load(&flags, &std::collections::HashMap::new()).unwrap();
        settings.home.create_state_dirs().unwrap();
        let (database, database_runtime) = luna::db::Database::open(&settings.database_url).unwrap();
        let auth = luna::auth::Auth::new(&settings, &settings.home, database, luna::events::Events::new()).unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let service_routes = routes.clone();
        let thread = std::thread::spawn(move || {
            let conf =
                ServerConf { threads: 1, fast_timeout_to_tokio_threshold_seconds: Some(0), ..ServerConf::default() };
            let mut server = Server::new_with_opt_and_conf(None, conf);
            server.bootstrap();
            let site = luna::gateway::site::Site::new(&format!("http://{address}"), address, "http", None);
            let mut gateway = luna::gateway::Gateway::new(service_routes, auth, site, None);
            if let Some(timeout) = idle_timeout {
                gateway = gateway.with_upstream_idle_timeout(timeout);
            }
            let service = luna::gateway::proxy_service(&server.configuration, gateway, address);
            server.add_service(service);
            server.run(RunArgs { shutdown_signal: Box::new(StopSignal(Mutex::new(Some(stopped)))) });
        });
        super::wait_until(Duration::from_secs(10), "the test gateway to listen", || super::is_listening(address));
        Self { address, routes, _home: home, _database: database_runtime, stop: Some(stop), thread: Some(thread) }
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
