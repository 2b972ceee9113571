//! `GET /api/supervisor/events`: the change feed as server-sent events, which the Hub follows
//! to refetch what changed instead of polling.
//!
//! Events: `ready` once subscribed (so a client knows that whatever it fetches from then on
//! is covered), then one event per change named by its topic (`extensions`, `tools`,
//! `external_services`, `certificates`, `clients`, `sessions`; data `{"topic": …}`), and
//! `resync` when the client fell behind and should fetch everything again. The stream ends
//! when Luna stops.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::{Stream, StreamExt};
use tokio::sync::broadcast::error::RecvError;
use utoipa_axum::routes;

use super::ApiError;
use super::openapi::Documented;
use crate::app::{Luna, Operation};
use crate::events::Topic;

/// Comments sent on a quiet stream, so proxies and browsers keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

pub fn routes() -> Documented {
    Documented::new().routes(Operation::View, routes!(events))
}

/// What changed, as it happens: `ready`, then one event per change named by its topic, and
/// `resync` after falling behind.
#[utoipa::path(get, path = "/events", tag = "status",
    responses((status = 200, description = "server-sent events; each change event's data names its topic",
        content((Topic = "text/event-stream"))),
        (status = 406, description = "the request did not accept text/event-stream", body = super::ErrorBody)))]
async fn events(
    State(luna): State<Luna>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    // A stream never ends: only a client that asked for one gets it (EventSource does).
    if !super::sse::wants_events(&headers) {
        return Err(ApiError::NotAcceptable(
            "this is a stream of server-sent events: ask for text/event-stream".into(),
        ));
    }
    let changes = luna.events.subscribe();
    let stopping = luna.mcp_shutdown.clone();
    let ready = futures_util::stream::once(async { Ok(Event::default().event("ready").data("{}")) });
    let live = futures_util::stream::unfold(changes, move |mut changes| {
        let stopping = stopping.clone();
        async move {
            let event = tokio::select! {
                () = stopping.cancelled() => return None,
                received = changes.recv() => match received {
                    Ok(topic) => change_event(topic),
                    Err(RecvError::Lagged(_)) => Event::default().event("resync").data("{}"),
                    Err(RecvError::Closed) => return None,
                },
            };
            Some((Ok(event), changes))
        }
    });
    Ok(Sse::new(ready.chain(live)).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

fn change_event(topic: Topic) -> Event {
    Event::default().event(topic.as_str()).data(format!(r#"{{"topic":"{}"}}"#, topic.as_str()))
}
