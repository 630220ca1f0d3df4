//! The online feature store, laid out as Feast lays out its Redis store: one hash per entity
//! (a user, an item, the global popular list), a field per feature view and a timestamp per
//! view. Writes follow Feast's rule: a write whose event time is not newer than the stored
//! one is skipped, so late and out-of-order events are dropped silently and a duplicate is a
//! no-op.
//!
//! Every read returns the values with the event time of the freshest record behind them, so
//! the caller can measure freshness lag (`now − event time`).

use std::sync::Arc;

/// A feature value with the time that matters for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Record<T> {
    /// The value.
    pub value: T,
    /// The timestamp the store compares writes against (Feast's `_ts:<view>`); after a unit
    /// change it may be wrong.
    pub ts: f64,
    /// The true event time of the freshest event behind the value, for freshness lag.
    pub fresh: f64,
}

/// The user entity's hash.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserRow {
    /// `user_profile`: the user's embedding, materialised from the ranker's training.
    pub profile: Option<Record<Arc<[f32]>>>,
    /// `user_recent`: the user's most recently clicked items, newest first.
    pub recent: Option<Record<Vec<u32>>>,
}

/// The item entity's hash: `item_stats` over the stream job's window.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ItemStats {
    /// Impressions in the window.
    pub impressions: f64,
    /// Clicks in the window.
    pub clicks: f64,
}

/// What happened to a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// Stored.
    Applied,
    /// Skipped: not newer than what is stored.
    Stale,
}

/// A store call that failed: refused, reset, timed out or answered with nonsense.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("feature store: {0}")]
pub struct StoreError(pub String);

/// The online store the recommender reads and the stream job writes. Every call may fail, as
/// a networked store's calls do; the caller counts the failure and falls back or retries.
pub trait OnlineStore: Send {
    /// The user's hash (an `HMGET` of its views).
    fn user(&mut self, user: u32) -> Result<UserRow, StoreError>;
    /// The items' `item_stats`, in order (one pipelined round trip); `None` where not found.
    fn items(&mut self, items: &[u32]) -> Result<Vec<Option<Record<ItemStats>>>, StoreError>;
    /// The popular list the stream job keeps (most clicked in the window first).
    fn popular(&mut self) -> Result<Option<Record<Vec<u32>>>, StoreError>;
    /// Writes `user_profile`.
    fn write_profile(&mut self, user: u32, value: Record<Arc<[f32]>>) -> Result<Write, StoreError>;
    /// Writes `user_recent`.
    fn write_recent(&mut self, user: u32, value: Record<Vec<u32>>) -> Result<Write, StoreError>;
    /// Writes `item_stats`.
    fn write_item(&mut self, item: u32, value: Record<ItemStats>) -> Result<Write, StoreError>;
    /// The user's hash and the popular list, in one round trip where the store pipelines.
    fn user_and_popular(&mut self, user: u32) -> Result<(UserRow, Option<Popular>), StoreError> {
        Ok((self.user(user)?, self.popular()?))
    }
    /// Writes many items' `item_stats`, in one round trip where the store pipelines; one
    /// outcome per item, in order.
    fn write_items(
        &mut self,
        values: Vec<(u32, Record<ItemStats>)>,
    ) -> Vec<Result<Write, StoreError>> {
        values.into_iter().map(|(item, value)| self.write_item(item, value)).collect()
    }
    /// Writes the popular list.
    fn write_popular(&mut self, value: Record<Vec<u32>>) -> Result<Write, StoreError>;
    /// A `store_outage` fault starts (`true`) or ends. While it lasts every call fails: the
    /// in-process store refuses by itself, the Redis store has its proxy reset the connection.
    fn set_outage(&mut self, down: bool);
}

/// The popular list's record.
pub type Popular = Record<Vec<u32>>;

/// Every user's row, every item's stats and the popular list of a [`MemoryStore`].
pub type Rows<'a> = (&'a [UserRow], &'a [Option<Record<ItemStats>>], Option<&'a Record<Vec<u32>>>);

