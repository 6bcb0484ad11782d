//! The contents of every table, as the consolidated result of all writes so far.
//!
//! Writes are applied here and sent to the workers at the same timestamp, inside the
//! coordinator's critical section, so UPDATE and DELETE read exactly the state they change.
//! (The durable, replayable log of timestamped updates builds on this; see the log issue.)

use std::collections::HashMap;

use crate::repr::{Diff, GlobalId, Row};

#[derive(Default)]
pub struct TableStore {
    tables: HashMap<GlobalId, HashMap<Row, Diff>>,
}

impl TableStore {
    pub fn create(&mut self, id: GlobalId) {
        self.tables.entry(id).or_default();
    }

    pub fn drop_table(&mut self, id: GlobalId) {
        self.tables.remove(&id);
    }

    /// The table's rows with their multiplicities.
    pub fn contents(&self, id: GlobalId) -> Vec<(Row, Diff)> {
        self.tables
            .get(&id)
            .map(|t| t.iter().map(|(r, d)| (r.clone(), *d)).collect())
            .unwrap_or_default()
    }

    pub fn apply(&mut self, id: GlobalId, updates: &[(Row, Diff)]) {
        let table = self.tables.entry(id).or_default();
        for (row, diff) in updates {
            // Look up before cloning: most updates of a growing table are new rows, but a
            // retraction must not pay for a clone it then throws away.
            match table.get_mut(row) {
                Some(count) => {
                    *count += diff;
                    if *count == 0 {
                        table.remove(row);
                    }
                }
                None => {
                    table.insert(row.clone(), *diff);
                }
            }
        }
    }
}
