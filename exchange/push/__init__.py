"""The platform's WebSocket market-data feeds (docs/push.md, SPEC §3.6 Phase 2).

- `routing`: the `ws/v1/...` routes `ammproject.asgi` hands to the consumers.
- `consumers`: thin Channels consumers (accept, authenticate, run a `FeedSession`).
- `auth`: the REST API's `Authorization: Token <key>` (or `?token=`) for a WebSocket scope.
- `feeds`: what a feed sends: SNAPSHOT from the selectors, DELTA from a stream event.
- `sessions`: one connection's ordered pump: snapshot, buffered deltas above it, resnapshot.
- `hub`: the one reader task per server process tailing `book_events` / `trade_events`
  (XREAD from `$`, no consumer group: every process needs every event) and handing each
  event to this process's subscribers of its market.
"""
