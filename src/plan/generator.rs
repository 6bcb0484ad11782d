//! `CREATE SOURCE ... FROM LOAD GENERATOR`: the relations a generator fills and their names.

use super::error::{PlanError, PlanResult};
use super::statement::{new_item_name, Plan};
use super::PlanContext;
use crate::catalog::QualifiedName;
use crate::parse::CreateGenerator;
use crate::source::generator::{GeneratorSpec, Output};

/// A load generator to create: its relations, the owner first (which holds the generator:
/// the progress relation under `FOR ALL TABLES`, else the only output).
#[derive(Clone, Debug)]
pub struct CreateGeneratorPlan {
    pub relations: Vec<(QualifiedName, Output)>,
    pub if_not_exists: bool,
    /// Seed and start as the statement gives them; the coordinator fills in what it leaves out.
    pub spec: GeneratorSpec,
    pub statement: CreateGenerator,
}

pub(super) fn plan_create_generator(pcx: &PlanContext, g: &CreateGenerator) -> PlanResult<Plan> {
    let name = new_item_name(pcx, &g.name)?;
    let outputs = GeneratorSpec::outputs_of(g.generator);
    let relations = if g.for_all_tables {
        let mut r = vec![(name.clone(), Output::Progress)];
        for o in outputs {
            let item = QualifiedName {
                item: o.name().to_string(),
                ..name.clone()
            };
            r.push((item, *o));
        }
        r
    } else if let [only] = outputs {
        vec![(name, *only)]
    } else {
        let names: Vec<&str> = outputs.iter().map(|o| o.name()).collect();
        return Err(PlanError::Syntax(format!(
            "LOAD GENERATOR {} fills several relations ({}): add FOR ALL TABLES to create them",
            g.generator.name(),
            names.join(", ")
        )));
    };
    let start_ms = match &g.start_time {
        None => 0,
        Some(text) => GeneratorSpec::parse_start_time(text).ok_or_else(|| {
            PlanError::InvalidParameter(format!("START TIME '{text}' is not a timestamp"))
        })?,
    };
    Ok(Plan::CreateGenerator(Box::new(CreateGeneratorPlan {
        relations,
        if_not_exists: g.if_not_exists,
        spec: GeneratorSpec {
            generator: g.generator,
            rate: g.rate,
            seed: g.seed.unwrap_or(0),
            start_ms,
            up_to: g.up_to,
            population: g
                .population
                .unwrap_or_else(|| GeneratorSpec::default_population(g.generator)),
        },
        statement: g.clone(),
    })))
}
