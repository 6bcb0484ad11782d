//! `COPY t [(cols)] FROM STDIN` and `COPY t | (query) TO STDOUT`, in Postgres' text and CSV
//! formats. The rows themselves travel in the protocol's CopyData messages; the server decodes
//! and encodes them (`server::copy`) with the format planned here.

use sqlparser::ast::{self, CopyLegacyCsvOption, CopyLegacyOption, CopyOption, CopySource};

use super::error::{unsupported, PlanError, PlanResult};
use super::from::resolve_relation;
use super::query::Finishing;
use super::statement::{object_name, plan_select_query, SelectPlan};
use super::write::{target_columns, target_table};
use super::PlanContext;
use crate::parse::normalize_ident;
use crate::repr::{GlobalId, RelationDesc};

/// How rows are laid out in a COPY stream.
#[derive(Clone, Debug, PartialEq)]
pub struct CopyFormat {
    pub csv: bool,
    pub delimiter: u8,
    /// The text that stands for NULL (`\N` in text format, an unquoted empty field in CSV).
    pub null: String,
    /// CSV only: the first line names the columns.
    pub header: bool,
    pub quote: u8,
    pub escape: u8,
}

impl CopyFormat {
    /// Postgres' default: tab-separated, `\N` for NULL, backslash escapes.
    pub fn text() -> Self {
        CopyFormat {
            csv: false,
            delimiter: b'\t',
            null: "\\N".into(),
            header: false,
            quote: b'"',
            escape: b'"',
        }
    }

    /// CSV with a header line, as `COPY ... WITH (FORMAT csv, HEADER)` writes it.
    pub fn csv_with_header() -> Self {
        let mut f = CopyFormat::text();
        f.make_csv();
        f.header = true;
        f
    }

    fn make_csv(&mut self) {
        if !self.csv {
            self.csv = true;
            self.delimiter = b',';
            self.null = String::new();
        }
    }
}

#[derive(Clone, Debug)]
pub enum CopyPlan {
    /// Rows arrive from the client; `columns` are the table columns they fill, in order (the
    /// others are NULL).
    From {
        id: GlobalId,
        desc: RelationDesc,
        columns: Vec<usize>,
        format: CopyFormat,
    },
    /// Rows of a query (or a whole table) go to the client.
    To {
        plan: SelectPlan,
        format: CopyFormat,
    },
}

pub fn plan_copy(
    pcx: &PlanContext,
    source: &CopySource,
    to: bool,
    target: &ast::CopyTarget,
    options: &[CopyOption],
    legacy: &[CopyLegacyOption],
) -> PlanResult<CopyPlan> {
    match (to, target) {
        (false, ast::CopyTarget::Stdin) | (true, ast::CopyTarget::Stdout) => {}
        _ => {
            return unsupported(
                "COPY to or from a server-side file or program (FROM STDIN and TO STDOUT are; \
                 psql's \\copy uses them)",
            )
        }
    }
    let format = copy_format(options, legacy)?;
    match source {
        CopySource::Table {
            table_name,
            columns,
        } => {
            let names: Vec<String> = columns.iter().map(normalize_ident).collect();
            if to {
                let (expr, all_names) = resolve_relation(pcx, &object_name(table_name))?;
                let types = expr.typ();
                let scope = super::scope::Scope::from_names(None, &all_names);
                let project = if names.is_empty() {
                    (0..all_names.len()).collect()
                } else {
                    names
                        .iter()
                        .map(|n| scope.resolve(None, n))
                        .collect::<Result<Vec<_>, _>>()?
                };
                let desc = RelationDesc::new(
                    project.iter().map(|i| all_names[*i].clone()).collect(),
                    project.iter().map(|i| types[*i].clone()).collect(),
                );
                let plan = SelectPlan {
                    expr,
                    desc,
                    finishing: Finishing {
                        project,
                        ..Default::default()
                    },
                    as_of: None,
                };
                return Ok(CopyPlan::To { plan, format });
            }
            let table = target_table(pcx, table_name)?;
            let columns = target_columns(table, &names)?;
            Ok(CopyPlan::From {
                id: table.id,
                desc: table.desc.clone(),
                columns,
                format,
            })
        }
        CopySource::Query(q) if to => Ok(CopyPlan::To {
            plan: plan_select_query(pcx, q)?,
            format,
        }),
        CopySource::Query(_) => Err(PlanError::Syntax(
            "COPY FROM needs a table, not a query".into(),
        )),
    }
}

fn copy_format(options: &[CopyOption], legacy: &[CopyLegacyOption]) -> PlanResult<CopyFormat> {
    let mut f = CopyFormat::text();
    let mut null = None;
    let mut delimiter = None;
    let one_byte = |c: char, what: &str| -> PlanResult<u8> {
        if c.is_ascii() {
            Ok(c as u8)
        } else {
            Err(PlanError::InvalidParameter(format!(
                "COPY {what} must be a single one-byte character"
            )))
        }
    };
    for o in options {
        match o {
            CopyOption::Format(name) => match normalize_ident(name).as_str() {
                "text" => {}
                "csv" => f.make_csv(),
                "binary" => return unsupported("COPY in binary format"),
                other => {
                    return Err(PlanError::InvalidParameter(format!(
                        "COPY format \"{other}\" not recognized"
                    )))
                }
            },
            CopyOption::Delimiter(c) => delimiter = Some(one_byte(*c, "delimiter")?),
            CopyOption::Null(s) => null = Some(s.clone()),
            CopyOption::Header(h) => f.header = *h,
            CopyOption::Quote(c) => f.quote = one_byte(*c, "quote")?,
            CopyOption::Escape(c) => f.escape = one_byte(*c, "escape")?,
            CopyOption::Encoding(e) if e.eq_ignore_ascii_case("utf8") => {}
            CopyOption::Freeze(_) => {}
            other => return unsupported(format!("COPY option {other}")),
        }
    }
    for o in legacy {
        match o {
            CopyLegacyOption::Csv(csv) => {
                f.make_csv();
                for c in csv {
                    match c {
                        CopyLegacyCsvOption::Header => f.header = true,
                        CopyLegacyCsvOption::Quote(q) => f.quote = one_byte(*q, "quote")?,
                        CopyLegacyCsvOption::Escape(e) => f.escape = one_byte(*e, "escape")?,
                        other => return unsupported(format!("COPY option {other}")),
                    }
                }
            }
            CopyLegacyOption::Delimiter(c) => delimiter = Some(one_byte(*c, "delimiter")?),
            CopyLegacyOption::Null(s) => null = Some(s.clone()),
            CopyLegacyOption::Header => f.header = true,
            other => return unsupported(format!("COPY option {other}")),
        }
    }
    if let Some(d) = delimiter {
        f.delimiter = d;
    }
    if let Some(n) = null {
        f.null = n;
    }
    if f.header && !f.csv {
        return unsupported("COPY HEADER in text format (use FORMAT csv)");
    }
    if matches!(f.delimiter, b'\n' | b'\r' | b'\\') || (f.csv && f.delimiter == f.quote) {
        return Err(PlanError::InvalidParameter(
            "COPY delimiter cannot be newline, carriage return, backslash or the quote".into(),
        ));
    }
    Ok(f)
}
