//! The shape of a statement's result, known before it runs: RowDescription fields.

use pgwire::messages::data::FieldDescription;

use crate::coord::show;
use crate::plan::Plan;
use crate::repr::{ColumnType, RelationDesc, ScalarType};

/// The columns a plan returns, or `None` for commands without rows.
pub fn plan_desc(plan: &Plan) -> Option<RelationDesc> {
    match plan {
        Plan::Select(s) => Some(s.desc.clone()),
        Plan::Subscribe { plan, progress, .. } => Some(subscribe_desc(&plan.desc, *progress)),
        Plan::Show(kind) => Some(show::desc(kind)),
        Plan::ShowVariable(name) => Some(RelationDesc::new(
            vec![name.clone()],
            vec![ColumnType::new(ScalarType::Text, false)],
        )),
        Plan::Explain(_) => Some(RelationDesc::new(
            vec!["Optimized Plan".into()],
            vec![ColumnType::new(ScalarType::Text, false)],
        )),
        Plan::Fetch { .. } => None,
        _ => None,
    }
}

/// A subscription's columns: `mz_timestamp`, `mz_progressed` (with PROGRESS), `mz_diff`, then the
/// relation's own, as in Materialize.
pub fn subscribe_desc(desc: &RelationDesc, progress: bool) -> RelationDesc {
    let mut names = vec!["mz_timestamp".to_string()];
    let mut types = vec![ColumnType::new(ScalarType::Numeric, false)];
    if progress {
        names.push("mz_progressed".into());
        types.push(ColumnType::new(ScalarType::Bool, false));
    }
    names.push("mz_diff".into());
    types.push(ColumnType::new(ScalarType::Int64, true));
    names.extend(desc.names.iter().cloned());
    types.extend(desc.types.iter().map(|t| ColumnType::new(t.scalar, true)));
    RelationDesc::new(names, types)
}

/// The format (0 text, 1 binary) of column `i` given Bind's result format codes.
pub fn format_of(formats: &[i16], i: usize) -> i16 {
    match formats {
        [] => 0,
        [one] => *one,
        many => many.get(i).copied().unwrap_or(0),
    }
}

pub fn fields(desc: &RelationDesc, formats: &[i16]) -> Vec<FieldDescription> {
    desc.names
        .iter()
        .zip(&desc.types)
        .enumerate()
        .map(|(i, (name, t))| {
            let scalar = if t.scalar == ScalarType::Unknown {
                ScalarType::Text
            } else {
                t.scalar
            };
            FieldDescription::new(
                name.clone(),
                0,
                0,
                scalar.oid(),
                scalar.typlen(),
                -1,
                format_of(formats, i),
            )
        })
        .collect()
}
