//! A client of a Confluent schema registry (its documented REST API): the latest schema of a
//! subject when a source is created, and writers' schemas by the id each record is framed with.

use std::time::Duration;

use crate::error::SqlError;
use crate::parse::Statement;

/// Registries answer in a few milliseconds; a stuck one must not hold a source for long.
const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct Registry {
    url: String,
    agent: ureq::Agent,
}

impl Registry {
    pub fn new(url: &str) -> Registry {
        Registry {
            url: url.trim_end_matches('/').to_string(),
            agent: ureq::AgentBuilder::new().timeout(TIMEOUT).build(),
        }
    }

    /// The subject's latest schema: its id and text (`GET /subjects/{subject}/versions/latest`).
    pub fn latest(&self, subject: &str) -> Result<(u32, String), String> {
        let body = self
            .get(&format!("/subjects/{subject}/versions/latest"))
            .map_err(Failure::into_message)?;
        let id = body.get("id").and_then(|i| i.as_u64()).unwrap_or(0) as u32;
        Ok((id, avro_text(&body)?))
    }

    /// A schema by id (`GET /schemas/ids/{id}`).
    pub fn schema(&self, id: u32) -> Result<String, Failure> {
        avro_text(&self.get(&format!("/schemas/ids/{id}"))?).map_err(Failure::Answered)
    }

    fn get(&self, path: &str) -> Result<serde_json::Value, Failure> {
        let url = format!("{}{path}", self.url);
        let response = self
            .agent
            .get(&url)
            .set("Accept", "application/vnd.schemaregistry.v1+json")
            .call()
            .map_err(|e| match e {
                ureq::Error::Status(code, r) => {
                    let message = r
                        .into_json::<serde_json::Value>()
                        .ok()
                        .and_then(|b| b.get("message")?.as_str().map(String::from))
                        .unwrap_or_default();
                    Failure::Answered(format!(
                        "the schema registry answered {code} to GET {url}: {message}"
                    ))
                }
                other => Failure::Unreachable(format!(
                    "cannot reach the schema registry at {}: {other}",
                    self.url
                )),
            })?;
        response.into_json().map_err(|e| {
            Failure::Answered(format!(
                "the schema registry's answer to GET {url} is not JSON: {e}"
            ))
        })
    }
}

/// Why the registry gave no schema: it answered so (and will answer so again), or it could not
/// be asked (it may answer later).
pub enum Failure {
    Answered(String),
    Unreachable(String),
}

impl Failure {
    pub fn into_message(self) -> String {
        match self {
            Failure::Answered(m) | Failure::Unreachable(m) => m,
        }
    }
}

/// `CREATE SOURCE ... AVRO USING CONFLUENT SCHEMA REGISTRY 'url'` without a schema: the
/// statement with the subject's (`<topic>-value`) latest schema filled in, which the catalog
/// then keeps (a restart does not ask the registry). Any other statement as it is. This blocks
/// on the registry: the server calls it once per statement text, off its async threads.
pub fn with_latest_schema(stmt: Statement) -> Result<Statement, SqlError> {
    let Statement::CreateSource(cs) = &stmt else {
        return Ok(stmt);
    };
    let (Some(url), None) = (&cs.registry, &cs.avro_schema) else {
        return Ok(stmt);
    };
    let subject = format!("{}-value", cs.topic);
    let (id, schema) = Registry::new(url).latest(&subject).map_err(|e| {
        SqlError::new(
            "58000",
            format!("cannot read the schema of subject \"{subject}\": {e}"),
        )
    })?;
    tracing::info!(
        "source {} reads subject {subject} with schema id {id} from {url}",
        cs.name
    );
    let mut cs = cs.clone();
    cs.avro_schema = Some(schema);
    Ok(Statement::CreateSource(cs))
}

/// Whether the statement is a `CREATE SOURCE` whose schema must be fetched from a registry.
fn asks_registry(stmt: &Statement) -> bool {
    matches!(stmt, Statement::CreateSource(cs) if cs.registry.is_some() && cs.avro_schema.is_none())
}

/// [`with_latest_schema`] on a blocking thread, for the server's async tasks; any statement
/// that asks no registry is returned at once, without the hop to another thread.
pub async fn with_latest_schema_async(stmt: Statement) -> Result<Statement, SqlError> {
    if !asks_registry(&stmt) {
        return Ok(stmt);
    }
    tokio::task::spawn_blocking(move || with_latest_schema(stmt))
        .await
        .map_err(|e| SqlError::internal(format!("fetching a registry schema: {e}")))?
}

/// The schema text of a registry answer, which must be Avro (`schemaType` absent or AVRO).
fn avro_text(body: &serde_json::Value) -> Result<String, String> {
    match body.get("schemaType").and_then(|t| t.as_str()) {
        None | Some("AVRO") => {}
        Some(other) => return Err(format!("the registry's schema is {other}, not Avro")),
    }
    body.get("schema")
        .and_then(|s| s.as_str())
        .map(String::from)
        .ok_or_else(|| "the schema registry's answer has no schema".into())
}
