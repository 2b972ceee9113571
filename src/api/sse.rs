//! What the streaming answers share: whether the caller asked for server-sent events, and
//! a channel of updates as a stream.

use axum::http::{HeaderMap, header};

/// The caller accepts `text/event-stream` (EventSource does, and so do the CLI and the Hub
/// when they follow a long operation).
pub fn wants_events(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/event-stream"))
}

/// The updates of a running operation, as a stream that ends when the operation drops its sender.
pub fn updates<T: Send + 'static>(
    mut receiver: tokio::sync::mpsc::UnboundedReceiver<T>,
) -> impl futures_util::Stream<Item = T> + Send {
    futures_util::stream::poll_fn(move |context| receiver.poll_recv(context))
}
