//! Integration tests of the recommender family against a real Redis (Debian's
//! `redis-server`, started on a free loopback port and stopped by each test): the Redis online
//! store must give exactly the runs the in-process store gives, outages included, and a lost
//! Redis must be counted, not crash the run. `cargo xtask test` installs `redis-server`.
//! Replay and IPS on the Open Bandit Dataset agree with obp's (`obd`); `cargo xtask test`
//! fetches the logs.
#![expect(clippy::unwrap_used, reason = "tests unwrap to fail loudly")]

mod http;
mod obd;
mod redis;
