//! The capability held by an operator that releases updates later than they arrive (closing
//! windows, joins that wait for their other input): the earliest time it may still release at.

use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::operators::Capability;

use crate::repr::Timestamp;

#[derive(Default)]
pub(super) struct Held(Option<Capability<Timestamp>>);

impl Held {
    /// Keeps `c` if it is earlier than the capability held.
    pub(super) fn offer(&mut self, c: Capability<Timestamp>) {
        if self.0.as_ref().is_none_or(|held| c.time() < held.time()) {
            self.0 = Some(c);
        }
    }

    /// The time held, if any.
    pub(super) fn time(&self) -> Option<Timestamp> {
        self.0.as_ref().map(|c| *c.time())
    }

    /// Sends `updates`, whose times are not before the one held.
    pub(super) fn give<D: Clone + 'static>(
        &self,
        output: &mut OutputBuilder<Timestamp, CapacityContainerBuilder<Vec<D>>>,
        updates: Vec<D>,
    ) {
        if let (Some(held), false) = (&self.0, updates.is_empty()) {
            let mut activated = output.activate();
            let mut session = activated.session(held);
            for update in updates {
                session.give(update);
            }
        }
    }

    /// Holds `next` instead, the earliest time anything may still be released at (None:
    /// nothing will be).
    pub(super) fn release_to(&mut self, next: Option<Timestamp>) {
        match (next, &mut self.0) {
            (None, _) => self.0 = None,
            (Some(n), Some(held)) if n > *held.time() => held.downgrade(&n),
            _ => {}
        }
    }
}
