"""The platform's push feeds (docs/push.md): the transactional outbox (written by the
clearing engine's flush and the market services), the publisher interface with its Redis
Streams implementation, and the relay that moves committed rows from one to the other.

    outbox     stream names, `outbox_insert` (the flush's statement), `outbox_write`, `book_change`
    bodies     the event data: the REST API's Trade, Order and Market bodies
    publisher  `Publisher` (the interface), `Event`, `RedisStreamPublisher`
    relay      `Relay`: NOTIFY/poll -> batches in id order -> publish -> mark; replay; prune
"""
