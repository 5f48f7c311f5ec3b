//! The push stream (`GET /api/events`): engine events as Server-Sent Events, so the dashboard
//! refreshes exactly what changed instead of polling.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::Stream;
use tokio::sync::broadcast::error::RecvError;

use crate::engine::Engine;

pub async fn stream(
    State(engine): State<Engine>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let mut events = engine.subscribe();
    let stream = async_stream::stream! {
        // Tells a (re)connecting client to refresh everything once.
        yield Ok(Event::default().event("hello").data("{}"));
        loop {
            match events.recv().await {
                Ok(event) => {
                    let data = serde_json::to_string(&event).unwrap_or_default();
                    yield Ok(Event::default().event(event.topic).data(data));
                }
                // A slow client missed events: ask it to refresh everything.
                Err(RecvError::Lagged(_)) => yield Ok(Event::default().event("hello").data("{}")),
                Err(RecvError::Closed) => break,
            }
        }
    };
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
