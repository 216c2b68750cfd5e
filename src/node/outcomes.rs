//! The recent outcomes of spores this node saw resolve, so `SPORE.STATUS` can answer after the
//! engine forgot a record (it keeps records only for their retention period). Bounded: the
//! oldest entries go first.

use std::collections::{HashMap, VecDeque};

use crate::spore::SporeId;

/// How a spore ended at this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Committed,
    Applied,
    Dropped(String),
}

/// A bounded map of outcomes. Hashed, not ordered: it is only looked up (one insert per spore
/// on the driver's hot path; a B-tree of 100 000 random ids cost a cache miss per level).
pub struct RecentOutcomes {
    map: HashMap<SporeId, Outcome>,
    order: VecDeque<SporeId>,
    capacity: usize,
}

impl RecentOutcomes {
    pub fn new(capacity: usize) -> RecentOutcomes {
        RecentOutcomes {
            map: HashMap::with_capacity(capacity.min(1 << 17)),
            order: VecDeque::new(),
            capacity,
        }
    }

    pub fn set(&mut self, id: SporeId, outcome: Outcome) {
        if self.map.insert(id, outcome).is_none() {
            self.order.push_back(id);
            while self.order.len() > self.capacity {
                if let Some(old) = self.order.pop_front() {
                    self.map.remove(&old);
                }
            }
        }
    }

    pub fn get(&self, id: &SporeId) -> Option<&Outcome> {
        self.map.get(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_updatable() {
        let mut o = RecentOutcomes::new(2);
        let id = |b: u8| SporeId([b; 32]);
        o.set(id(1), Outcome::Committed);
        o.set(id(1), Outcome::Applied);
        o.set(id(2), Outcome::Dropped("x".into()));
        assert_eq!(o.get(&id(1)), Some(&Outcome::Applied));
        o.set(id(3), Outcome::Committed);
        assert_eq!(o.get(&id(1)), None);
        assert_eq!(o.get(&id(2)), Some(&Outcome::Dropped("x".into())));
    }
}
