//! What a complaint's views show besides its own row (clocks, pauses, assignments, extension
//! requests, the audit trail, files), kept per complaint and row version, so that a tracking
//! page or a staff view reads one row instead of eight tables.
//!
//! Why a version is enough: every change to a complaint takes its lock, which bumps the row's
//! `version` in the change's transaction (`store::lock`, the sweeper's lock), and versions only
//! grow. An entry read at version v is right exactly while the stored version is v; the reader
//! compares with the version of the row it has just read, so instances sharing one database
//! never serve an entry another instance's change made stale. An entry is kept only when the
//! version did not move while it was read (`service::load_viewed`).

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use lru::LruCache;

use super::attachments::AttachmentRow;
use super::events::EventRow;
use super::store::{AssignmentRow, ClockRow, ExtensionRow, PauseRow};
use crate::ids::ComplaintId;

/// What a complaint's views show besides its row; it changes only with the row's version.
pub struct Related {
    pub clock: ClockRow,
    pub pauses: Vec<PauseRow>,
    /// Clocks of other kinds, each with its pauses.
    pub other_clocks: Vec<(ClockRow, Vec<PauseRow>)>,
    pub assignments: Vec<AssignmentRow>,
    pub extensions: Vec<ExtensionRow>,
    pub events: Vec<EventRow>,
    pub attachments: Vec<AttachmentRow>,
}

/// How many complaints' entries an instance keeps (each a few kilobytes: the trail and the
/// clocks of one complaint); the least recently read go first.
pub const CACHED_COMPLAINTS: usize = 2048;

pub struct RelatedCache {
    entries: Mutex<LruCache<ComplaintId, (i32, Arc<Related>)>>,
}

impl RelatedCache {
    pub fn new(capacity: usize) -> RelatedCache {
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        RelatedCache { entries: Mutex::new(LruCache::new(capacity)) }
    }

    /// The entry of `id` read at `version`, if kept.
    pub fn get(&self, id: &ComplaintId, version: i32) -> Option<Arc<Related>> {
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match entries.get(id) {
            Some((v, related)) if *v == version => Some(related.clone()),
            _ => None,
        }
    }

    pub fn put(&self, id: ComplaintId, version: i32, related: Arc<Related>) {
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // A slower reader of an older version must not replace a newer entry.
        if entries.peek(&id).is_some_and(|(v, _)| *v > version) {
            return;
        }
        entries.put(id, (version, related));
    }

    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for RelatedCache {
    fn default() -> Self {
        RelatedCache::new(CACHED_COMPLAINTS)
    }
}