/// The in-process store: dense arrays indexed by user and item id.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    users: Vec<UserRow>,
    items: Vec<Option<Record<ItemStats>>>,
    popular: Option<Record<Vec<u32>>>,
    down: bool,
}

impl MemoryStore {
    /// An empty store for `users` users and `items` items.
    pub fn new(users: usize, items: usize) -> MemoryStore {
        MemoryStore {
            users: vec![UserRow::default(); users],
            items: vec![None; items],
            popular: None,
            down: false,
        }
    }

    /// Users and items it has room for.
    pub fn size(&self) -> (usize, usize) {
        (self.users.len(), self.items.len())
    }

    /// Every user's row, every item's stats and the popular list, for copying the store
    /// elsewhere (a Redis store starts from the warm in-process one).
    pub fn rows(&self) -> Rows<'_> {
        (&self.users, &self.items, self.popular.as_ref())
    }

    fn up(&self) -> Result<(), StoreError> {
        if self.down { Err(StoreError("connection refused (store outage)".into())) } else { Ok(()) }
    }
}

fn put<T>(slot: &mut Option<Record<T>>, value: Record<T>) -> Write {
    match slot {
        Some(old) if value.ts <= old.ts => Write::Stale,
        _ => {
            *slot = Some(value);
            Write::Applied
        }
    }
}

impl MemoryStore {
    fn read_user(&self, user: u32) -> Result<UserRow, StoreError> {
        self.up()?;
        Ok(self.users.get(user as usize).cloned().unwrap_or_default())
    }

    fn read_items(&self, items: &[u32]) -> Result<Vec<Option<Record<ItemStats>>>, StoreError> {
        self.up()?;
        Ok(items.iter().map(|&i| self.items.get(i as usize).cloned().flatten()).collect())
    }

    fn read_popular(&self) -> Result<Option<Record<Vec<u32>>>, StoreError> {
        self.up()?;
        Ok(self.popular.clone())
    }
}

impl OnlineStore for MemoryStore {
    fn user(&mut self, user: u32) -> Result<UserRow, StoreError> {
        self.read_user(user)
    }

    fn items(&mut self, items: &[u32]) -> Result<Vec<Option<Record<ItemStats>>>, StoreError> {
        self.read_items(items)
    }

    fn popular(&mut self) -> Result<Option<Record<Vec<u32>>>, StoreError> {
        self.read_popular()
    }

    fn write_profile(&mut self, user: u32, value: Record<Arc<[f32]>>) -> Result<Write, StoreError> {
        self.up()?;
        Ok(match self.users.get_mut(user as usize) {
            Some(row) => put(&mut row.profile, value),
            None => Write::Stale,
        })
    }

    fn write_recent(&mut self, user: u32, value: Record<Vec<u32>>) -> Result<Write, StoreError> {
        self.up()?;
        Ok(match self.users.get_mut(user as usize) {
            Some(row) => put(&mut row.recent, value),
            None => Write::Stale,
        })
    }

    fn write_item(&mut self, item: u32, value: Record<ItemStats>) -> Result<Write, StoreError> {
        self.up()?;
        Ok(match self.items.get_mut(item as usize) {
            Some(slot) => put(slot, value),
            None => Write::Stale,
        })
    }

    fn write_popular(&mut self, value: Record<Vec<u32>>) -> Result<Write, StoreError> {
        self.up()?;
        Ok(put(&mut self.popular, value))
    }

    fn set_outage(&mut self, down: bool) {
        self.down = down;
    }
}

/// One in-process store shared by many handles: reads take a read lock, so requests read
/// concurrently; writes and outages take the write lock. A handle is cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct SharedStore(Arc<std::sync::RwLock<MemoryStore>>);

impl SharedStore {
    /// Shares `store`.
    pub fn new(store: MemoryStore) -> SharedStore {
        SharedStore(Arc::new(std::sync::RwLock::new(store)))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, MemoryStore> {
        self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, MemoryStore> {
        self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl OnlineStore for SharedStore {
    fn user(&mut self, user: u32) -> Result<UserRow, StoreError> {
        self.read().read_user(user)
    }

    fn items(&mut self, items: &[u32]) -> Result<Vec<Option<Record<ItemStats>>>, StoreError> {
        self.read().read_items(items)
    }

    fn popular(&mut self) -> Result<Option<Record<Vec<u32>>>, StoreError> {
        self.read().read_popular()
    }

    fn user_and_popular(&mut self, user: u32) -> Result<(UserRow, Option<Popular>), StoreError> {
        let store = self.read();
        Ok((store.read_user(user)?, store.read_popular()?))
    }

    fn write_profile(&mut self, user: u32, value: Record<Arc<[f32]>>) -> Result<Write, StoreError> {
        self.write().write_profile(user, value)
    }

    fn write_recent(&mut self, user: u32, value: Record<Vec<u32>>) -> Result<Write, StoreError> {
        self.write().write_recent(user, value)
    }

    fn write_item(&mut self, item: u32, value: Record<ItemStats>) -> Result<Write, StoreError> {
        self.write().write_item(item, value)
    }

    fn write_items(
        &mut self,
        values: Vec<(u32, Record<ItemStats>)>,
    ) -> Vec<Result<Write, StoreError>> {
        let mut store = self.write();
        values.into_iter().map(|(item, value)| store.write_item(item, value)).collect()
    }

    fn write_popular(&mut self, value: Record<Vec<u32>>) -> Result<Write, StoreError> {
        self.write().write_popular(value)
    }

    fn set_outage(&mut self, down: bool) {
        self.write().set_outage(down);
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap fails the test")]
mod tests {
    use super::*;

    #[test]
    fn writes_older_than_the_stored_timestamp_are_skipped() {
        let mut store = MemoryStore::new(2, 2);
        let rec = |items: Vec<u32>, ts: f64| Record { value: items, ts, fresh: ts };
        assert_eq!(store.write_recent(1, rec(vec![3], 10.0)).unwrap(), Write::Applied);
        assert_eq!(store.write_recent(1, rec(vec![4], 9.0)).unwrap(), Write::Stale);
        assert_eq!(store.write_recent(1, rec(vec![5], 10.0)).unwrap(), Write::Stale);
        assert_eq!(store.user(1).unwrap().recent.map(|r| r.value), Some(vec![3]));
        assert_eq!(store.write_recent(1, rec(vec![6], 11.0)).unwrap(), Write::Applied);
        assert_eq!(store.user(1).unwrap().recent.map(|r| r.value), Some(vec![6]));
        assert_eq!(store.user(0).unwrap(), UserRow::default());
        assert_eq!(store.write_recent(7, rec(vec![1], 1.0)).unwrap(), Write::Stale);
        let stats =
            Record { value: ItemStats { impressions: 3.0, clicks: 1.0 }, ts: 2.0, fresh: 2.0 };
        assert_eq!(store.write_item(1, stats.clone()).unwrap(), Write::Applied);
        assert_eq!(store.items(&[0, 1]).unwrap(), vec![None, Some(stats)]);
    }

    #[test]
    fn an_outage_refuses_every_call_until_it_ends() {
        let mut store = MemoryStore::new(1, 1);
        store.set_outage(true);
        assert!(store.user(0).is_err() && store.popular().is_err() && store.items(&[0]).is_err());
        let rec = Record { value: vec![0], ts: 1.0, fresh: 1.0 };
        assert!(store.write_recent(0, rec.clone()).is_err());
        store.set_outage(false);
        assert_eq!(store.write_recent(0, rec).unwrap(), Write::Applied);
        assert_eq!(store.user(0).unwrap().recent.map(|r| r.value), Some(vec![0]));
    }

    #[test]
    fn shared_handles_see_one_store() {
        let mut writer = SharedStore::new(MemoryStore::new(2, 1));
        let mut reader = writer.clone();
        let rec = Record { value: vec![1], ts: 1.0, fresh: 1.0 };
        assert_eq!(writer.write_recent(1, rec.clone()).unwrap(), Write::Applied);
        assert_eq!(reader.user(1).unwrap().recent, Some(rec));
        writer.set_outage(true);
        assert!(reader.user_and_popular(1).is_err());
    }
}
